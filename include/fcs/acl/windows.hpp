#ifndef FCS_ACL_WINDOWS_HPP
#define FCS_ACL_WINDOWS_HPP

// The Windows ACL policy: protected DACLs given at creation (SECURITY_ATTRIBUTES, the Windows
// form of "0600 from the first byte") and the "too open" check on a loaded file's descriptor.
#ifndef _WIN32
#error "fcs/acl/windows.hpp is the Windows ACL policy; on POSIX use fcs/acl/posix.hpp"
#endif

#include <fcs/detail/win32.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>

#include <aclapi.h>
#include <sddl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::acl {

/// A security identifier in its binary form (what an ACE holds), with its "S-1-5-..." text.
class windows_sid {
public:
    /// S-1-<authority>-<sub authorities...>; at most 15 sub authorities.
    static windows_sid make(std::uint64_t authority, std::span<const std::uint32_t> subs) {
        if (subs.size() > 15)
            throw error(errc::invalid_argument, "", "make a SID", "more than 15 sub authorities");
        windows_sid s;
        s.bytes_.push_back(1); // SID_REVISION
        s.bytes_.push_back(static_cast<std::uint8_t>(subs.size()));
        for (int i = 5; i >= 0; --i) // the authority is big-endian
            s.bytes_.push_back(static_cast<std::uint8_t>(authority >> (8 * i)));
        for (std::uint32_t v : subs) // sub authorities are little-endian
            for (int i = 0; i < 4; ++i)
                s.bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return s;
    }
    /// NT AUTHORITY\SYSTEM, S-1-5-18.
    static windows_sid local_system() { return make(5, std::array<std::uint32_t, 1>{18}); }
    /// BUILTIN\Administrators, S-1-5-32-544.
    static windows_sid administrators() { return make(5, std::array<std::uint32_t, 2>{32, 544}); }
    /// BUILTIN\Users, S-1-5-32-545.
    static windows_sid users() { return make(5, std::array<std::uint32_t, 2>{32, 545}); }

    /// The SID of a binary SID at the start of `in`, or nullopt when `in` does not hold one
    /// whole (bounded: never reads past `in`).
    static std::optional<windows_sid> parse(std::span<const std::uint8_t> in) {
        if (in.size() < 8 || in[0] != 1 || in[1] > 15 || in.size() < 8u + 4u * in[1])
            return std::nullopt;
        windows_sid s;
        s.bytes_.assign(in.begin(), in.begin() + 8 + 4 * in[1]);
        return s;
    }

    /// "S-1-5-80-956008885-..."
    std::string str() const {
        std::uint64_t authority = 0;
        for (int i = 2; i < 8; ++i)
            authority = (authority << 8) | bytes_[i];
        std::string s = "S-" + std::to_string(bytes_[0]) + "-" + std::to_string(authority);
        for (std::size_t i = 0; i < bytes_[1]; ++i) {
            const std::uint8_t* p = bytes_.data() + 8 + 4 * i;
            s += "-" + std::to_string(std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                      std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
        }
        return s;
    }
    /// The binary SID, for Win32 calls (PSID).
    PSID get() const noexcept { return const_cast<std::uint8_t*>(bytes_.data()); }
    std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }
    bool operator==(const windows_sid&) const = default;

private:
    windows_sid() = default;
    std::vector<std::uint8_t> bytes_;
};

/**
 * The SID of the virtual service account `NT SERVICE\<name>`, by the rule Windows uses (so no
 * account lookup is needed, and the service need not be installed yet): S-1-5-80- followed by
 * the SHA-1 of the upper-cased service name in UTF-16LE, read as five little-endian 32-bit
 * words. `name` is UTF-8, with or without the "NT SERVICE\" prefix.
 * Example: service_account_sid("NT SERVICE\\TrustedInstaller").str() ==
 *          "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
 * @throws fcs::error (invalid_argument) for an empty name or one with a backslash in it.
 */
