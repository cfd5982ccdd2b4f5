#ifndef FCS_STORAGE_ETCD_OPTIONS_HPP
#define FCS_STORAGE_ETCD_OPTIONS_HPP

// What the etcd storage needs to know: endpoints, prefix, key-encryption key, TLS files,
// authentication, time limits (public).

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage {

/// How to reach etcd and protect what is stored there.
struct etcd_options {
    /// Gateway endpoints, "http://HOST:PORT" or "https://HOST:PORT" ("HOST:PORT" means http).
    /// Requests go to the last endpoint that answered and fail over to the others in turn.
    std::vector<std::string> endpoints;
    /// Key prefix: slot NAME is stored at PREFIX/slots/NAME, replaced bundles at
    /// PREFIX/archive/NAME/TAG, the key-encryption key check at PREFIX/kek-check.
    std::string prefix = "/fcs";
    /// 32-byte key-encryption key (raw, or base64 on one line), a regular file readable by its
    /// owner only (0600 or 0400). The private key and ticket keys are encrypted with it
    /// (AES-256-GCM) before they leave the node.
    std::filesystem::path kek_file;
    /// For https endpoints: the CA that signed etcd's certificate (empty: the system's), and
    /// the client certificate and key when etcd requires client certificates.
    std::filesystem::path ca_file, cert_file, key_file;
    /// etcd authentication (v3 auth): empty user means none. The password is `password`, or
    /// when that is empty the first line of `password_file` (a regular file readable by its
    /// owner only, at most 4 KiB; read when the storage is built, never logged).
    std::string user;
    secret_bytes password;
    std::filesystem::path password_file;
    /// One attempt at one endpoint (connect, send, answer).
    std::chrono::milliseconds request_timeout{3000};
    /// All attempts of one operation (failover, a leader election): after it, errc::unavailable.
    std::chrono::milliseconds operation_timeout{12000};
    /// Largest stored bundle (etcd's own request limit is 1.5 MiB).
    std::size_t max_value_size = 1u << 20;
    /// Where this node keeps the highest bundle generation it has accepted per slot, so that
    /// after a restart it still refuses an older bundle copied back into etcd (a rollback to
    /// an old key). Empty: the KEK file's path with ".generations" appended. The file is
    /// written like the KEK (0600, replaced atomically); when it cannot be written the
    /// generations are kept in memory only and open() says so.
    std::filesystem::path generations_file;

    /**
     * Parses "etcd://HOST:PORT[,HOST:PORT...]/PREFIX" (http) or "etcds://..." (https).
     * @throws fcs::error(errc::invalid_argument) naming the URL.
     */
    static etcd_options from_url(std::string_view url) {
        etcd_options o;
        std::string scheme;
        if (url.starts_with("etcd://"))
            scheme = "http://";
        else if (url.starts_with("etcds://"))
            scheme = "https://";
        else
            throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                        "expected etcd://HOST:PORT[,HOST:PORT...]/PREFIX or etcds://...");
        auto rest = url.substr(url.find("://") + 3);
        auto slash = rest.find('/');
        auto hosts = rest.substr(0, slash);
        o.prefix = slash == std::string_view::npos ? "/fcs" : std::string(rest.substr(slash));
        while (!hosts.empty()) {
            auto comma = hosts.find(',');
            auto h = hosts.substr(0, comma);
            if (h.empty() || h.find(':') == std::string_view::npos)
                throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                            "each endpoint must be HOST:PORT");
            o.endpoints.push_back(scheme + std::string(h));
            hosts = comma == std::string_view::npos ? std::string_view{} : hosts.substr(comma + 1);
        }
        if (o.endpoints.empty())
            throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                        "no endpoint given");
        return o;
    }
};

/// How a watch reconnects.
struct etcd_watch_options {
    std::chrono::milliseconds retry_min{200};  ///< first wait after a failure
    std::chrono::milliseconds retry_max{2000}; ///< the wait doubles up to this
    /// A watch stream is reopened after this long even when healthy, so a silent member
    /// (partitioned, not closed) is left within this time.
    std::chrono::milliseconds session{15000};
};

} // namespace fcs::storage

#endif // FCS_STORAGE_ETCD_OPTIONS_HPP
