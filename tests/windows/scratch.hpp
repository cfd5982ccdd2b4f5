#ifndef FCS_TESTS_WINDOWS_SCRATCH_HPP
#define FCS_TESTS_WINDOWS_SCRATCH_HPP

// A temporary folder for the Windows tests, removed with everything in it.
#include "windows/wine.hpp" // <windows.h> with NOMINMAX and WIN32_LEAN_AND_MEAN

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace fcs::test {

struct scratch {
    std::wstring path;
    scratch() {
        static std::atomic<int> serial{0};
        wchar_t base[MAX_PATH + 1];
        DWORD n = ::GetTempPathW(MAX_PATH + 1, base);
        BOOST_REQUIRE(n > 0 && n <= MAX_PATH);
        path = std::wstring(base) + L"fcs-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
               std::to_wstring(::GetTickCount64()) + L"-" + std::to_wstring(++serial);
        BOOST_REQUIRE(::CreateDirectoryW(path.c_str(), nullptr));
    }
    ~scratch() { remove_tree(path); }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;

    static void remove_tree(const std::wstring& at) {
        WIN32_FIND_DATAW d;
        HANDLE h = ::FindFirstFileW((at + L"\\*").c_str(), &d);
        if (h != INVALID_HANDLE_VALUE) {
            do {
                const std::wstring name = d.cFileName;
                if (name == L"." || name == L"..")
                    continue;
                if (d.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                    remove_tree(at + L"\\" + name);
                else
                    ::DeleteFileW((at + L"\\" + name).c_str());
            } while (::FindNextFileW(h, &d));
            ::FindClose(h);
        }
        ::RemoveDirectoryW(at.c_str());
    }
    /// The names in `sub` (relative to the folder; empty: the folder itself).
    std::vector<std::wstring> files(const std::wstring& sub = {}) const {
        std::vector<std::wstring> out;
        WIN32_FIND_DATAW d;
        const std::wstring at = sub.empty() ? path : path + L"\\" + sub;
        HANDLE h = ::FindFirstFileW((at + L"\\*").c_str(), &d);
        if (h != INVALID_HANDLE_VALUE) {
            do {
                const std::wstring name = d.cFileName;
                if (name != L"." && name != L"..")
                    out.push_back(name);
            } while (::FindNextFileW(h, &d));
            ::FindClose(h);
        }
        return out;
    }
};

} // namespace fcs::test

#endif // FCS_TESTS_WINDOWS_SCRATCH_HPP
