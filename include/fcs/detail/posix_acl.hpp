#ifndef FCS_DETAIL_POSIX_ACL_HPP
#define FCS_DETAIL_POSIX_ACL_HPP

// POSIX ACLs (libacl): an owning handle, and the extended entries of an open file as
// file_facts sees them.

#include <fcs/types.hpp>

#include <memory>

#include <acl/libacl.h>
#include <sys/acl.h>

namespace fcs::detail {

struct acl_deleter {
    void operator()(void* a) const noexcept { ::acl_free(a); }
};
/// Owns an acl_t (acl_t is a pointer type).
using unique_acl = std::unique_ptr<std::remove_pointer_t<acl_t>, acl_deleter>;

/// Adds the owning group's own bits and the named entries of `fd`'s ACL to `f`, when the
/// file has an extended ACL (one with a mask). A file system without ACLs leaves `f` as it is.
inline void add_acl_facts(int fd, file_facts& f) {
    if (::acl_extended_fd(fd) != 1)
        return;
    unique_acl acl(::acl_get_fd(fd));
    if (!acl)
        return;
    auto perms_of = [](acl_entry_t e) {
        acl_permset_t ps;
        if (::acl_get_permset(e, &ps) != 0)
            return 07u; // unreadable: assume the worst
        return (::acl_get_perm(ps, ACL_READ) == 1 ? 04u : 0u) |
               (::acl_get_perm(ps, ACL_WRITE) == 1 ? 02u : 0u) |
               (::acl_get_perm(ps, ACL_EXECUTE) == 1 ? 01u : 0u);
    };
    acl_entry_t e;
    for (int which = ACL_FIRST_ENTRY; ::acl_get_entry(acl.get(), which, &e) == 1;
         which = ACL_NEXT_ENTRY) {
        acl_tag_t tag;
        if (::acl_get_tag_type(e, &tag) != 0)
            continue;
        if (tag == ACL_GROUP_OBJ) {
            f.owning_group_perms = perms_of(e);
        } else if (tag == ACL_USER || tag == ACL_GROUP) {
            void* q = ::acl_get_qualifier(e);
            std::uint32_t id = 0;
            if (q) {
                id = tag == ACL_USER ? *static_cast<uid_t*>(q) : *static_cast<gid_t*>(q);
                ::acl_free(q);
            }
            f.named.push_back({tag == ACL_GROUP, id, perms_of(e)});
        }
    }
    if (!f.owning_group_perms)
        f.owning_group_perms = 07u; // an extended ACL without the entry: assume the worst
}

} // namespace fcs::detail

#endif // FCS_DETAIL_POSIX_ACL_HPP
