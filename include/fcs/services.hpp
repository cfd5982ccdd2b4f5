#ifndef FCS_SERVICES_HPP
#define FCS_SERVICES_HPP

// Short names for the common policy packs, the way spdlog names its common sinks. Each is a
// plain alias of fcs::FailoverCertService; a pack of your own is written the same way.
// The etcd pack has its own header (fcs/etcd_service.hpp), so a folder user pulls in no
// HTTP client.

#include <fcs/acl/none.hpp>
#include <fcs/acl/posix.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/memory.hpp>

namespace fcs {

/// The failover server's pack: the pair in a data folder (Certificates/NAME.crt,
/// Certificates/Keys/NAME.key), POSIX modes and ACLs, BoringSSL, and `Log` (default: the
/// vendor's message log file, fcs::log::file).
template <class Log = log::file, class Layout = storage::failover_layout>
using folder_service =
    FailoverCertService<storage::directory<Layout>, acl::posix, crypto::boringssl, Log>;

/// A switchover pair's pack: the server-group CA pair in a data folder (server_group_layout).
template <class Log = log::file>
using server_group_service = folder_service<Log, storage::server_group_layout>;

/// Everything in memory, nothing logged: tools and tests that need no files.
template <class Log = log::null_sink>
using memory_service = FailoverCertService<storage::memory, acl::none, crypto::boringssl, Log>;

/// The cores of the packs above, for explicit instantiation: with FCS_SEPARATE_COMPILATION
/// they are compiled once (in the unit that includes <fcs/src.hpp>), not in every unit that
/// names them. X(storage, acl, crypto, log) is called once per pack.
#define FCS_COMMON_PACKS(X)                                                                        \
    X(::fcs::storage::directory<::fcs::storage::failover_layout>, ::fcs::acl::posix,               \
      ::fcs::crypto::boringssl, ::fcs::log::file)                                                  \
    X(::fcs::storage::directory<::fcs::storage::server_group_layout>, ::fcs::acl::posix,           \
      ::fcs::crypto::boringssl, ::fcs::log::file)                                                  \
    X(::fcs::storage::memory, ::fcs::acl::none, ::fcs::crypto::boringssl, ::fcs::log::null_sink)

#if defined(FCS_SEPARATE_COMPILATION) && !defined(FCS_SOURCE)
#define FCS_EXTERN_PACK(S, A, C, L)                                                                \
    extern template class basic_service<S, A, C, L, config::default_clock>;
FCS_COMMON_PACKS(FCS_EXTERN_PACK)
#undef FCS_EXTERN_PACK
#endif

} // namespace fcs

#endif // FCS_SERVICES_HPP
