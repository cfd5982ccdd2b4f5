#ifndef FCS_TYPES_HPP
#define FCS_TYPES_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#ifndef _WIN32
#include <sys/types.h>
#endif

namespace fcs {

#ifdef _WIN32
// The POSIX-shaped members below stay meaningful on POSIX only; on Windows the security
// descriptors (file_facts::security_descriptor, protection::dir_security/file_security) carry
// who may do what. These aliases let the shared types compile there unchanged.
using mode_t = unsigned;
using uid_t = std::uint32_t;
using gid_t = std::uint32_t;
using nlink_t = std::uint32_t;
#endif

using time_point = std::chrono::system_clock::time_point;

/// Key algorithms the crypto backend generates. P-256 is the default.
enum class key_type { ec_p256, ec_p384, rsa2048, rsa3072, rsa4096, ed25519 };

/// On-disk encodings.
enum class encoding { pem, der };

/// The parts of a certificate slot that a storage holds.
/// metadata: what fcs knows of the pair that the files do not say (its origin), bound to the
/// certificate's fingerprint so a stale one is ignored.
/// acme_account: the ACME account key (acme::renewer), a secret like the private key.
/// renewal_lock: which node of a group renews, until when (acme::renewer), kept with the keys.
/// acme_challenges: the challenge answers the renewing node shares with the rest of its group.
enum class part {
    certificate,
    private_key,
    ticket_keys,
    metadata,
    acme_account,
    renewal_lock,
    acme_challenges
};

/// Who may read an item: everyone (certificates) or only admins and the service (keys).
enum class item_class { public_item, secret_item };

constexpr item_class class_of(part p) noexcept {
    return p == part::certificate || p == part::metadata ? item_class::public_item
                                                         : item_class::secret_item;
}

/// What a storage knows of a stored file, for the ACL check on load.
struct file_facts {
    mode_t mode = 0; ///< permission bits only (with an extended ACL the group bits are its mask)
    uid_t uid = 0;
    gid_t gid = 0;
    nlink_t links = 1;
    /// An access entry beyond owner, owning group and others (a POSIX ACL's named user or
    /// group); `perms` are rwx bits (4, 2, 1) before the mask.
    struct named_entry {
        bool group = true;
        std::uint32_t id = 0;
        unsigned perms = 0;
    };
    /// Set when the file has an extended ACL: the owning group's own rwx bits (the mode's group
    /// bits are then the mask, not the owning group's access).
    std::optional<unsigned> owning_group_perms;
    std::vector<named_entry> named;
    /// Windows: the file's security descriptor in self-relative form (owner and DACL), as a
    /// Windows storage reads it with GetSecurityInfo; empty on POSIX. acl::windows checks it.
    std::vector<std::uint8_t> security_descriptor{};
};

/// What an ACL policy finds wrong with a stored file.
struct access_problem {
    std::string text; ///< "permissions 0644 are too open; ..."
    /// Only the mode is too open, which setting the configured mode repairs
    /// (service_options::repair_permissions). Never true for a foreign owner, a hard link or
    /// an access entry for someone else: no chmod undoes those.
    bool mode_only = false;
};

/// How a folder and a file of one item class are created. -1 ids: leave as the process.
struct protection {
    mode_t dir_mode = 0700;
    mode_t file_mode = 0600;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    /// Windows: self-relative security descriptors (a protected DACL) a storage gives new
    /// folders and files of this class at creation (SECURITY_ATTRIBUTES), the Windows form of
    /// the modes above; empty on POSIX. acl::windows fills them.
    std::vector<std::uint8_t> dir_security{};
    std::vector<std::uint8_t> file_security{};
};

/// What an ACL policy hands to a storage policy: modes for both classes and an optional hook
/// that adds extended entries (POSIX ACLs) to a folder the storage created or opened.
struct protections {
    protection public_items{0755, 0644};
    protection secret_items{0700, 0600};
    std::function<void(int dir_fd, const std::string& where, item_class)> extend_folder;
    /// A folder more open than its mode (e.g. Keys/ at 0755) is refused; with this it is
    /// set to its mode and a note says so (service_options::repair_permissions).
    bool repair_folders = false;
    const protection& of(item_class c) const noexcept {
        return c == item_class::public_item ? public_items : secret_items;
    }
};

/// What a new certificate says, for CryptoBackend::self_sign. `ca` makes a CA (CA:TRUE,
/// keyCertSign, cRLSign); otherwise a TLS server certificate (serverAuth, plus clientAuth when
/// asked). Every name is checked (fcs/names.hpp) before it is signed.
struct certificate_profile {
    std::string common_name = "localhost";
    std::string organization;
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;
    bool ca = false;
    bool client_auth = false;
};

/// What a certificate says about itself.
struct cert_info {
    std::string subject;
    std::string issuer;
    std::vector<std::string> sans; ///< "DNS:name" / "IP:addr"
    std::string serial;            ///< hex
    time_point not_before;
    time_point not_after;
    std::string sha256_fingerprint; ///< upper-case hex, colon separated
    std::string key_type;           ///< the public key: "EC P-256", "RSA 2048", "Ed25519"
    bool self_signed = false;
    bool is_ca = false;
};

enum class cert_state { valid, expiring, expired, not_yet_valid };
/// acme: issued by an ACME CA to fcs's own renewal (acme::renewer).
enum class origin { generated, installed, imported, acme };

inline const char* to_string(cert_state s) noexcept {
    switch (s) {
    case cert_state::valid:
        return "valid";
    case cert_state::expiring:
        return "expiring";
    case cert_state::expired:
        return "expired";
    case cert_state::not_yet_valid:
        return "not-yet-valid";
    }
    return "unknown";
}

/// Exit statuses of a monitoring check, the convention of the Nagios/Icinga plugins.
enum class monitoring_exit : int { ok = 0, warning = 1, critical = 2 };

/// What a monitoring check reports for a certificate in state `s`: ok when valid, warning
/// when it expires within the warning window (30 days by default, FCS_DEFAULT_WARN_DAYS),
/// critical when expired or not yet valid. The `status` commands exit with it, and with
/// critical when no usable certificate is found.
constexpr monitoring_exit monitoring_exit_of(cert_state s) noexcept {
    switch (s) {
    case cert_state::valid:
        return monitoring_exit::ok;
    case cert_state::expiring:
        return monitoring_exit::warning;
    case cert_state::expired:
    case cert_state::not_yet_valid:
        return monitoring_exit::critical;
    }
    return monitoring_exit::critical;
}

inline const char* to_string(origin o) noexcept {
    switch (o) {
    case origin::generated:
        return "generated";
    case origin::installed:
        return "installed";
    case origin::imported:
        return "imported";
    case origin::acme:
        return "acme";
    }
    return "unknown";
}
inline const char* to_string(key_type k) noexcept {
    switch (k) {
    case key_type::ec_p256:
        return "ec-p256";
    case key_type::ec_p384:
        return "ec-p384";
    case key_type::rsa2048:
        return "rsa2048";
    case key_type::rsa3072:
        return "rsa3072";
    case key_type::rsa4096:
        return "rsa4096";
    case key_type::ed25519:
        return "ed25519";
    }
    return "unknown";
}
inline std::optional<key_type> key_type_from_string(std::string_view s) noexcept {
    for (auto k : {key_type::ec_p256, key_type::ec_p384, key_type::rsa2048, key_type::rsa3072,
                   key_type::rsa4096, key_type::ed25519})
        if (s == to_string(k))
            return k;
    return std::nullopt;
}

/// The status of the certificate in use (never any key material).
struct cert_status {
    std::string name; ///< slot name, e.g. "MyCertificate"
    cert_info info;
    std::int64_t days_remaining = 0; ///< whole days until notAfter (negative once expired)
    cert_state state = cert_state::valid;
    enum origin origin = origin::generated;
    std::string certificate_location; ///< e.g. "Certificates/MyCertificate.crt"
    std::string key_location;
};

/// Something start() noticed that is not a failure.
struct finding {
    enum class severity { info, warning, error } level;
    std::string location; ///< file or item it is about ("" for the certificate in use)
    std::string message;
};

/// What start() did.
struct start_report {
    cert_status status;
    bool generated = false;            ///< a new pair was generated
    std::vector<std::string> archived; ///< locations moved to the archive
    std::vector<finding> findings;
};

/// What inspect() found: the pair start() would use, and what it would do about the rest.
struct inspect_report {
    std::optional<cert_status> status; ///< nullopt: no usable pair is stored
    std::vector<finding> findings;     ///< refusals, unusable items, a pending change, dates
};

} // namespace fcs

namespace fcs::crypto {
/// Largest certificate, key or bundle input a crypto backend parses (1 MiB).
inline constexpr std::size_t max_input_size = 1u << 20;
} // namespace fcs::crypto

#endif // FCS_TYPES_HPP
