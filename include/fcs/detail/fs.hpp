#ifndef FCS_DETAIL_FS_HPP
#define FCS_DETAIL_FS_HPP

// Safe file primitives: every open is relative to an opened folder (openat) with O_NOFOLLOW,
// what was opened is checked with fstat, files are created with their final mode from the
// first byte, and a replacement is temp + fsync + rename + fsync of the folder.

#include <fcs/detail/fault.hpp>
#include <fcs/detail/journal.hpp> // temp_file_prefix
#include <fcs/detail/posix_acl.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/types.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <random>
#include <span>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fcs::detail {

/// Owns a file descriptor.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept
        : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept
        : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        reset(o.release());
        return *this;
    }
    ~unique_fd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

[[noreturn]] inline void throw_io(std::string where, std::string step, int err) {
    errc code = err == ELOOP || err == EMLINK ? errc::unsafe_file
                : err == ENOENT               ? errc::not_found
                                              : errc::io_failed;
    std::string cause = std::strerror(err);
    if (err == ELOOP)
        cause = "is a symbolic link; refusing to follow it";
    throw error(code, std::move(where), std::move(step), std::move(cause));
}

inline std::string join(std::string_view a, std::string_view b) {
    if (a.empty())
        return std::string(b);
    return std::string(a) + "/" + std::string(b);
}

/// Opens (and with `create`, makes) each component of `rel` below `base` without following
/// symlinks. New folders get `mode` exactly (independent of the umask). `rel` is a plain
/// relative path: an empty, "." or ".." component is refused (it may come from a file another
/// account could have written, and ".." would leave the data folder).
inline unique_fd open_dir(int base, std::string_view rel, bool create, mode_t mode,
                          std::string_view shown_base = {}) {
    unique_fd cur(::fcntl(base, F_DUPFD_CLOEXEC, 0));
    if (!cur)
        throw_io(std::string(shown_base.empty() ? rel : shown_base), "open folder", errno);
    std::string shown(shown_base);
    std::size_t pos = 0;
    while (pos < rel.size()) {
        auto slash = rel.find('/', pos);
        auto comp = std::string(
            rel.substr(pos, slash == std::string_view::npos ? rel.size() - pos : slash - pos));
        pos = slash == std::string_view::npos ? rel.size() : slash + 1;
        if (comp.empty() || comp == "." || comp == ".." || slash == rel.size() - 1)
            throw error(errc::unsafe_file, std::string(rel), "open folder",
                        "not a plain relative path (empty, '.' or '..' component)");
        shown = join(shown, comp);
        int fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(cur.get(), comp.c_str(), mode) != 0 && errno != EEXIST)
                throw_io(shown, "create folder", errno);
            fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0 && ::fchmod(fd, mode) != 0) {
                int e = errno;
                ::close(fd);
                throw_io(shown, "set folder mode", e);
            }
            if (fd >= 0 && ::fsync(cur.get()) != 0) {
                int e = errno;
                ::close(fd);
                throw_io(shown, "fsync parent folder", e);
            }
        }
        if (fd < 0) {
            int e = errno;
            if (e == ENOTDIR) {
                struct stat st {};
                if (::fstatat(cur.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode))
                    e = ELOOP;
            }
            throw_io(shown, "open folder", e);
        }
        cur.reset(fd);
    }
    return cur;
}

