#ifndef FCS_ETCD_SERVICE_HPP
#define FCS_ETCD_SERVICE_HPP

// The short name of the server-group pack whose pair lives in etcd (see fcs/services.hpp for
// the folder packs).

#include <fcs/acl/none.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/storage/etcd.hpp>

namespace fcs {

/// The pair and the ticket keys in etcd (a server group; keys sealed with the group's KEK),
/// BoringSSL, and `Log` (default: the vendor's message log file). No file ACL applies.
template <class Log = log::file>
using etcd_service = FailoverCertService<storage::etcd, acl::none, crypto::boringssl, Log>;

} // namespace fcs

#endif // FCS_ETCD_SERVICE_HPP