inline windows_sid service_account_sid(std::string_view name) {
    constexpr std::string_view prefix = "NT SERVICE\\";
    if (name.size() >= prefix.size() &&
        ::CompareStringOrdinal(detail::widen(name.substr(0, prefix.size())).c_str(), -1,
                               L"NT SERVICE\\", -1, TRUE) == CSTR_EQUAL)
        name.remove_prefix(prefix.size());
    if (name.empty() || name.size() > 256 || name.find_first_of("\\/") != std::string_view::npos)
        throw error(errc::invalid_argument, std::string(name), "compute the service account SID",
                    "a service name is 1 to 256 characters without '\\' or '/'");
    std::wstring w = detail::widen(name);
    // Windows upper-cases with the invariant table (RtlUpcaseUnicodeString), not a locale's.
    std::wstring upper(w.size(), L'\0');
    if (::LCMapStringEx(L"", LCMAP_UPPERCASE, w.data(), static_cast<int>(w.size()), upper.data(),
                        static_cast<int>(upper.size()), nullptr, nullptr,
                        0) != static_cast<int>(w.size()))
        detail::throw_win32(std::string(name), "upper-case the service name");
    std::vector<std::uint8_t> utf16le;
    utf16le.reserve(upper.size() * 2);
    for (wchar_t c : upper) {
        utf16le.push_back(static_cast<std::uint8_t>(c & 0xff));
        utf16le.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(c) >> 8) & 0xff));
    }
    const auto digest = detail::sha1(utf16le);
    std::array<std::uint32_t, 6> subs{80};
    for (std::size_t i = 0; i < 5; ++i)
        subs[i + 1] = std::uint32_t{digest[4 * i]} | std::uint32_t{digest[4 * i + 1]} << 8 |
                      std::uint32_t{digest[4 * i + 2]} << 16 |
                      std::uint32_t{digest[4 * i + 3]} << 24;
    return windows_sid::make(5, subs);
}

/// A security descriptor's SDDL text ("D:P(A;OICI;FA;;;SY)..."), for messages and tests.
/// @throws fcs::error when Windows cannot convert it.
inline std::string to_sddl(std::span<const std::uint8_t> descriptor) {
    if (descriptor.empty())
        throw error(errc::invalid_argument, "", "convert a security descriptor to SDDL", "empty");
    wchar_t* raw = nullptr;
    if (!::ConvertSecurityDescriptorToStringSecurityDescriptorW(
            const_cast<std::uint8_t*>(descriptor.data()), SDDL_REVISION_1,
            OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &raw, nullptr))
        detail::throw_win32("", "convert a security descriptor to SDDL");
    detail::unique_local<wchar_t> owned(raw);
    return detail::narrow(raw);
}

/// The account this process runs as (its token's user: `NT SERVICE\<name>` for a service on a
/// virtual account, SYSTEM for LocalSystem, the admin who runs a tool).
/// @throws fcs::error when the token cannot be read.
inline windows_sid process_account_sid() {
    auto sid = windows_sid::parse(detail::process_user_sid());
    if (!sid)
        throw error(errc::parse_failed, "process token", "read the token user", "malformed SID");
    return *sid;
}

/// SECURITY_ATTRIBUTES for CreateFileW/CreateDirectoryW that give the new item `descriptor`
/// (one of protection::dir_security / file_security); `descriptor` must outlive the call.
inline SECURITY_ATTRIBUTES
security_attributes(const std::vector<std::uint8_t>& descriptor) noexcept {
    SECURITY_ATTRIBUTES sa{};
    sa.nLength = sizeof sa;
    sa.lpSecurityDescriptor =
        descriptor.empty() ? nullptr : const_cast<std::uint8_t*>(descriptor.data());
    sa.bInheritHandle = FALSE;
    return sa;
}

