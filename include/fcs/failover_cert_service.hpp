#ifndef FCS_FAILOVER_CERT_SERVICE_HPP
#define FCS_FAILOVER_CERT_SERVICE_HPP

// The default policies (fcs/config.hpp), for the kinds a pack does not name.
#ifdef _WIN32
#include <fcs/acl/windows.hpp>
#else
#include <fcs/acl/posix.hpp>
#endif
#include <fcs/config.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/log/sinks.hpp>

#include <fcs/basic_service.hpp>
#include <fcs/service_types.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/policy/kind.hpp>

#include <tuple>
#include <type_traits>

namespace fcs {

namespace detail {
/// Checks a policy pack one rule at a time, so a bad pack gives exactly one message.
template <class... Ps>
struct pack_check {
    static constexpr bool all_policies = (policy::Policy<Ps> && ...);
    static constexpr bool unique = policy::count_of<policy::kind::storage, Ps...> <= 1 &&
                                   policy::count_of<policy::kind::acl, Ps...> <= 1 &&
                                   policy::count_of<policy::kind::crypto, Ps...> <= 1 &&
                                   policy::count_of<policy::kind::log, Ps...> <= 1 &&
                                   policy::count_of<policy::kind::clock, Ps...> <= 1;
    static constexpr bool has_storage = policy::count_of<policy::kind::storage, Ps...> == 1;

    struct missing {};
    using storage = policy::select_t<policy::kind::storage, missing, Ps...>;
    using acl = policy::select_t<policy::kind::acl, config::default_acl, Ps...>;
    using crypto = policy::select_t<policy::kind::crypto, config::default_crypto, Ps...>;
    using log = policy::select_t<policy::kind::log, config::default_log, Ps...>;
    using clock = policy::select_t<policy::kind::clock, config::default_clock, Ps...>;

