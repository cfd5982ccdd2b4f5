#ifndef FCS_ACL_POSIX_HPP
#define FCS_ACL_POSIX_HPP

#include <fcs/detail/posix_acl.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>

#include <cstdio>
#include <optional>
#include <string>

#include <grp.h>
#include <pwd.h>
#include <sys/acl.h>
#include <unistd.h>

namespace fcs::acl {

/**
 * POSIX access rules, as the vendor documents them: certificates readable by all users and
 * the service account (folder 0755, files 0644); keys only by admins and the service account
 * (folder 0700, files 0600). When a service account is configured and the process runs as
 * root, items are owned by it. An optional admin group gets read access to the secret folders
 * through a POSIX ACL entry (libacl), as the vendor grants "machine administrators".
 *
 * On load, a secret file with any group/other bit, or a file owned by someone other than the
 * service account or root, is a finding ("permissions 0644 on Certificates/Keys/x.key are too
 * open"): see check().
 */
class posix {
public:
    using policy_kind = policy::kind::acl;

    struct options {
        std::string service_user; ///< owner of created items (only applied as root)
        std::string admin_group;  ///< group granted read access to secret folders/files
    };

    posix() = default;
    explicit posix(options o)
        : opts_(std::move(o)) {
        if (!opts_.service_user.empty()) {
            struct passwd* pw = ::getpwnam(opts_.service_user.c_str());
            if (!pw)
                throw error(errc::invalid_argument, "", "configure ACL",
                            "service account '" + opts_.service_user + "' does not exist");
            uid_ = pw->pw_uid;
            gid_ = pw->pw_gid;
        }
        if (!opts_.admin_group.empty()) {
            struct group* gr = ::getgrnam(opts_.admin_group.c_str());
            if (!gr)
                throw error(errc::invalid_argument, "", "configure ACL",
                            "admin group '" + opts_.admin_group + "' does not exist");
            admin_gid_ = gr->gr_gid;
        }
    }

    protections rules() const {
        protections p;
        p.public_items = {0755, 0644};
        p.secret_items = {0700, 0600};
        if (uid_ && ::geteuid() == 0) {
            p.public_items.uid = p.secret_items.uid = *uid_;
            p.public_items.gid = p.secret_items.gid = *gid_;
        }
        if (admin_gid_) {
            // With POSIX ACLs the group bits are the ACL mask: r-x lets the named admin group
            // in, while the owning group's own entry stays --- (set by grant_group).
            p.secret_items.dir_mode = 0750;
            p.secret_items.file_mode = 0640;
            gid_t g = *admin_gid_;
            p.extend_folder = [g](int fd, const std::string& where, item_class c) {
                if (c == item_class::secret_item)
                    grant_group(fd, where, g);
            };
        }
        return p;
    }

    /// What is wrong with a loaded file, if anything. A foreign owner, a hard link and an
    /// access entry for anyone but the admin group are never `mode_only`: a chmod does not
    /// undo them. With an admin group, a group-readable key is accepted only when the reader
    /// through the group bits is that group alone: the file's group is the admin group (no
    /// extended ACL), or its ACL gives the owning group nothing and names only the admin group.
    std::optional<access_problem> check(const file_facts& f, item_class c) const {
        const uid_t me = uid_ ? *uid_ : ::geteuid();
        if (f.uid != me && f.uid != 0)
            return access_problem{"owned by uid " + std::to_string(f.uid) +
                                      ", not by the service account or root",
                                  false};
        if (c == item_class::public_item) {
            if (f.mode & 0022)
                return access_problem{"permissions " + octal(f.mode) +
                                          " are too open; a certificate must not be writable "
                                          "by group or others (0644)",
                                      true};
            return std::nullopt;
        }
        if (f.links > 1)
            return access_problem{"has " + std::to_string(f.links) +
                                      " hard links; refusing a key that is reachable under "
                                      "another name",
                                  false};
        const mode_t allowed = admin_gid_ ? 0040 : 0; // the ACL mask, see rules()
        if (f.mode & 0077 & ~allowed)
            return access_problem{"permissions " + octal(f.mode) +
                                      " are too open; a private key must not be accessible by "
                                      "group or others (0600)",
                                  true};
        const bool group_reads = (f.mode & 0070) != 0;
        if (!group_reads)
            return std::nullopt;     // the mask (or the group bits) lets no one else in
        if (!f.owning_group_perms) { // plain mode bits: the file's group reads it
            if (f.gid != *admin_gid_)
                return access_problem{"readable by group " + std::to_string(f.gid) +
                                          ", which is not the admin group " +
                                          std::to_string(*admin_gid_),
                                      false};
            return std::nullopt;
        }
        if (*f.owning_group_perms != 0)
            return access_problem{"its ACL lets the owning group " + std::to_string(f.gid) +
                                      " read it; only the admin group may",
                                  false};
        for (auto& e : f.named)
            if (e.perms != 0 && (!e.group || e.id != *admin_gid_))
                return access_problem{std::string("its ACL grants ") +
                                          (e.group ? "group " : "user ") + std::to_string(e.id) +
                                          " access; only the admin group may read a key",
                                      false};
        return std::nullopt;
    }

    std::optional<gid_t> admin_group() const { return admin_gid_; }

private:
    static std::string octal(mode_t m) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
        return buf;
    }

    /// Adds "group:G:r-x" (and the default ACL for new files "group:G:r--") to the folder.
    static void grant_group(int fd, const std::string& where, gid_t g) {
        auto set = [&](acl_type_t type, acl_perm_t perms) {
            detail::unique_acl acl(type == ACL_TYPE_DEFAULT
                                       ? ::acl_from_text("u::rwx,g::---,o::---,m::r-x")
                                       : ::acl_get_fd(fd));
            if (!acl)
                throw error(errc::io_failed, where, "read ACL", "acl_get_fd failed");
            acl_t raw = acl.release(); // acl_create_entry may move the ACL
            acl_entry_t entry;
            acl_permset_t ps;
            bool ok = ::acl_create_entry(&raw, &entry) == 0;
            acl.reset(raw);
            ok = ok && ::acl_set_tag_type(entry, ACL_GROUP) == 0 &&
                 ::acl_set_qualifier(entry, &g) == 0 && ::acl_get_permset(entry, &ps) == 0 &&
                 ::acl_clear_perms(ps) == 0 && ::acl_add_perm(ps, perms) == 0;
            raw = acl.release();
            ok = ok && ::acl_calc_mask(&raw) == 0;
            acl.reset(raw);
            int rc = -1;
            if (ok) {
                if (type == ACL_TYPE_ACCESS)
                    rc = ::acl_set_fd(fd, acl.get());
                else {
                    // Default ACLs can only be set by path; /proc/self/fd names our opened folder.
                    std::string path = "/proc/self/fd/" + std::to_string(fd);
                    rc = ::acl_set_file(path.c_str(), ACL_TYPE_DEFAULT, acl.get());
                }
            }
            if (rc != 0)
                throw error(errc::io_failed, where, "set ACL",
                            "could not grant the admin group access (does the file system support "
                            "POSIX ACLs?)");
        };
        set(ACL_TYPE_ACCESS, ACL_READ | ACL_EXECUTE);
        set(ACL_TYPE_DEFAULT, ACL_READ);
    }

    options opts_;
    std::optional<uid_t> uid_;
    std::optional<gid_t> gid_;
    std::optional<gid_t> admin_gid_;
};

} // namespace fcs::acl

#endif // FCS_ACL_POSIX_HPP
