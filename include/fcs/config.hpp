#ifndef FCS_CONFIG_HPP
#define FCS_CONFIG_HPP

// Per-platform defaults and every FCS_* configuration macro, in one place.
//
//  FCS_DEFAULT_CERT_NAME      base name of a generated pair ("FailoverService":
//                             Certificates/FailoverService.crt +
//                             Certificates/Keys/FailoverService.key)
//  FCS_DEFAULT_VALIDITY_YEARS validity of a generated certificate in calendar years (15)
//  FCS_DEFAULT_WARN_DAYS      days before notAfter when the expiry warning starts (30)
//  FCS_ENABLE_FAULT_INJECTION compile in the named crash/failure points (tests only; see
//                             fcs/detail/fault.hpp)
//  FCS_SEPARATE_COMPILATION  compile the crypto backend's bodies once, in the one translation
//                             unit that includes <fcs/src.hpp>, instead of in every unit that
//                             uses them (the Boost.Beast/Asio pattern; CMake: link
//                             fcs::separate). Define it for every unit of the program.
//  FCS_BORINGSSL_ROOT         (CMake) prefix of a BoringSSL build; default: Debian's
//                             android-libboringssl-dev
//
// Default policies, used for a kind the pack does not name:
//  ACL      fcs::acl::posix          (POSIX systems)
//           fcs::acl::windows        (Windows: _WIN32; fcs/acl/windows.hpp)
//  crypto   fcs::crypto::boringssl
//  log      fcs::log::stderr_sink
//  clock    fcs::clock::system
// The storage policy has no default: a service must say where its certificate lives.

// Only names here: the default policies' headers are included where the pack is resolved
// (fcs/failover_cert_service.hpp), so code that needs the macros pulls in no policy.

/// How a function whose body is in an impl/*.ipp file is declared: inline in header-only use,
/// an ordinary (external) function with FCS_SEPARATE_COMPILATION.
#if defined(FCS_SEPARATE_COMPILATION)
#define FCS_DECL
#else
#define FCS_DECL inline
#endif

#ifndef FCS_DEFAULT_CERT_NAME
#define FCS_DEFAULT_CERT_NAME "FailoverService"
#endif
#ifndef FCS_DEFAULT_VALIDITY_YEARS
#define FCS_DEFAULT_VALIDITY_YEARS 15
#endif
#ifndef FCS_DEFAULT_WARN_DAYS
#define FCS_DEFAULT_WARN_DAYS 30
#endif

namespace fcs {
namespace acl {
class posix;
class windows;
} // namespace acl
namespace crypto {
class boringssl;
}
namespace log {
class stderr_sink;
}
namespace clock {
struct system;
}
namespace config {
#ifdef _WIN32
using default_acl = acl::windows;
#else
using default_acl = acl::posix;
#endif
using default_crypto = crypto::boringssl;
using default_log = log::stderr_sink;
using default_clock = clock::system;
} // namespace config
} // namespace fcs

#endif // FCS_CONFIG_HPP
