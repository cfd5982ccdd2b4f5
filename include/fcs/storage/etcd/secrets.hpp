#ifndef FCS_STORAGE_ETCD_SECRETS_HPP
#define FCS_STORAGE_ETCD_SECRETS_HPP

// The etcd storage's secrets files: the key-encryption key and the etcd password (detail).

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/codec.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fcs::storage::etcd_detail {

/**
 * The bytes of `file`, a regular file only its owner may read (mode 0600 or 0400, owned by
 * this user or read by root), opened without following a symbolic link, at most `limit` bytes.
 * @throws fcs::error naming the file: errc::not_found, errc::unsafe_file (a link, not a regular
 *         file, too open, another user's), errc::too_large, errc::io_failed.
 */
inline secret_bytes read_private_file(const std::filesystem::path& file, const std::string& step,
                                      std::size_t limit) {
    const std::string shown = file.string();
    int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        throw error(e == ENOENT  ? errc::not_found
                    : e == ELOOP ? errc::unsafe_file
                                 : errc::io_failed,
                    shown, step,
                    e == ELOOP ? "is a symbolic link; refusing to follow it" : std::strerror(e));
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
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
    secret_bytes raw(limit + 1);
    std::size_t got = 0;
    while (got < raw.size()) {
        ssize_t n = ::read(fd, raw.data() + got, raw.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw error(errc::io_failed, shown, step, std::strerror(errno));
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    if (got > limit)
        throw error(errc::too_large, shown, step,
                    "larger than " + std::to_string(limit) + " bytes");
    raw.resize(got);
    return raw;
}

/// The etcd password: the first line of a file only its owner may read (CR LF or LF ends it).
inline secret_bytes load_password(const std::filesystem::path& file) {
    auto pw = read_private_file(file, "load etcd password", 4096);
    pw.erase(std::find(pw.begin(), pw.end(), '\n'), pw.end());
    if (!pw.empty() && pw.back() == '\r')
        pw.pop_back();
    if (pw.empty())
        throw error(errc::invalid_argument, file.string(), "load etcd password",
                    "the file holds no password (its first line is empty)");
    return pw;
}

/// The 32-byte key-encryption key, read from a file only its owner may read.
inline secret_bytes load_kek(const std::filesystem::path& file) {
    const std::string shown = file.string();
    if (file.empty())
        throw error(errc::invalid_argument, "", "load key-encryption key",
                    "no key-encryption key file given (the etcd storage encrypts keys with it)");
    auto raw = read_private_file(file, "load key-encryption key", 256);
    if (raw.size() == 32)
        return raw;
    // base64 of 32 bytes on one line (`openssl rand -base64 32`)
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r'))
        raw.pop_back();
    secret_bytes key;
    if (raw.size() == 44 && unb64(as_text(raw), key) && key.size() == 32)
        return key;
    throw error(
        errc::invalid_argument, shown, "load key-encryption key",
        "must hold exactly 32 bytes (raw, or base64 on one line: openssl rand -base64 32 > FILE)");
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_SECRETS_HPP
