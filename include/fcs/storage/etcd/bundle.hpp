#ifndef FCS_STORAGE_ETCD_BUNDLE_HPP
#define FCS_STORAGE_ETCD_BUNDLE_HPP

// The stored bundle's format: names, the MAC input, one slot as read, and the file of
// accepted generations (detail).

#include <fcs/detail/fs.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/secrets.hpp>
#include <fcs/types.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fcs::storage::etcd_detail {

/// Version 2 authenticates the whole bundle (certificate included) with an HMAC under a key
/// derived from the KEK, over the prefix, the slot and a generation. Version 1 sealed only the
/// key and ticket keys: its certificate could be swapped unnoticed, so it is refused.
inline constexpr std::string_view bundle_format = "fcs-etcd-bundle-2";
inline constexpr std::string_view old_bundle_format = "fcs-etcd-bundle-1";
inline constexpr std::string_view generations_format = "fcs-etcd-generations-1";
inline constexpr std::string_view check_format = "fcs-etcd-kek-check-1";
inline constexpr std::string_view check_text = "fcs etcd key-encryption key check";

/// Every part a bundle may hold, in the order the MAC covers them.
inline constexpr part all_parts[] = {part::certificate,  part::private_key,  part::ticket_keys,
                                     part::metadata,     part::acme_account, part::renewal_lock,
                                     part::acme_challenges};

inline const char* part_name(part p) {
    // Each part its own field: metadata once shared "ticket_keys" with the ticket keys.
    return p == part::certificate    ? "certificate"
           : p == part::private_key  ? "private_key"
           : p == part::ticket_keys  ? "ticket_keys"
           : p == part::acme_account ? "acme_account"
           : p == part::renewal_lock ? "renewal_lock"
           : p == part::acme_challenges ? "acme_challenges"
                                        : "metadata";
}

/// One slot as read: its raw value and revision, and its decrypted parts (or why not).
struct slot_entry {
    std::string raw;
    std::int64_t mod_revision = 0;
    std::map<part, secret_bytes> parts;
    std::int64_t generation = 0;  ///< from the authenticated bundle
    std::optional<error> problem; ///< the value cannot be used (decryption, format, rollback)
    /// A problem a full re-import may overwrite (an old-format bundle, a rolled-back one): the
    /// admin's way out. A bundle that fails authentication is never overwritten.
    bool replaceable = false;
};

/// HMAC-SHA256 input: each field as an 8-byte big-endian length and its bytes.
inline void mac_field(std::string& out, std::string_view v) {
    for (int i = 7; i >= 0; --i)
        out += static_cast<char>((static_cast<std::uint64_t>(v.size()) >> (8 * i)) & 0xff);
    out += v;
}

/**
 * The highest bundle generation accepted per etcd slot key, kept in a file (see
 * etcd_options::generations_file). One process-wide lock serializes the read-merge-replace
 * of the file; the merge keeps the maximum, so nodes sharing the file only raise values.
 */
struct generations_store {
    std::filesystem::path file;
    /// Whose file it is: a root process (an admin's `status` with sudo) gives it the owner
    /// of this file (the KEK), so the service, running as that user, can still read it.
    std::filesystem::path owner_like;

    static std::mutex& file_mutex() {
        static std::mutex m;
        return m;
    }

    /// What the file holds (empty when it does not exist).
    /// @throws fcs::error naming the file when it is unsafe (see detail::read_owner_only) or
    /// malformed.
    std::map<std::string, std::int64_t> load() const {
        std::map<std::string, std::int64_t> out;
        secret_bytes raw;
        try {
            raw = fcs::detail::read_owner_only(file, "load etcd bundle generations", 1u << 20);
        } catch (const error& e) {
            if (e.fcs_code() == errc::not_found)
                return out;
            throw;
        }
        std::string_view text = as_text(raw);
        auto bad = [&](const std::string& why) {
            return error(errc::parse_failed, file.string(), "load etcd bundle generations",
                         why + " (remove the file to start over: rollback protection then "
                               "restarts from what etcd holds now)");
        };
        auto nl = text.find('\n');
        if (text.substr(0, nl) != generations_format)
            throw bad("not an fcs generations file");
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!text.empty()) {
            nl = text.find('\n');
            auto line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            auto sp = line.find(' ');
            std::int64_t g = 0;
            auto digits = line.substr(0, sp);
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), g);
            if (sp == std::string_view::npos || ec != std::errc() ||
                end != digits.data() + digits.size() || g <= 0 || sp + 1 == line.size())
                throw bad("a line is not GENERATION KEY");
            auto& v = out[std::string(line.substr(sp + 1))];
            v = std::max(v, g);
        }
        return out;
    }

    /// Raises the entries to `update` (never lowers one) and replaces the file atomically.
    /// @throws fcs::error naming the file when it cannot be read or written.
    void merge(const std::map<std::string, std::int64_t>& update) const {
        std::lock_guard lock(file_mutex());
        auto all = load();
        for (auto& [k, g] : update)
            all[k] = std::max(all[k], g);
        std::string text = std::string(generations_format) + "\n";
        for (auto& [k, g] : all)
            text += std::to_string(g) + " " + k + "\n";
        static std::atomic<unsigned> counter{0};
        auto tmp = file;
        tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            throw error(errc::io_failed, tmp.string(), "save etcd bundle generations",
                        std::strerror(errno));
        std::size_t done = 0;
        bool ok = true;
        struct stat owner {};
        if (::geteuid() == 0 && !owner_like.empty() && ::stat(owner_like.c_str(), &owner) == 0 &&
            ::fchown(fd, owner.st_uid, owner.st_gid) != 0)
            ok = false;
        while (ok && done < text.size()) {
            ssize_t n = ::write(fd, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            ok = n > 0;
            done += ok ? static_cast<std::size_t>(n) : 0;
        }
        int err = ok ? 0 : errno;
        if (ok && ::fsync(fd) != 0) {
            ok = false;
            err = errno;
        }
        ::close(fd);
        if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
            ok = false;
            err = errno;
        }
        if (!ok) {
            ::unlink(tmp.c_str());
            throw error(errc::io_failed, file.string(), "save etcd bundle generations",
                        std::strerror(err));
        }
    }
};

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_BUNDLE_HPP
