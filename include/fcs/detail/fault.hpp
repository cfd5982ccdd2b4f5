#ifndef FCS_DETAIL_FAULT_HPP
#define FCS_DETAIL_FAULT_HPP

// Named crash and failure points for the crash-safety harness (tests/crash). Compiled to
// nothing unless FCS_ENABLE_FAULT_INJECTION is defined. With it:
//   FCS_CRASH_AT=<point>[#n]  SIGKILL the process when it reaches <point> (the n-th time)
//   FCS_FAIL_AT=<point>       make the operation at <point> fail (EIO) once
//   FCS_FAIL_ALWAYS=<point>   make it fail every time (ENOSPC: a full disk)

#ifdef FCS_ENABLE_FAULT_INJECTION
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fcs::detail {
/// FCS_CRASH_AT=<point> or <point>#<n>: die the n-th time the point is reached (default 1).
inline void crash_point(std::string_view point) {
    static int hits = 0;
    const char* at = std::getenv("FCS_CRASH_AT");
    if (!at)
        return;
    std::string_view spec(at);
    int nth = 1;
    if (auto hash = spec.find('#'); hash != std::string_view::npos) {
        nth = std::atoi(std::string(spec.substr(hash + 1)).c_str());
        spec = spec.substr(0, hash);
    }
    if (point == spec && ++hits == nth)
        ::kill(::getpid(), SIGKILL);
}
/// True when the operation at `point` must fail; sets errno.
inline bool fail_point(std::string_view point) {
    static bool failed_once = false;
    if (const char* always = std::getenv("FCS_FAIL_ALWAYS"); always && point == always) {
        errno = ENOSPC;
        return true;
    }
    if (const char* once = std::getenv("FCS_FAIL_AT"); once && point == once && !failed_once) {
        failed_once = true;
        errno = EIO;
        return true;
    }
    return false;
}
} // namespace fcs::detail
#define FCS_CRASH_POINT(name) ::fcs::detail::crash_point(name)
#define FCS_FAIL_POINT(name) ::fcs::detail::fail_point(name)
#else
#define FCS_CRASH_POINT(name) ((void)0)
#define FCS_FAIL_POINT(name) false
#endif

#endif // FCS_DETAIL_FAULT_HPP
