#ifndef FCS_EXAMPLES_ETCD_CLI_HPP
#define FCS_EXAMPLES_ETCD_CLI_HPP

// The etcd connection options both example programs take with --storage etcd(s)://...: the
// TLS files and the v3 user. The password comes from a file (never from the command line).

#include <fcs/storage/etcd.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::examples {

/// The largest client key file accepted (a PEM RSA-4096 key is about 3.3 KB).
inline constexpr std::size_t max_client_key_bytes = 64 * 1024;

/// The option names, without their leading "--".
inline const std::vector<std::string> etcd_connection_options = {"etcd-ca", "etcd-cert", "etcd-key",
                                                                 "etcd-user", "etcd-password-file"};

/// The help lines for them: a string literal, so a command's help text can splice it in.
#define FCS_ETCD_CONNECTION_HELP                                                                   \
    "  --etcd-ca FILE         etcds:// only: the CA that signed etcd's certificate (PEM; "         \
    "default:\n"                                                                                   \
    "                         the system's CAs); etcd's certificate must name the host as "        \
    "written\n"                                                                                    \
    "  --etcd-cert FILE       etcds:// only: this server's client certificate and its key (PEM,\n" \
    "  --etcd-key FILE        not password-protected; the key file mode 0600), for an etcd run\n"  \
    "                         with --client-cert-auth\n"                                           \
    "  --etcd-user NAME       etcd's v3 authentication: the user (its role needs readwrite on\n"   \
    "                         PREFIX/)\n"                                                          \
    "  --etcd-password-file FILE\n"                                                                \
    "                         the user's password: the first line of FILE (mode 0600); "           \
    "passwords\n"                                                                                  \
    "                         are never taken on the command line\n"

/**
 * Applies the etcd connection options to `o`. `value(name)` returns an option's value or
 * nullopt. Returns a usage message for misuse (a TLS file without etcds://, a password without
 * a user, half a client certificate), or nullopt when all is well. The client key file is
 * checked here like the key-encryption key (a regular file, no symbolic link, readable by its
 * owner only, owned by this user); the password file is checked the same way when the storage
 * is built, which reads it.
 * @throws fcs::error naming the client key file when it fails that check.
 */
inline std::optional<std::string>
apply_etcd_connection(storage::etcd_options& o,
                      const std::function<std::optional<std::string>(std::string_view)>& value) {
    const bool tls = !o.endpoints.empty() && o.endpoints.front().starts_with("https://");
    for (auto name : {"etcd-ca", "etcd-cert", "etcd-key"})
        if (value(name) && !tls)
            return "--" + std::string(name) + " is for --storage etcds://... (etcd over TLS)";
    auto ca = value("etcd-ca"), cert = value("etcd-cert"), key = value("etcd-key");
    if (cert.has_value() != key.has_value())
        return std::string("--etcd-cert and --etcd-key go together");
    auto user = value("etcd-user"), password_file = value("etcd-password-file");
    if (user.has_value() != password_file.has_value())
        return std::string(user ? "--etcd-user needs --etcd-password-file FILE"
                                : "--etcd-password-file needs --etcd-user NAME");
    if (ca)
        o.ca_file = *ca;
    if (cert) {
        // Only the check: the storage loads the key itself. The bytes read are cleansed.
        (void)storage::etcd_detail::read_private_file(*key, "check etcd client key",
                                                      max_client_key_bytes);
        o.cert_file = *cert;
        o.key_file = *key;
    }
    if (user) {
        o.user = *user;
        o.password_file = *password_file;
    }
    return std::nullopt;
}

/// A usage message when an etcd connection option is given without --storage etcd(s)://...
inline std::optional<std::string>
etcd_connection_without_etcd(const std::function<bool(std::string_view)>& given) {
    for (auto& name : etcd_connection_options)
        if (given(name))
            return "--" + name + " is for --storage etcd://... or etcds://...";
    return std::nullopt;
}

} // namespace fcs::examples

#endif // FCS_EXAMPLES_ETCD_CLI_HPP