/**
 * Windows access rules, as the vendor documents them for %PROGRAMDATA%\<Vendor>\<Product>\:
 *  - `Certificates\` and certificate files: read for BUILTIN\Users and the service account
 *    (`NT SERVICE\<name>`), full control for BUILTIN\Administrators and LOCAL SYSTEM;
 *  - `Keys\`, key files and `Archive\`: Administrators, SYSTEM and the service account only.
 * Every DACL is protected (inherits nothing from the folder above), and folders pass their
 * entries on to what is created in them (object and container inherit). The descriptors are
 * handed to the storage in rules() (protection::dir_security / file_security) and given at
 * creation through SECURITY_ATTRIBUTES, so no file exists with a more open DACL even briefly.
 *
 * On load, check() reads the file's descriptor (file_facts::security_descriptor): a key that
 * anyone else may read, write or re-permission (a DACL entry, a missing DACL) is "too open",
 * a certificate that anyone else may change is too; an owner other than Administrators, SYSTEM,
 * the service account or this process's own account is a finding a new DACL does not repair
 * (the owner may always rewrite the DACL). "Anyone else" is everyone but those four: the
 * process's own account (process_account_sid) is trusted as the POSIX policy trusts the
 * file's owner when it is the service's uid (it is the account that wrote the file).
 *
 * Example:
 *   fcs::acl::windows acl({.service_name = "NT SERVICE\\FcsServer"});
 *   auto p = acl.rules();
 *   auto sa = fcs::acl::security_attributes(p.secret_items.file_security);
 *   CreateFileW(L"...\\Keys\\x.key", GENERIC_WRITE, 0, &sa, CREATE_NEW, ...);
 */
class windows {
public:
    using policy_kind = policy::kind::acl;

    struct options {
        /// The service that reads the certificate and key, "NT SERVICE\Name" or "Name" (UTF-8);
        /// its SID is computed (service_account_sid), the service need not exist yet. Empty:
        /// no service entry (Administrators and SYSTEM only, Users read certificates).
        std::string service_name;
        /// The service itself writes its items (it generates and renews its certificate):
        /// it gets modify rights (read, write, delete) instead of read.
        bool service_writes = false;
    };

    windows()
        : windows(options{}) {}
    explicit windows(options o)
        : opts_(std::move(o)) {
        if (!opts_.service_name.empty())
            service_sid_ = service_account_sid(opts_.service_name);
        self_sid_ = process_account_sid();
        for (int c = 0; c < 2; ++c)
            for (int folder = 0; folder < 2; ++folder)
                descriptors_[c][folder] =
                    build(c == 0 ? item_class::public_item : item_class::secret_item, folder != 0);
    }

    /// Access rights in the DACLs (FILE_ALL_ACCESS, FILE_GENERIC_READ, ...).
    static constexpr ACCESS_MASK full_control = FILE_ALL_ACCESS;
    static constexpr ACCESS_MASK read_file = FILE_GENERIC_READ;
    static constexpr ACCESS_MASK read_folder = FILE_GENERIC_READ | FILE_GENERIC_EXECUTE;
    static constexpr ACCESS_MASK modify =
        FILE_GENERIC_READ | FILE_GENERIC_WRITE | FILE_GENERIC_EXECUTE | DELETE;

    /// The protections a storage applies on create: the POSIX modes as documented defaults
    /// (unused on Windows) and the self-relative descriptors of both classes.
    protections rules() const {
        protections p;
        p.public_items.dir_security = descriptors_[0][1];
        p.public_items.file_security = descriptors_[0][0];
        p.secret_items.dir_security = descriptors_[1][1];
        p.secret_items.file_security = descriptors_[1][0];
        return p;
    }

    /// The self-relative security descriptor new items of class `c` get (a folder's passes its
    /// entries on to what is created in it).
    const std::vector<std::uint8_t>& descriptor(item_class c, bool folder) const noexcept {
        return descriptors_[c == item_class::public_item ? 0 : 1][folder ? 1 : 0];
    }

    /// The service account's SID, when one is configured.
    const std::optional<windows_sid>& service_sid() const noexcept { return service_sid_; }

    /// What is wrong with a loaded file, if anything (see the class comment). mode_only means
    /// "writing the configured DACL again repairs it"; a foreign owner is never mode_only.
    std::optional<access_problem> check(const file_facts& f, item_class c) const {
        return check_descriptor(f.security_descriptor, c);
    }

