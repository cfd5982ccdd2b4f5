#ifndef FCS_STORAGE_ETCD_SECRETS_HPP
#define FCS_STORAGE_ETCD_SECRETS_HPP

// The etcd storage's secrets files: the key-encryption key and the etcd password (detail).

#include <fcs/detail/fs.hpp>
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

/// The etcd password: the first line of a file only its owner may read (CR LF or LF ends it).
inline secret_bytes load_password(const std::filesystem::path& file) {
    auto pw = fcs::detail::read_owner_only(file, "load etcd password", 4096);
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
    auto raw = fcs::detail::read_owner_only(file, "load key-encryption key", 256);
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
