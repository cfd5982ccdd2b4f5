#ifndef FCS_DETAIL_WIN32_HPP
#define FCS_DETAIL_WIN32_HPP

// Win32 internals of the Windows policies: RAII for the handles they use, UTF-8 <-> UTF-16,
// error texts, SHA-1 through CNG (bcrypt), so the ACL policy needs no crypto backend (the
// layering rule of tests/layering: BoringSSL only in crypto/boringssl* and tls/).
#ifndef _WIN32
#error "fcs/detail/win32.hpp is for Windows builds only"
#endif

#ifndef NOMINMAX
#define NOMINMAX // std::min/std::max, not the macros
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <bcrypt.h>
#include <sddl.h> // ConvertSidToStringSidW

#include <fcs/error.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifdef _MSC_VER
#pragma comment(lib, "advapi32")
#pragma comment(lib, "bcrypt")
#endif

namespace fcs::detail {

/// Memory a Win32 call allocated with LocalAlloc (ConvertSidToStringSidW, the SDDL converters).
struct local_free {
    void operator()(void* p) const noexcept { ::LocalFree(p); }
};
template <class T>
using unique_local = std::unique_ptr<T, local_free>;

/// A HANDLE closed with CloseHandle (INVALID_HANDLE_VALUE and null are "none").
class unique_handle {
public:
    unique_handle() = default;
    explicit unique_handle(HANDLE h) noexcept
        : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
    unique_handle(unique_handle&& o) noexcept
        : h_(o.release()) {}
    unique_handle& operator=(unique_handle&& o) noexcept {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    ~unique_handle() { reset(); }
    HANDLE get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    HANDLE release() noexcept { return std::exchange(h_, nullptr); }
    void reset(HANDLE h = nullptr) noexcept {
        if (h_)
            ::CloseHandle(h_);
        h_ = h == INVALID_HANDLE_VALUE ? nullptr : h;
    }

private:
    HANDLE h_ = nullptr;
};

/// The system's text for a Win32 error code ("Access is denied."), without the trailing newline.
inline std::string win32_message(DWORD code) {
    char* buf = nullptr;
    DWORD n = ::FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                   FORMAT_MESSAGE_IGNORE_INSERTS,
                               nullptr, code, 0, reinterpret_cast<char*>(&buf), 0, nullptr);
    unique_local<char> owned(buf);
    std::string s = n ? std::string(buf, n) : std::string();
    while (!s.empty() &&
           (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '.'))
        s.pop_back();
    return s.empty() ? "Win32 error " + std::to_string(code)
                     : s + " (" + std::to_string(code) + ")";
}

[[noreturn]] inline void throw_win32(const std::string& where, const std::string& step,
                                     DWORD code = ::GetLastError()) {
    throw error(errc::io_failed, where, step, win32_message(code));
}

/// UTF-8 -> UTF-16 for Win32's W functions; invalid UTF-8 is refused, not replaced.
inline std::wstring widen(std::string_view s) {
    if (s.empty())
        return {};
    if (s.size() > 0x7fffffff)
        throw error(errc::invalid_argument, "", "convert to UTF-16", "text too long");
    int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                  static_cast<int>(s.size()), nullptr, 0);
    if (n <= 0)
        throw error(errc::invalid_argument, "", "convert to UTF-16", "not valid UTF-8");
    std::wstring w(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()),
                          w.data(), n);
    return w;
}

/// UTF-16 -> UTF-8 for messages (unpaired surrogates become U+FFFD).
inline std::string narrow(std::wstring_view w) {
    if (w.empty() || w.size() > 0x7fffffff)
        return {};
    int n = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0,
                                  nullptr, nullptr);
    if (n <= 0)
        return {};
    std::string s(static_cast<std::size_t>(n), '\0');
    ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr,
                          nullptr);
    return s;
}

/// The SID (binary) of the account this process runs as: its token's user.
/// @throws fcs::error when the token cannot be read.
inline std::vector<std::uint8_t> process_user_sid() {
    HANDLE raw = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &raw))
        throw_win32("process token", "open the process token");
    unique_handle token(raw);
    DWORD len = 0;
    ::GetTokenInformation(token.get(), TokenUser, nullptr, 0, &len);
    if (len == 0 || len > 4096)
        throw_win32("process token", "size the token user");
    std::vector<DWORD> buf((len + sizeof(DWORD) - 1) / sizeof(DWORD));
    if (!::GetTokenInformation(token.get(), TokenUser, buf.data(), len, &len))
        throw_win32("process token", "read the token user");
    PSID sid = reinterpret_cast<const TOKEN_USER*>(buf.data())->User.Sid;
    if (!::IsValidSid(sid))
        throw error(errc::parse_failed, "process token", "read the token user", "malformed SID");
    const auto* p = static_cast<const std::uint8_t*>(sid);
    return std::vector<std::uint8_t>(p, p + ::GetLengthSid(sid));
}