    static constexpr bool shape = all_policies && unique && has_storage;
    static constexpr bool storage_ok = !shape || policy::Storage<storage>;
    static constexpr bool acl_ok = !shape || policy::Acl<acl>;
    static constexpr bool crypto_ok = !shape || policy::CryptoBackend<crypto>;
    static constexpr bool log_ok = !shape || policy::LogSink<log>;
    static constexpr bool clock_ok = !shape || policy::Clock<clock>;
    static constexpr bool valid = shape && storage_ok && acl_ok && crypto_ok && log_ok && clock_ok;
};

/// Stands in for the core when the pack is invalid, so only the static_assert is reported.
struct invalid_service {
    template <class... A>
    explicit invalid_service(A&&...) {}
};

/// The argument of kind K among `args`, else a default-constructed D.
template <class K, class D, class... Ps>
D take(std::tuple<Ps...>& args) {
    if constexpr (policy::count_of<K, Ps...> == 1)
        return std::move(std::get<policy::select_t<K, D, Ps...>>(args));
    else
        return D{};
}

template <class... Ps>
using service_base = std::conditional_t<
    pack_check<Ps...>::valid,
    basic_service<typename pack_check<Ps...>::storage, typename pack_check<Ps...>::acl,
                  typename pack_check<Ps...>::crypto, typename pack_check<Ps...>::log,
                  typename pack_check<Ps...>::clock>,
    invalid_service>;
} // namespace detail

/**
 * The failover/switchover certificate service, composed from policies chosen by kind, in any
 * order. A kind not named gets its default (fcs/config.hpp); the storage must be named.
 *
 * @tparam Policies storage (required), ACL, crypto backend, log sink, clock. Requirements:
 *         fcs/policy/concepts.hpp.
 *
 * Example:
 * @code
 *   using service = fcs::FailoverCertService<
 *       fcs::storage::directory<fcs::storage::failover_layout>, fcs::log::file>;
 *   service svc({}, fcs::storage::directory<fcs::storage::failover_layout>("/var/lib/app"),
 *               fcs::log::file("/var/lib/app/Logs/messages.log"));
 *   auto report = svc.start();   // generates, validates, archives, logs expiry
 * @endcode
 *
 * Members: declared and documented on fcs::basic_service (fcs/basic_service.hpp), of which
 * this class is the pack-resolving front; options and results in fcs/service_types.hpp and
 * fcs/types.hpp. In short:
 *  - `start_report start()`: opens the storage (makes its folders, finishes an interrupted
 *    change), validates what is stored, archives what is unusable, generates a pair when none
 *    is left (service_options::generate_when_missing), publishes it, logs the expiry finding.
 *  - `inspect_report inspect()`: what start() would use and do, read only: creates, repairs,
 *    replays, archives and logs nothing (status commands, monitoring).
 *  - `cert_status status() const`, `current()` (the credential in use, shared), `recheck()`
 *    (logs the expiry finding again).
 *  - `cert_status install(cert, key, cert_where, key_where)`: the admin's replacement,
 *    validated, the current pair backed up, committed as one step, published;
 *    `install_parsed(chain, key, ...)` for an already parsed pair.
 *  - `reload_result reload()`: re-reads the storage and publishes a better pair; changes no
 *    file.
 *  - `on_change(f)`: called with each newly published credential.
 *  - `read_item(part)` / `replace_item(part, expected, data)`: an item kept next to the pair
 *    (session-ticket keys), with the key's access check on read and compare-and-swap on write.
 *  - `options()`, `storage()`, `acl()`, `crypto()`, `log()`, `clock()`: the parts.
 * @throws fcs::error from start(), install(), inspect(): the message names the file, step and
 *         cause.
 */
template <class... Policies>
class FailoverCertService : public detail::service_base<Policies...> {
    using check = detail::pack_check<Policies...>;
    static_assert(
        check::all_policies,
        "fcs::FailoverCertService: every template argument must be a policy, a type "
        "that declares `using policy_kind = fcs::policy::kind::<storage|acl|crypto|log|clock>;` "
        "(requirements in fcs/policy/concepts.hpp)");
    static_assert(!check::all_policies || check::unique,
                  "fcs::FailoverCertService: the policy pack names the same kind twice; give at "
                  "most one storage, ACL, crypto, log and clock policy (fcs/policy/concepts.hpp)");
    static_assert(
        !(check::all_policies && check::unique) || check::has_storage,
        "fcs::FailoverCertService: a storage policy is required (for example "
        "fcs::storage::directory<fcs::storage::failover_layout>); see fcs/policy/concepts.hpp");
    static_assert(check::storage_ok,
                  "fcs::FailoverCertService: the storage policy does not meet fcs::policy::Storage "
                  "(requirements in fcs/policy/concepts.hpp)");
    static_assert(check::acl_ok,
                  "fcs::FailoverCertService: the ACL policy does not meet fcs::policy::Acl "
                  "(requirements in fcs/policy/concepts.hpp)");
    static_assert(
        check::crypto_ok,
        "fcs::FailoverCertService: the crypto policy does not meet fcs::policy::CryptoBackend "
        "(requirements in fcs/policy/concepts.hpp)");
    static_assert(check::log_ok,
                  "fcs::FailoverCertService: the log policy does not meet fcs::policy::LogSink "
                  "(requirements in fcs/policy/concepts.hpp)");
    static_assert(check::clock_ok,
                  "fcs::FailoverCertService: the clock policy does not meet fcs::policy::Clock "
                  "(requirements in fcs/policy/concepts.hpp)");

public:
    /// Policies are passed in any order; a kind not passed is default-constructed.
    explicit FailoverCertService(service_options options, Policies... policies)
        : FailoverCertService(std::move(options), std::tuple<Policies...>(std::move(policies)...)) {
    }

    /// Some of the pack's policies passed, in any order (at least the storage, which has no
    /// default); the others are default-constructed. For the short names of fcs/services.hpp:
    /// `fcs::folder_service<> svc(opts, fcs::storage::directory<...>(root), fcs::log::file(p));`
    template <class... Given>
    requires(sizeof...(Given) < sizeof...(Policies) &&
             (policy::Policy<std::remove_cvref_t<Given>> &&
              ...)) explicit FailoverCertService(service_options options, Given&&... given)
        : FailoverCertService(std::move(options), std::tuple<std::remove_cvref_t<Given>...>(
                                                      std::forward<Given>(given)...)) {}

private:
    template <class... Gs>
    FailoverCertService(service_options options, std::tuple<Gs...> args)
        : detail::service_base<Policies...>(
              std::move(options),
              detail::take<policy::kind::storage, typename check::storage>(args),
              detail::take<policy::kind::acl, typename check::acl>(args),
              detail::take<policy::kind::crypto, typename check::crypto>(args),
              detail::take<policy::kind::log, typename check::log>(args),
              detail::take<policy::kind::clock, typename check::clock>(args)) {}
};

} // namespace fcs

#endif // FCS_FAILOVER_CERT_SERVICE_HPP
