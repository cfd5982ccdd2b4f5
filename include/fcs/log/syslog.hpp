#ifndef FCS_LOG_SYSLOG_HPP
#define FCS_LOG_SYSLOG_HPP

// The message log through syslog(3): what rsyslog or journald (on /dev/log) receive. Needs
// nothing beyond the C library.

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>

#include <array>
#include <cassert>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

#include <syslog.h>

namespace fcs::log {

/// The syslog(3) priority of a message level: error LOG_ERR, warning LOG_WARNING, info
/// LOG_INFO, debug LOG_DEBUG (journald's PRIORITY= uses the same numbers).
constexpr int syslog_priority(policy::level l) noexcept {
    switch (l) {
    case policy::level::debug:
        return LOG_DEBUG;
    case policy::level::info:
        return LOG_INFO;
    case policy::level::warning:
        return LOG_WARNING;
    case policy::level::error:
        return LOG_ERR;
    }
    return LOG_ERR;
}

/// The longest identifier syslog and journal sinks take (journald truncates longer ones).
inline constexpr std::size_t max_ident_size = 64;

} // namespace fcs::log

namespace fcs::detail {
/// Checks an identifier: 1 to log::max_ident_size printable characters without spaces, ':', '['
/// (the characters that end the tag in a syslog line). Throws fcs::error naming `sink`.
inline void check_log_ident(std::string_view ident, const char* sink) {
    bool ok = !ident.empty() && ident.size() <= log::max_ident_size;
    for (unsigned char c : ident)
        ok = ok && c > 0x20 && c < 0x7f && c != ':' && c != '[' && c != ']';
    if (!ok)
        throw error(errc::invalid_argument, std::string(sink), "configure",
                    "the identifier \"" + std::string(ident.substr(0, log::max_ident_size)) +
                        "\" must be 1 to " + std::to_string(log::max_ident_size) +
                        " printable characters without spaces, ':', '[' or ']'");
}

/// syslog(3) keeps one identifier per process, by pointer: every fcs syslog sink writes under
/// this lock, with its own identifier in this buffer, which lives as long as the process.
struct syslog_state {
    std::mutex mutex;
    std::array<char, log::max_ident_size + 1> ident{}; ///< the buffer openlog() points to
};
inline syslog_state& syslog_global() {
    static syslog_state s;
    return s;
}
} // namespace fcs::detail

namespace fcs::log {

/**
 * Sends each message to syslog(3) (the local socket /dev/log) with the sink's identifier and
 * facility; levels map as syslog_priority() says. A message is one line: line breaks become
 * spaces, as in the file sink.
 *
 * syslog(3) keeps its identifier per process; several fcs::log::syslog sinks with different
 * identifiers take turns under one lock. Other code of the program that calls syslog(3)
 * itself logs under the identifier of the last fcs message, until it calls openlog() again.
 *
 * @throws fcs::error (errc::invalid_argument) from the constructor for an identifier that a
 *         syslog line cannot carry (see detail::check_log_ident).
 *
 * Example: `fcs::log::syslog sink("fcs-failover-server", LOG_DAEMON);`
 */
class syslog {
public:
    using policy_kind = policy::kind::log;

    explicit syslog(std::string ident = "fcs", int facility = LOG_DAEMON,
                    int options = LOG_PID | LOG_NDELAY)
        : ident_(std::move(ident))
        , facility_(facility)
        , options_(options) {
        detail::check_log_ident(ident_, "log::syslog");
        assert((facility & ~LOG_FACMASK) == 0 && "a facility is LOG_DAEMON, LOG_LOCAL0 and so on");
    }

    const std::string& ident() const noexcept { return ident_; }
    int facility() const noexcept { return facility_; }

    void write(policy::level l, std::string_view msg) {
        std::string line;
        line.reserve(msg.size());
        for (char c : msg) // one message, one line; no NUL cuts it short
            line.push_back(c == '\n' || c == '\r' || c == '\0' ? ' ' : c);
        auto& g = detail::syslog_global();
        std::lock_guard lock(g.mutex);
        // Opened again for every message: another sink, or a closelog() elsewhere in the
        // program, may have changed the identifier since (openlog() only sets it and, with
        // LOG_NDELAY, connects when not connected).
        if (std::strcmp(g.ident.data(), ident_.c_str()) != 0)
            std::memcpy(g.ident.data(), ident_.c_str(), ident_.size() + 1);
        ::openlog(g.ident.data(), options_, facility_);
        // The facility in the priority too: it is the sink's whatever openlog() last set.
        ::syslog(facility_ | syslog_priority(l), "%s", line.c_str());
    }

private:
    std::string ident_;
    int facility_;
    int options_;
};

} // namespace fcs::log

#endif // FCS_LOG_SYSLOG_HPP