    /// check() on a self-relative security descriptor (bounded: a malformed one is a finding,
    /// never a read past `sd`).
    std::optional<access_problem> check_descriptor(std::span<const std::uint8_t> sd,
                                                   item_class c) const {
        const bool secret = c == item_class::secret_item;
        auto u16 = [&](std::size_t at) { return std::uint16_t(sd[at] | sd[at + 1] << 8); };
        auto u32 = [&](std::size_t at) {
            return std::uint32_t{sd[at]} | std::uint32_t{sd[at + 1]} << 8 |
                   std::uint32_t{sd[at + 2]} << 16 | std::uint32_t{sd[at + 3]} << 24;
        };
        // SECURITY_DESCRIPTOR_RELATIVE: revision, sbz1, control, owner, group, sacl, dacl.
        if (sd.size() < 20 || sd[0] != SECURITY_DESCRIPTOR_REVISION || !(u16(2) & SE_SELF_RELATIVE))
            return access_problem{"has no readable security descriptor; cannot tell who may "
                                  "access it",
                                  false};
        const std::uint16_t control = u16(2);
        const std::uint32_t owner_at = u32(4), dacl_at = u32(16);
        if (owner_at != 0) {
            auto owner =
                owner_at < sd.size() ? windows_sid::parse(sd.subspan(owner_at)) : std::nullopt;
            if (!owner)
                return access_problem{"has a malformed security descriptor (owner)", false};
            if (!trusted(*owner))
                return access_problem{"is owned by " + describe(*owner) +
                                          ", not by Administrators, SYSTEM, the service "
                                          "account or this process's account; its owner may "
                                          "always change its DACL",
                                      false};
        }
        if (!(control & SE_DACL_PRESENT) || dacl_at == 0)
            return access_problem{std::string("has no DACL, which lets everyone ") +
                                      (secret ? "read it; a private key must be readable only "
                                                "by Administrators, SYSTEM and the service "
                                                "account"
                                              : "change it"),
                                  true};
        // ACL: revision, sbz1, size, count, sbz2; then the ACEs.
        if (dacl_at > sd.size() || sd.size() - dacl_at < 8)
            return access_problem{"has a malformed security descriptor (DACL)", false};
        const std::size_t acl_size = u16(dacl_at + 2), count = u16(dacl_at + 4);
        if (acl_size < 8 || acl_size > sd.size() - dacl_at)
            return access_problem{"has a malformed security descriptor (DACL size)", false};
        std::size_t at = dacl_at + 8;
        const std::size_t end = dacl_at + acl_size;
        constexpr ACCESS_MASK reads =
            FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_DAC | WRITE_OWNER;
        constexpr ACCESS_MASK writes = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA |
                                       FILE_WRITE_ATTRIBUTES | DELETE | WRITE_DAC | WRITE_OWNER |
                                       GENERIC_WRITE | GENERIC_ALL;
        for (std::size_t i = 0; i < count; ++i) {
            // ACE_HEADER: type, flags, size.
            if (end - at < 4)
                return access_problem{"has a malformed security descriptor (ACE)", false};
            const std::uint8_t type = sd[at], flags = sd[at + 1];
            const std::size_t size = u16(at + 2);
            if (size < 4 || size > end - at)
                return access_problem{"has a malformed security descriptor (ACE size)", false};
            const std::size_t ace = at;
            at += size;
            if (flags & INHERIT_ONLY_ACE)
                continue; // for what is created inside, not for this item
            if (type == ACCESS_DENIED_ACE_TYPE || type == ACCESS_DENIED_CALLBACK_ACE_TYPE)
                continue; // only narrows
            if (type != ACCESS_ALLOWED_ACE_TYPE && type != ACCESS_ALLOWED_CALLBACK_ACE_TYPE)
                return access_problem{"its DACL holds an entry of type " + std::to_string(type) +
                                          " that fcs cannot judge",
                                      true};
            if (size < 16)
                return access_problem{"has a malformed security descriptor (ACE size)", false};
            const ACCESS_MASK mask = u32(ace + 4);
            auto who = windows_sid::parse(sd.subspan(ace + 8, size - 8));
            if (!who)
                return access_problem{"has a malformed security descriptor (ACE SID)", false};
            if (secret) {
                if ((mask & (reads | writes)) && !trusted(*who))
                    return access_problem{"its DACL lets " + describe(*who) +
                                              " access it; a private key must be accessible "
                                              "only by Administrators, SYSTEM and the service "
                                              "account",
                                          true};
            } else if ((mask & writes) && !trusted_writer(*who)) {
                return access_problem{"its DACL lets " + describe(*who) +
                                          " change it; a certificate must be writable only by "
                                          "Administrators and SYSTEM",
                                      true};
            }
        }
        return std::nullopt;
    }

private:
    bool trusted(const windows_sid& s) const {
        return s == windows_sid::local_system() || s == windows_sid::administrators() ||
               (service_sid_ && s == *service_sid_) || s == self_sid_;
    }
    bool trusted_writer(const windows_sid& s) const {
        return s == windows_sid::local_system() || s == windows_sid::administrators() ||
               (opts_.service_writes && service_sid_ && s == *service_sid_) || s == self_sid_;
    }
    std::string describe(const windows_sid& s) const {
        if (s == windows_sid::users())
            return "BUILTIN\\Users (" + s.str() + ")";
        if (s == windows_sid::make(1, std::array<std::uint32_t, 1>{0}))
            return "Everyone (" + s.str() + ")";
        if (s == windows_sid::make(5, std::array<std::uint32_t, 1>{11}))
            return "Authenticated Users (" + s.str() + ")";
        return s.str();
    }

