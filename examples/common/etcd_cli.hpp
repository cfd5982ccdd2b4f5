#ifndef FCS_EXAMPLES_ETCD_CLI_HPP
#define FCS_EXAMPLES_ETCD_CLI_HPP

// The etcd connection options both example programs take with --storage etcd(s)://...: the
// TLS files and the v3 user. The password comes from a file, the environment or standard
// input (password_input.hpp), never from the command line.

#include "cli.hpp"
#include "password_input.hpp"

#include <fcs/storage/etcd.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::examples {

/// The largest client key file accepted (a PEM RSA-4096 key is about 3.3 KB).
inline constexpr std::size_t max_client_key_bytes = 64 * 1024;

/// The help group the etcd connection options are listed in.
inline const std::string etcd_connection_group = "How to reach etcd (with --storage etcd(s)://...)";

/// What the etcd connection options say.
struct etcd_connection_args {
    std::string ca, cert, key, user;
    password_source password{"etcd-", {}, {}, false};
};

/// Adds --etcd-ca, --etcd-cert, --etcd-key, --etcd-user and the --etcd-password-* options.
inline void add_etcd_connection_options(CLI::App& app, etcd_connection_args& a) {
    const auto& g = etcd_connection_group;
    cli::value(app, "--etcd-ca", a.ca, "FILE",
               "etcds:// only: the CA that signed etcd's certificate (PEM; default:\n"
               "the system's CAs); etcd's certificate must name the host as written")
        ->group(g);
    cli::value(app, "--etcd-cert", a.cert, "FILE",
               "etcds:// only: this server's client certificate and its key (PEM,\n"
               "not password-protected; the key file mode 0600), for an etcd run\n"
               "with --client-cert-auth")
        ->group(g);
    cli::value(app, "--etcd-key", a.key, "FILE", "the client certificate's key (see --etcd-cert)")
        ->group(g);
    cli::value(app, "--etcd-user", a.user, "NAME",
               "etcd's v3 authentication: the user (its role needs readwrite on\nPREFIX/)")
        ->group(g);
    add_password_options(app, a.password, "the etcd user's password", g);
}

/// The option names of add_etcd_connection_options(), in the order they are listed.
inline constexpr std::string_view etcd_connection_options[] = {"--etcd-ca",
                                                               "--etcd-cert",
                                                               "--etcd-key",
                                                               "--etcd-user",
                                                               "--etcd-password-file",
                                                               "--etcd-password-env",
                                                               "--etcd-password-stdin"};

/// The etcd connection options' help, for a program's general help.
inline std::string etcd_connection_help() {
    CLI::App tmp;
    etcd_connection_args unused;
    add_etcd_connection_options(tmp, unused);
    cli::help_formatter f;
    std::string out;
    for (auto name : etcd_connection_options)
        out += f.make_option(tmp.get_option(std::string(name)), false);
    return out;
}

/**
 * Applies the etcd connection options (`a`; `options`: those given) to `o`. Returns a usage
 * message for misuse (a TLS file without etcds://, a password without a user, half a client
 * certificate, two password sources), or nullopt when all is well. The client key file is
 * checked here like the key-encryption key (a regular file, no symbolic link, readable by its
 * owner only, owned by this user); the password is read here (password_input.hpp) when every
 * endpoint is https://: over http:// the storage refuses a user before any password is read.
 * @throws fcs::error naming the client key file or the password's source when it fails.
 */
inline std::optional<std::string> apply_etcd_connection(storage::etcd_options& o,
                                                        const etcd_connection_args& a,
                                                        const cli::given_set& options) {
    auto given = [&](std::string_view name) { return options.contains(name); };
    const bool tls = !o.endpoints.empty() && o.endpoints.front().starts_with("https://");
    for (auto name : {"--etcd-ca", "--etcd-cert", "--etcd-key"})
        if (given(name) && !tls)
            return std::string(name) + " is for --storage etcds://... (etcd over TLS)";
    if (given("--etcd-cert") != given("--etcd-key"))
        return std::string("--etcd-cert and --etcd-key go together");
    if (auto two = password_source_problem(a.password))
        return two;
    const bool user = given("--etcd-user");
    if (user != a.password.given())
        return user ? "--etcd-user needs --etcd-password-file FILE (or " +
                          a.password.option("env") + " VAR, " + a.password.option("stdin") + ")"
                    : a.password.options() + " need --etcd-user NAME";
    if (given("--etcd-ca"))
        o.ca_file = a.ca;
    if (given("--etcd-cert")) {
        // Only the check: the storage loads the key itself. The bytes read are cleansed.
        (void)read_secret_file(a.key, "check etcd client key", max_client_key_bytes);
        o.cert_file = a.cert;
        o.key_file = a.key;
    }
    if (user) {
        o.user = a.user;
        const bool all_tls = std::all_of(o.endpoints.begin(), o.endpoints.end(),
                                         [](auto& e) { return e.starts_with("https://"); });
        if (all_tls) {
            auto pw = read_password(a.password, "load etcd password");
            if (pw->empty())
                throw error(errc::invalid_argument, a.password.shown(), "load etcd password",
                            "holds no password (its first line is empty)");
            o.password = std::move(*pw);
        }
        // Otherwise the storage refuses the user over http:// before wanting a password.
    }
    return std::nullopt;
}

/// A usage message when an etcd connection option is given without --storage etcd(s)://...
inline std::optional<std::string> etcd_connection_without_etcd(const cli::given_set& options) {
    for (auto name : etcd_connection_options)
        if (options.contains(name))
            return std::string(name) + " is for --storage etcd://... or etcds://...";
    return std::nullopt;
}

} // namespace fcs::examples

#endif // FCS_EXAMPLES_ETCD_CLI_HPP
