#ifndef FCS_FCS_HPP
#define FCS_FCS_HPP

// Umbrella header: the public parts of fcs.
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
#include <fcs/reloader.hpp>
#include <fcs/services.hpp>
#include <fcs/service_types.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/storage/directory_watch.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/memory.hpp>
#include <fcs/switchover.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/types.hpp>

#endif // FCS_FCS_HPP