inline bool exists_at(int dir, const std::string& name) {
    struct stat st {};
    return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/**
 * The bytes of `fd`, an open regular file whose fstat is `st`, at most `max_size`: refused from
 * its size before any byte is read, and refused when it grows past the bound while read (one
 * byte more than allowed is read). The one bounded read loop of the library.
 * @throws fcs::error naming `shown` at `step`: errc::too_large, errc::io_failed.
 */
inline secret_bytes read_bounded(int fd, const struct stat& st, const std::string& shown,
                                 const std::string& step, std::size_t max_size) {
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size)
        throw error(errc::too_large, shown, step,
                    std::to_string(st.st_size) + " bytes is over the limit of " +
                        std::to_string(max_size) + " bytes");
    secret_bytes data(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t got = 0;
    for (;;) {
        if (got == data.size()) {
            if (got > max_size)
                throw error(errc::too_large, shown, step,
                            "over the limit of " + std::to_string(max_size) +
                                " bytes (it grew while read)");
            data.resize(std::min(data.size() * 2, max_size + 1)); // cleansing growth
        }
        ssize_t n = ::read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_io(shown, step, errno);
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    if (got > max_size)
        throw error(errc::too_large, shown, step,
                    "over the limit of " + std::to_string(max_size) +
                        " bytes (it grew while read)");
    data.resize(got);
    return data;
}

/// The fstat of an opened input file; refused (naming it) unless it is a regular file.
inline struct stat regular_file_stat(int fd, const std::string& shown) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw_io(shown, "stat", errno);
    if (!S_ISREG(st.st_mode))
        throw error(errc::unsafe_file, shown, "open", "not a regular file");
    return st;
}

/// Reads a regular file below `dir`, refusing symlinks, non-regular files and files over
/// `max_size` (refused from fstat, before reading it all).
inline std::pair<secret_bytes, file_facts> read_at(int dir, const std::string& name,
                                                   const std::string& shown, std::size_t max_size) {
    unique_fd fd(
        ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        throw_io(shown, "open", errno);
    const struct stat st = regular_file_stat(fd.get(), shown);
    auto data = read_bounded(fd.get(), st, shown, "read", max_size);
    file_facts f{
        static_cast<mode_t>(st.st_mode & 07777), st.st_uid, st.st_gid, st.st_nlink, {}, {}};
    add_acl_facts(fd.get(), f);
    return {std::move(data), std::move(f)};
}

/**
 * The bytes of an input file an operator names (a certificate, key, bundle or request to
 * import or install): a regular file (a link to one is followed: the operator chose the
 * path), at most `max_size` bytes (refused from fstat, and when it grows while read).
 * @throws fcs::error naming the file: errc::not_found, errc::unsafe_file (not a regular
 *         file), errc::too_large, errc::io_failed.
 */
inline secret_bytes read_file(const std::filesystem::path& file, std::size_t max_size) {
    const std::string shown = file.string();
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        throw_io(shown, "open", errno);
    const struct stat st = regular_file_stat(fd.get(), shown);
    return read_bounded(fd.get(), st, shown, "read", max_size);
}

/**
 * The bytes of a secrets file (a key-encryption key, a password, a client key): a regular
 * file, not a symbolic link (opened with O_NOFOLLOW), owned by this user (or read by root),
 * readable by its owner only (mode 0600 or 0400), at most `max_size` bytes.
 * @throws fcs::error naming the file at `step`: errc::not_found, errc::unsafe_file (a link,
 *         not a regular file, too open, another user's), errc::too_large, errc::io_failed.
 */
inline secret_bytes read_owner_only(const std::filesystem::path& file, const std::string& step,
                                    std::size_t max_size) {
    const std::string shown = file.string();
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        int e = errno;
        throw error(e == ENOENT  ? errc::not_found
                    : e == ELOOP ? errc::unsafe_file
                                 : errc::io_failed,
                    shown, step,
                    e == ELOOP ? "is a symbolic link; refusing to follow it" : std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw error(errc::unsafe_file, shown, step, "not a regular file");
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw error(errc::unsafe_file, shown, step,
                    std::string("permissions ") + mode +
                        " are too open; it must be readable by its owner only (chmod 600)");
    }
    if (st.st_uid != ::geteuid() && ::geteuid() != 0)
        throw error(errc::unsafe_file, shown, step, "owned by another user");
    return read_bounded(fd.get(), st, shown, step, max_size);
}

inline void fsync_dir(int dir, const std::string& shown) {
    if (FCS_FAIL_POINT("fsync") || ::fsync(dir) != 0)
        throw_io(shown, "fsync folder", errno);
}

/// Writes `data` to a new temporary file in `dir`, created with `p.file_mode` (and owner)
/// before any byte is written, then fsyncs it. Returns the temporary name.
inline std::string write_temp_at(int dir, std::span<const std::uint8_t> data, const protection& p,
                                 const std::string& shown_dir) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string name;
    unique_fd fd;
    for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
        name = std::string(temp_file_prefix) + buf;
        fd.reset(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          p.file_mode & 0600)); // never wider than owner-only until set below
        if (!fd && errno != EEXIST)
            throw_io(join(shown_dir, name), "create temporary file", errno);
    }
    if (!fd)
        throw_io(join(shown_dir, name), "create temporary file", EEXIST);
    auto cleanup_fail = [&](const char* step, int e) {
        ::unlinkat(dir, name.c_str(), 0);
        throw_io(join(shown_dir, name), step, e);
    };
    // The umask may have narrowed the mode; set it exactly (never wider than asked) and the
    // owner, still before the first byte.
    if ((p.uid != static_cast<uid_t>(-1) || p.gid != static_cast<gid_t>(-1)) &&
        ::fchown(fd.get(), p.uid, p.gid) != 0)
        cleanup_fail("set owner", errno);
    if (::fchmod(fd.get(), p.file_mode) != 0)
        cleanup_fail("set mode", errno);
    std::size_t done = 0;
    while (done < data.size()) {
        if (FCS_FAIL_POINT("write")) {
            cleanup_fail("write", errno);
        }
        ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cleanup_fail("write", errno);
        done += static_cast<std::size_t>(n);
    }
    if (FCS_FAIL_POINT("fsync") || ::fsync(fd.get()) != 0)
        cleanup_fail("fsync", errno);
    return name;
}

/// Names of the entries of `dir` (not . and ..).
inline std::vector<std::string> list_dir(int dir) {
    std::vector<std::string> out;
    unique_fd dup(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dup)
        return out;
    DIR* d = ::fdopendir(dup.release());
    if (!d)
        return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..")
            out.push_back(std::move(n));
    }
    ::closedir(d);
    return out;
}

} // namespace fcs::detail

#endif // FCS_DETAIL_FS_HPP