    /// A protected DACL, ACE by ACE, in a self-relative descriptor without owner (the creator's
    /// default owner: Administrators for an elevated admin, SYSTEM for a system service).
    std::vector<std::uint8_t> build(item_class c, bool folder) const {
        struct entry {
            const windows_sid* sid;
            ACCESS_MASK mask;
        };
        const windows_sid system = windows_sid::local_system(),
                          admins = windows_sid::administrators(), users = windows_sid::users();
        std::vector<entry> entries{{&system, full_control}, {&admins, full_control}};
        const ACCESS_MASK read = folder ? read_folder : read_file;
        if (service_sid_)
            entries.push_back({&*service_sid_, opts_.service_writes ? modify : read});
        if (c == item_class::public_item)
            entries.push_back({&users, read});
        const BYTE inherit = folder ? (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE) : 0;

        DWORD acl_size = sizeof(ACL);
        for (auto& e : entries)
            acl_size += sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD) + ::GetLengthSid(e.sid->get());
        std::vector<DWORD> acl_buf((acl_size + sizeof(DWORD) - 1) / sizeof(DWORD));
        auto* acl = reinterpret_cast<PACL>(acl_buf.data());
        const std::string what = folder ? "folder DACL" : "file DACL";
        if (!::InitializeAcl(acl, acl_size, ACL_REVISION))
            detail::throw_win32(what, "initialize the DACL");
        for (auto& e : entries)
            if (!::AddAccessAllowedAceEx(acl, ACL_REVISION, inherit, e.mask, e.sid->get()))
                detail::throw_win32(what, "add the entry for " + e.sid->str());
        SECURITY_DESCRIPTOR sd;
        if (!::InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION) ||
            !::SetSecurityDescriptorDacl(&sd, TRUE, acl, FALSE) ||
            !::SetSecurityDescriptorControl(&sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED))
            detail::throw_win32(what, "make the security descriptor");
        DWORD len = 0;
        ::MakeSelfRelativeSD(&sd, nullptr, &len);
        if (len == 0)
            detail::throw_win32(what, "size the self-relative security descriptor");
        std::vector<std::uint8_t> out(len);
        if (!::MakeSelfRelativeSD(&sd, out.data(), &len))
            detail::throw_win32(what, "make the self-relative security descriptor");
        out.resize(len);
        return out;
    }

    options opts_;
    std::optional<windows_sid> service_sid_;
    windows_sid self_sid_ = windows_sid::local_system(); // set in the constructor
    std::vector<std::uint8_t> descriptors_[2][2];        // [public, secret][file, folder]
};

static_assert(policy::Acl<windows>, "acl::windows must satisfy fcs::policy::Acl");

} // namespace fcs::acl

#endif // FCS_ACL_WINDOWS_HPP
