#ifndef FCS_TESTS_WINDOWS_WINE_HPP
#define FCS_TESTS_WINDOWS_WINE_HPP

// Whether the tests run under Wine, which does not store security descriptors (Debian's 8.0:
// a DACL becomes chmod bits, the protected flag and most entries are lost) and so cannot stand
// in for NTFS: tests that need it say "SKIPPED: " (ctest reports them skipped) instead of
// passing.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <string>

namespace fcs::test {

/// Wine's version ("8.0") from ntdll's wine_get_version, or empty on Windows.
inline std::string wine_version() {
    HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    if (!ntdll)
        return {};
    using fn = const char*(__cdecl*)();
    auto f =
        reinterpret_cast<fn>(reinterpret_cast<void*>(::GetProcAddress(ntdll, "wine_get_version")));
    return f ? std::string(f()) : std::string();
}

} // namespace fcs::test

#endif // FCS_TESTS_WINDOWS_WINE_HPP
