#ifndef FCS_ACL_NONE_HPP
#define FCS_ACL_NONE_HPP

#include <fcs/policy/concepts.hpp>

namespace fcs::acl {

/// No access rules beyond the defaults and no checks on load (tests, in-memory storage).
struct none {
    using policy_kind = policy::kind::acl;
    protections rules() const { return {}; }
    std::optional<access_problem> check(const file_facts&, item_class) const {
        return std::nullopt;
    }
};

} // namespace fcs::acl

#endif // FCS_ACL_NONE_HPP
