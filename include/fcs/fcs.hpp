#ifndef FCS_FCS_HPP
#define FCS_FCS_HPP

// Umbrella header: the core, its types and the common packs (fcs/services.hpp) with their
// policies. It deliberately leaves out the parts a program includes when it uses them, so a
// unit that only runs a service does not compile them:
//   fcs/switchover.hpp            server-group import / export / verify / issue
//   fcs/reloader.hpp              reload on change or signal (fcs/storage/directory_watch.hpp)
//   fcs/tls/server_context.hpp    the handshake path; fcs/tls/ticket_keys.hpp, fcs/tls/client.hpp
//   fcs/etcd_service.hpp          the etcd pack (fcs/storage/etcd.hpp; link fcs::etcd)
//   fcs/status_json.hpp           the status document (nlohmann-json)
#include <fcs/acl/none.hpp>
#include <fcs/acl/posix.hpp>
#include <fcs/config.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/error.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/names.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/policy/kind.hpp>
#include <fcs/service_types.hpp>
#include <fcs/services.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/memory.hpp>
#include <fcs/types.hpp>

#endif // FCS_FCS_HPP