/// What is wrong with the owner of a file fcs wrote itself and acts on (the commit journal):
/// nullopt when it is this process's account, BUILTIN\Administrators or LOCAL SYSTEM (the
/// accounts that can create it in a folder fcs protects); otherwise the reason, naming the
/// owner's SID. `descriptor` is self-relative (file_facts::security_descriptor); a missing or
/// malformed owner is a reason too.
inline std::optional<std::string> owner_problem(std::span<const std::uint8_t> descriptor) {
    if (descriptor.size() < sizeof(SECURITY_DESCRIPTOR_RELATIVE) ||
        !::IsValidSecurityDescriptor(const_cast<std::uint8_t*>(descriptor.data())))
        return std::string("has no readable security descriptor");
    PSID owner = nullptr;
    BOOL defaulted = FALSE;
    if (!::GetSecurityDescriptorOwner(const_cast<std::uint8_t*>(descriptor.data()), &owner,
                                      &defaulted) ||
        !owner || !::IsValidSid(owner))
        return std::string("has no owner in its security descriptor");
    if (::IsWellKnownSid(owner, WinBuiltinAdministratorsSid) ||
        ::IsWellKnownSid(owner, WinLocalSystemSid))
        return std::nullopt;
    auto self = process_user_sid();
    if (::EqualSid(owner, self.data()))
        return std::nullopt;
    wchar_t* text = nullptr;
    std::string who = "an unreadable SID";
    if (::ConvertSidToStringSidW(owner, &text)) {
        who = narrow(text);
        ::LocalFree(text);
    }
    return "is owned by " + who + ", not by Administrators, SYSTEM or this process's account";
}

/// SHA-1 of `data` with CNG (bcrypt.dll). For identifiers Windows itself derives with SHA-1
/// (service SIDs), never for security.
inline std::array<std::uint8_t, 20> sha1(std::span<const std::uint8_t> data) {
    struct alg_close {
        void operator()(void* h) const noexcept { ::BCryptCloseAlgorithmProvider(h, 0); }
    };
    struct hash_close {
        void operator()(void* h) const noexcept { ::BCryptDestroyHash(h); }
    };
    auto fail = [](const char* step, NTSTATUS st) {
        throw error(
            errc::crypto_failed, "", step, "CNG returned NTSTATUS 0x" + [&] {
                char b[16];
                std::snprintf(b, sizeof b, "%08lx", static_cast<unsigned long>(st));
                return std::string(b);
            }());
    };
    BCRYPT_ALG_HANDLE alg_raw = nullptr;
    NTSTATUS st = ::BCryptOpenAlgorithmProvider(&alg_raw, BCRYPT_SHA1_ALGORITHM, nullptr, 0);
    if (!BCRYPT_SUCCESS(st))
        fail("open the SHA-1 provider", st);
    std::unique_ptr<void, alg_close> alg(alg_raw);
    BCRYPT_HASH_HANDLE hash_raw = nullptr;
    st = ::BCryptCreateHash(alg_raw, &hash_raw, nullptr, 0, nullptr, 0, 0);
    if (!BCRYPT_SUCCESS(st))
        fail("create a SHA-1 hash", st);
    std::unique_ptr<void, hash_close> hash(hash_raw);
    if (data.size() > 0xffffffffu)
        throw error(errc::invalid_argument, "", "hash with SHA-1", "input too long");
    st = ::BCryptHashData(hash_raw, const_cast<PUCHAR>(data.data()),
                          static_cast<ULONG>(data.size()), 0);
    if (!BCRYPT_SUCCESS(st))
        fail("hash with SHA-1", st);
    std::array<std::uint8_t, 20> out{};
    st = ::BCryptFinishHash(hash_raw, out.data(), static_cast<ULONG>(out.size()), 0);
    if (!BCRYPT_SUCCESS(st))
        fail("finish the SHA-1 hash", st);
    return out;
}

} // namespace fcs::detail

#endif // FCS_DETAIL_WIN32_HPP
