#ifndef FCS_STORAGE_LAYOUT_HPP
#define FCS_STORAGE_LAYOUT_HPP

// On-disk layouts for storage::directory. A layout names the folders, the file of each part
// of a slot, the archive/backup place of a replaced file, and the encoding of each part.

#include <fcs/types.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage {

/// Largest item a folder storage reads (1 MiB); larger files are refused from their size.
inline constexpr std::size_t max_item_size = 1u << 20;

/// A folder of a layout and who may read it.
struct folder_spec {
    std::string path; ///< relative to the data folder
    item_class access;
};

/**
 * The failover layout (the vendor's):
 *   Certificates/NAME.crt            PEM certificate (chain), 0644, folder 0755
 *   Certificates/Keys/NAME.key       PEM PKCS#8 key, 0600, folder 0700
 *   Certificates/Keys/NAME.tickets   session-ticket keys, 0600
 *   Certificates/NAME.meta           origin of the pair (generated/installed/imported), 0644
 *   Certificates/Archive/NAME.<UTC>.crt|key   replaced or invalid files, folder 0700
 */
struct failover_layout {
    static constexpr std::string_view journal_folder = "Certificates";
    static std::vector<folder_spec> folders() {
        return {{"Certificates", item_class::public_item},
                {"Certificates/Keys", item_class::secret_item},
                {"Certificates/Archive", item_class::secret_item}};
    }
    static std::string folder(part p) {
        return p == part::certificate || p == part::metadata ? "Certificates" : "Certificates/Keys";
    }
    static std::string_view suffix(part p) {
        return p == part::certificate    ? ".crt"
               : p == part::private_key  ? ".key"
               : p == part::metadata     ? ".meta"
               : p == part::acme_account ? ".acme-account"
               : p == part::renewal_lock ? ".renewal-lock"
               : p == part::acme_challenges ? ".acme-challenges"
                                            : ".tickets";
    }
    static std::string file_name(std::string_view name, part p) {
        return std::string(name) + std::string(suffix(p));
    }
    static std::optional<std::string> slot_of(std::string_view file, part p) {
        auto sfx = suffix(p);
        if (file.size() <= sfx.size() || !file.ends_with(sfx) || file.front() == '.')
            return std::nullopt;
        return std::string(file.substr(0, file.size() - sfx.size()));
    }
    /// Folder of an archive entry and its file name; `tag` is a UTC timestamp.
    static std::string archive_folder(std::string_view /*tag*/) { return "Certificates/Archive"; }
    static std::string archive_file(std::string_view name, part p, std::string_view tag) {
        return std::string(name) + "." + std::string(tag) + std::string(suffix(p));
    }
    static encoding encoding_of(part) { return encoding::pem; }
};

/**
 * The server-group layout (switchover pairs):
 *   Certificates/ServerGroup/ServerGroupCertificate.cer   DER certificate, 0644
 *   Certificates/ServerGroup/ServerGroupPrivateKey.bin    DER PKCS#8 key, 0600, folder 0700
 *   Certificates/ServerGroup/Backup/<UTC>/...            the replaced pair, never overwritten
 * It holds one slot, named "ServerGroup".
 */
struct server_group_layout {
    static constexpr std::string_view slot = "ServerGroup";
    static constexpr std::string_view journal_folder = "Certificates/ServerGroup";
    static std::vector<folder_spec> folders() {
        return {{"Certificates", item_class::public_item},
                {"Certificates/ServerGroup", item_class::secret_item},
                {"Certificates/ServerGroup/Backup", item_class::secret_item}};
    }
    static std::string folder(part) { return "Certificates/ServerGroup"; }
    static std::string file_name(std::string_view, part p) {
        return p == part::certificate    ? "ServerGroupCertificate.cer"
               : p == part::private_key  ? "ServerGroupPrivateKey.bin"
               : p == part::metadata     ? "ServerGroupMetadata.txt"
               : p == part::acme_account ? "ServerGroupAcmeAccount.bin"
               : p == part::renewal_lock ? "ServerGroupRenewalLock.txt"
               : p == part::acme_challenges ? "ServerGroupAcmeChallenges.txt"
                                            : "ServerGroupTicketKeys.bin";
    }
    static std::optional<std::string> slot_of(std::string_view file, part p) {
        if (file == file_name(slot, p))
            return std::string(slot);
        return std::nullopt;
    }
    static std::string archive_folder(std::string_view tag) {
        return "Certificates/ServerGroup/Backup/" + std::string(tag);
    }
    static std::string archive_file(std::string_view name, part p, std::string_view) {
        return file_name(name, p);
    }
    static encoding encoding_of(part) { return encoding::der; }
};

/// A slot name must be a plain file name: no '/', no control characters, not hidden.
inline bool valid_slot_name(std::string_view n) {
    if (n.empty() || n.size() > 200 || n.front() == '.')
        return false;
    for (unsigned char c : n)
        if (c < 0x20 || c == '/' || c == 0x7f || c == '\\')
            return false;
    return true;
}

} // namespace fcs::storage

#endif // FCS_STORAGE_LAYOUT_HPP
