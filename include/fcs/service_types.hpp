#ifndef FCS_SERVICE_TYPES_HPP
#define FCS_SERVICE_TYPES_HPP

// The options and results of fcs::FailoverCertService (fcs/failover_cert_service.hpp). The
// status, report and finding types are in fcs/types.hpp.

#include <fcs/config.hpp>
#include <fcs/detail/time.hpp>
#include <fcs/types.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace fcs {

/// "2026-11-23T10:15:00Z": how fcs shows a time (UTC), in messages and status output.
using detail::iso8601;

/// What a generated certificate is.
enum class profile_kind {
    server,  ///< self-signed TLS server certificate (failover)
    group_ca ///< server-group CA certificate (switchover pairs), signs child certificates
};

/// Run-time options of a FailoverCertService.
struct service_options {
    std::string name = FCS_DEFAULT_CERT_NAME; ///< base name of a generated pair
    profile_kind profile = profile_kind::server;
    key_type key = key_type::ec_p256;
    std::string common_name; ///< default: the host name
    std::string organization = "fcs";
    std::vector<std::string> dns_names;    ///< added to the host name and "localhost"
    std::vector<std::string> ip_addresses; ///< added to 127.0.0.1 and ::1
    int validity_years = FCS_DEFAULT_VALIDITY_YEARS;
    std::chrono::seconds warn_before = std::chrono::days(FCS_DEFAULT_WARN_DAYS);
    /// A key file (or folder) whose mode is too open is refused (like OpenSSH); with this, its
    /// mode is set to the ACL's and a warning is logged instead. A foreign owner, a second
    /// link or an access entry for someone else is refused all the same.
    bool repair_permissions = false;
    /// When nothing usable is stored, start() generates a pair (the default); with false it
    /// publishes nothing and current() stays null until install_parsed() (the switchover
    /// importer on a backup server must not generate a CA only to back it up at once).
    bool generate_when_missing = true;
};

/// The pair in use: parsed and prepared once, shared read-only with every reader.
template <class Crypto>
struct credential {
    std::string name;
    std::vector<typename Crypto::certificate> chain; ///< leaf first
    typename Crypto::private_key key;
    cert_info info;
    enum origin origin = origin::generated;
};

/// What reload() found.
struct reload_result {
    bool changed = false; ///< a different pair is now in use
    bool failed = false;  ///< something on disk is invalid; the pair in use was kept
    std::string message;
};

} // namespace fcs

#endif // FCS_SERVICE_TYPES_HPP
