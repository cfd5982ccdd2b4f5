#ifndef FCS_POLICY_KIND_HPP
#define FCS_POLICY_KIND_HPP

#include <cstddef>
#include <type_traits>

namespace fcs::policy {

/// Kind tags. A policy opts in by declaring `using policy_kind = fcs::policy::kind::X;`, so
/// no type satisfies a policy concept by accident.
namespace kind {
struct storage {};
struct acl {};
struct crypto {};
struct log {};
struct clock {};
} // namespace kind

/// True when T declares a policy_kind.
template <class T>
concept Policy = requires {
    typename T::policy_kind;
};

template <class T, class Kind>
concept PolicyOf = Policy<T> && std::is_same_v<typename T::policy_kind, Kind>;

namespace detail {
template <class Kind, class T>
constexpr std::size_t is_of_kind() {
    if constexpr (PolicyOf<T, Kind>)
        return 1;
    else
        return 0;
}
template <class Kind, class Default, class... Ps>
struct select_impl {
    using type = Default;
};
template <class Kind, class Default, class P, class... Ps>
struct select_impl<Kind, Default, P, Ps...> {
    using type = std::conditional_t<is_of_kind<Kind, P>() == 1, P,
                                    typename select_impl<Kind, Default, Ps...>::type>;
};
} // namespace detail

/// How many policies of Kind the pack names.
template <class Kind, class... Ps>
inline constexpr std::size_t count_of = (std::size_t{0} + ... + detail::is_of_kind<Kind, Ps>());

/// The policy of Kind in the pack (the first one), else Default.
template <class Kind, class Default, class... Ps>
using select_t = typename detail::select_impl<Kind, Default, Ps...>::type;

/// The pack holds the type T (used to pick a constructor argument by type).
template <class T, class... Ps>
inline constexpr bool contains = (std::is_same_v<T, Ps> || ...);

} // namespace fcs::policy

#endif // FCS_POLICY_KIND_HPP
