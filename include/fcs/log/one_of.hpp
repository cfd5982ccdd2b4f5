#ifndef FCS_LOG_ONE_OF_HPP
#define FCS_LOG_ONE_OF_HPP

// A log sink chosen at run time (a command-line option) among sinks fixed at compile time.

#include <fcs/policy/concepts.hpp>

#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace fcs::log {

/**
 * Holds one of `Sinks` and passes every message to it, with its fields where that sink keeps
 * them (policy::write_log). The service's type stays one type whichever sink the program's
 * configuration picks.
 *
 * @tparam Sinks log sinks (fcs::policy::LogSink), each named once.
 *
 * Example:
 *     using sink = fcs::log::one_of<fcs::log::file, fcs::log::syslog>;
 *     sink s = use_syslog ? sink(fcs::log::syslog("app")) : sink(fcs::log::file(path));
 */
template <class... Sinks>
class one_of {
    static_assert(sizeof...(Sinks) > 0, "fcs::log::one_of: name at least one sink");
    static_assert((policy::LogSink<Sinks> && ...),
                  "fcs::log::one_of: every alternative must meet fcs::policy::LogSink (the "
                  "requirements are in fcs/policy/concepts.hpp)");

public:
    using policy_kind = policy::kind::log;

    /// Holds `sink`, one of Sinks.
    template <class S>
    requires(std::is_same_v<std::remove_cvref_t<S>, Sinks> || ...)
        one_of(S&& sink) // NOLINT(google-explicit-constructor): a sink is one of its alternatives
        : sink_(std::in_place_type<std::remove_cvref_t<S>>, std::forward<S>(sink)) {}

    void write(policy::level l, std::string_view msg) {
        std::visit([&](auto& s) { s.write(l, msg); }, sink_);
    }
    void write(policy::level l, std::string_view msg, const policy::log_fields& f) {
        std::visit([&](auto& s) { policy::write_log(s, l, msg, f); }, sink_);
    }

    /// The sink held, if it is an S (else null).
    template <class S>
    S* get() noexcept {
        return std::get_if<S>(&sink_);
    }
    template <class S>
    const S* get() const noexcept {
        return std::get_if<S>(&sink_);
    }

private:
    std::variant<Sinks...> sink_;
};

} // namespace fcs::log

#endif // FCS_LOG_ONE_OF_HPP
