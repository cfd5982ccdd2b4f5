#ifndef FCS_DETAIL_WIN32_FS_HPP
#define FCS_DETAIL_WIN32_FS_HPP

// The Win32 file steps a Windows folder storage is built from, the counterparts of
// detail/fs.hpp: create-exclusive with the final security descriptor (SECURITY_ATTRIBUTES, so
// no moment with a wider DACL), write + FlushFileBuffers, replace with
// MoveFileExW(REPLACE_EXISTING | WRITE_THROUGH), bounded reads that refuse reparse points
// (links, junctions: the way O_NOFOLLOW refuses symlinks), folders and hard-linked files, and
// hand the file's owner and DACL to the ACL policy (file_facts::security_descriptor).
#ifndef _WIN32
#error "fcs/detail/win32_fs.hpp is for Windows builds only"
#endif

#include <fcs/detail/secret.hpp>
#include <fcs/detail/win32.hpp>
#include <fcs/error.hpp>
#include <fcs/types.hpp>

#include <aclapi.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace fcs::detail {

/// Name prefix of the temporary files write_temp_w makes (as detail/fs.hpp's on POSIX).
inline constexpr std::wstring_view temp_file_prefix_w = L".fcs-tmp-";

/// Opens `path` (no following of reparse points) for what `access` asks; nullopt-like empty
/// handle when it does not exist, fcs::error for anything else.
inline unique_handle open_existing_w(const std::wstring& path, DWORD access,
                                     const std::string& shown) {
    unique_handle h(::CreateFileW(
        path.c_str(), access, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
        FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
    if (!h) {
        const DWORD e = ::GetLastError();
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
            return {};
        throw_win32(shown, "open", e);
    }
    return h;
}

/// Creates `path` with CREATE_NEW and `descriptor` (empty: the folder's inherited one) before
/// any byte, writes `data`, FlushFileBuffers. On failure the file is removed and fcs::error
/// names `shown` and the step.
inline void create_new_w(const std::wstring& path, std::span<const std::uint8_t> data,
                         const std::vector<std::uint8_t>& descriptor, const std::string& shown) {
    SECURITY_ATTRIBUTES sa{};
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor =
        descriptor.empty() ? nullptr : const_cast<std::uint8_t*>(descriptor.data());
    unique_handle h(::CreateFileW(path.c_str(), GENERIC_WRITE, 0, &sa, CREATE_NEW,
                                  FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!h)
        throw_win32(shown, "create", ::GetLastError());
    auto fail = [&](const char* step) {
        const DWORD e = ::GetLastError();
        h.reset();
        ::DeleteFileW(path.c_str());
        throw_win32(shown, step, e);
    };
    std::size_t done = 0;
    while (done < data.size()) {
        const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(data.size() - done, 1u << 20));
        DWORD n = 0;
        if (!::WriteFile(h.get(), data.data() + done, chunk, &n, nullptr) || n == 0)
            fail("write");
        done += n;
    }
    if (!::FlushFileBuffers(h.get()))
        fail("flush");
}

/// Writes `data` to a new temporary file in `folder` (create_new_w). Returns its file name.
inline std::wstring write_temp_w(const std::wstring& folder, std::span<const std::uint8_t> data,
                                 const std::vector<std::uint8_t>& descriptor,
                                 const std::string& shown_folder) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    for (int attempt = 0; attempt < 16; ++attempt) {
        wchar_t buf[32];
        std::swprintf(buf, 32, L"%016llx", static_cast<unsigned long long>(rng()));
        std::wstring name = std::wstring(temp_file_prefix_w) + buf;
        try {
            create_new_w(folder + L"\\" + name, data, descriptor,
                         shown_folder + "\\" + narrow(name));
            return name;
        } catch (const error&) {
            if (::GetFileAttributesW((folder + L"\\" + name).c_str()) == INVALID_FILE_ATTRIBUTES)
                throw; // not a name clash
        }
    }
    throw error(errc::io_failed, shown_folder, "create temporary file", "16 names taken");
}

/// Replaces `to` by `from` in one step that is on disk when it returns
/// (MoveFileExW REPLACE_EXISTING | WRITE_THROUGH).
inline void replace_w(const std::wstring& from, const std::wstring& to, const std::string& shown) {
    if (!::MoveFileExW(from.c_str(), to.c_str(),
                       MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        throw_win32(shown, "rename", ::GetLastError());
}

/// What a bounded read returns: the bytes (cleansed on destruction) and what the ACL policy
/// judges (links, owner and DACL).
struct read_result_w {
    secret_bytes data;
    file_facts facts;
};

/// Reads at most `max_size` bytes of the regular file `path`: refuses a reparse point (link,
/// junction), a folder, a file over the bound (from its size, and when it grows while read).
/// nullopt when it does not exist.
inline std::optional<read_result_w> read_w(const std::wstring& path, const std::string& shown,
                                           std::size_t max_size) {
    unique_handle h = open_existing_w(path, GENERIC_READ | READ_CONTROL, shown);
    if (!h)
        return std::nullopt;
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h.get(), &info))
        throw_win32(shown, "check file", ::GetLastError());
    if (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
        throw error(errc::unsafe_file, shown, "open",
                    "is a reparse point (a link or junction); refusing to follow it");
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        throw error(errc::unsafe_file, shown, "open", "is a folder, not a file");
    const std::uint64_t size = (std::uint64_t{info.nFileSizeHigh} << 32) | info.nFileSizeLow;
    if (size > max_size)
        throw error(errc::too_large, shown, "read",
                    std::to_string(size) + " bytes; at most " + std::to_string(max_size));
    read_result_w out;
    out.facts.links = info.nNumberOfLinks;
    out.data.resize(static_cast<std::size_t>(size) + 1); // one more: a file that grew is seen
    std::size_t done = 0;
    while (done < out.data.size()) {
        DWORD n = 0;
        const DWORD want =
            static_cast<DWORD>(std::min<std::size_t>(out.data.size() - done, 1u << 20));
        if (!::ReadFile(h.get(), out.data.data() + done, want, &n, nullptr))
            throw_win32(shown, "read", ::GetLastError());
        if (n == 0)
            break;
        done += n;
    }
    if (done > max_size)
        throw error(errc::too_large, shown, "read",
                    "grew past " + std::to_string(max_size) + " bytes while read");
    out.data.resize(done);
    PSECURITY_DESCRIPTOR sd = nullptr;
    const DWORD rc = ::GetSecurityInfo(h.get(), SE_FILE_OBJECT,
                                       OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                       nullptr, nullptr, nullptr, nullptr, &sd);
    if (rc != ERROR_SUCCESS)
        throw_win32(shown, "read security descriptor", rc);
    unique_local<void> owned(sd);
    auto* p = static_cast<const std::uint8_t*>(sd);
    out.facts.security_descriptor.assign(p, p + ::GetSecurityDescriptorLength(sd));
    return out;
}

/// An entry of a folder listing: its name (UTF-8) and its attributes.
struct dir_entry_w {
    std::string name;
    DWORD attributes = 0;
    bool is_folder() const noexcept {
        // A reparse point (junction, link) is never a folder to descend into.
        return (attributes & FILE_ATTRIBUTE_DIRECTORY) &&
               !(attributes & FILE_ATTRIBUTE_REPARSE_POINT);
    }
};

/// The entries of `folder` (not . and ..); empty when it does not exist.
inline std::vector<dir_entry_w> list_w(const std::wstring& folder) {
    struct find_close {
        void operator()(HANDLE h) const noexcept { ::FindClose(h); }
    };
    std::vector<dir_entry_w> out;
    WIN32_FIND_DATAW d{};
    HANDLE raw = ::FindFirstFileExW((folder + L"\\*").c_str(), FindExInfoBasic, &d,
                                    FindExSearchNameMatch, nullptr, 0);
    if (raw == INVALID_HANDLE_VALUE)
        return out;
    std::unique_ptr<void, find_close> h(raw);
    do {
        const std::wstring_view n = d.cFileName;
        if (n != L"." && n != L"..")
            out.push_back({narrow(n), d.dwFileAttributes});
    } while (::FindNextFileW(raw, &d));
    return out;
}

/// Refuses `path` unless it is a folder and no reparse point.
inline void check_folder_w(const std::wstring& path, const std::string& shown) {
    const DWORD a = ::GetFileAttributesW(path.c_str());
    if (a == INVALID_FILE_ATTRIBUTES)
        throw_win32(shown, "check folder", ::GetLastError());
    if (a & FILE_ATTRIBUTE_REPARSE_POINT)
        throw error(errc::unsafe_file, shown, "check folder",
                    "is a reparse point (a link or junction); refusing to follow it");
    if (!(a & FILE_ATTRIBUTE_DIRECTORY))
        throw error(errc::unsafe_file, shown, "check folder", "is a file, not a folder");
}

/// Creates the folder `path` with `descriptor` (SECURITY_ATTRIBUTES: its protected DACL from
/// the start). An existing folder is kept; an existing reparse point (a junction planted in
/// its place) or file is refused, the way open_dir refuses a symlink on POSIX. True when it
/// was created.
inline bool create_folder_w(const std::wstring& path, const std::vector<std::uint8_t>& descriptor,
                            const std::string& shown) {
    SECURITY_ATTRIBUTES sa{};
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor =
        descriptor.empty() ? nullptr : const_cast<std::uint8_t*>(descriptor.data());
    if (::CreateDirectoryW(path.c_str(), &sa))
        return true;
    const DWORD e = ::GetLastError();
    if (e != ERROR_ALREADY_EXISTS)
        throw_win32(shown, "create folder", e);
    check_folder_w(path, shown);
    return false;
}

/// Gives the file or folder `path` the protected DACL of `descriptor` again (a repair).
inline void set_dacl_w(const std::wstring& path, const std::vector<std::uint8_t>& descriptor,
                       const std::string& shown) {
    if (descriptor.empty())
        return;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = nullptr;
    if (!::GetSecurityDescriptorDacl(const_cast<std::uint8_t*>(descriptor.data()), &present, &dacl,
                                     &defaulted) ||
        !present)
        throw_win32(shown, "read the configured DACL");
    unique_handle h = open_existing_w(path, READ_CONTROL | WRITE_DAC, shown);
    if (!h)
        throw error(errc::not_found, shown, "set DACL", "does not exist");
    const DWORD rc = ::SetSecurityInfo(
        h.get(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
        nullptr, nullptr, dacl, nullptr);
    if (rc != ERROR_SUCCESS)
        throw_win32(shown, "set DACL", rc);
}

/// An exclusive lock on a lock file in a folder (LockFileEx), held for the object's life: one
/// committing process at a time. Advisory under Wine.
class folder_lock_w {
public:
    folder_lock_w(const std::wstring& lock_file, const std::vector<std::uint8_t>& descriptor,
                  const std::string& shown) {
        SECURITY_ATTRIBUTES sa{};
        sa.nLength = sizeof sa;
        sa.lpSecurityDescriptor =
            descriptor.empty() ? nullptr : const_cast<std::uint8_t*>(descriptor.data());
        h_.reset(::CreateFileW(lock_file.c_str(), GENERIC_READ | GENERIC_WRITE,
                               FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_ALWAYS,
                               FILE_ATTRIBUTE_NORMAL, nullptr));
        if (!h_)
            throw_win32(shown, "open lock file", ::GetLastError());
        OVERLAPPED ov{};
        if (!::LockFileEx(h_.get(), LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ov))
            throw_win32(shown, "lock", ::GetLastError());
    }
    ~folder_lock_w() {
        OVERLAPPED ov{};
        ::UnlockFileEx(h_.get(), 0, 1, 0, &ov);
    }
    folder_lock_w(const folder_lock_w&) = delete;
    folder_lock_w& operator=(const folder_lock_w&) = delete;

private:
    unique_handle h_;
};

} // namespace fcs::detail

#endif // FCS_DETAIL_WIN32_FS_HPP
