#ifndef FCS_LOG_JOURNAL_HPP
#define FCS_LOG_JOURNAL_HPP

// The message log as structured journal entries, through libsystemd's sd_journal_sendv (CMake:
// link fcs::journal; Debian: libsystemd-dev). Only programs that include this header need
// libsystemd.

#include <fcs/detail/movable_mutex.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/log/syslog.hpp>
#include <fcs/policy/concepts.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

namespace fcs::log {

/**
 * Sends each message to the systemd journal as one entry: MESSAGE, PRIORITY (the syslog
 * numbers of syslog_priority()), SYSLOG_IDENTIFIER, SYSLOG_FACILITY, and for the events the
 * core describes with policy::log_fields the fields FCS_EVENT, FCS_CERT_NAME and
 * FCS_FINGERPRINT, so `journalctl FCS_EVENT=expiring` or `journalctl FCS_FINGERPRINT=...` finds
 * them. A message keeps its line breaks (the journal stores any bytes).
 *
 * When the journal cannot be reached the message goes to stderr as a message-log line instead,
 * and the failure is said there once per run of failures.
 *
 * @throws fcs::error (errc::invalid_argument) from the constructor for an identifier
 *         journald would not show as is (see detail::check_log_ident).
 *
 * Example: `fcs::log::journal sink("fcs-failover-server");`
 */
class journal {
public:
    using policy_kind = policy::kind::log;

    /// Where journald listens (libsystemd sends there; fixed by systemd).
    static constexpr const char* socket_path = "/run/systemd/journal/socket";

    explicit journal(std::string ident = "fcs", int facility = LOG_DAEMON)
        : ident_field_("SYSLOG_IDENTIFIER=" + ident)
        , facility_field_("SYSLOG_FACILITY=" + std::to_string(facility >> 3)) {
        detail::check_log_ident(ident, "log::journal");
    }

    void write(policy::level l, std::string_view msg) { write(l, msg, {}); }

    void write(policy::level l, std::string_view msg, const policy::log_fields& f) {
        const std::string message = "MESSAGE=" + std::string(msg);
        const std::string priority = "PRIORITY=" + std::to_string(syslog_priority(l));
        std::string extra[3];
        iovec iov[7];
        int n = 0;
        auto add = [&](const std::string& field) {
            iov[n].iov_base = const_cast<char*>(field.data());
            iov[n].iov_len = field.size();
            ++n;
        };
        add(message);
        add(priority);
        add(ident_field_);
        add(facility_field_);
        const std::pair<const char*, std::string_view> named[] = {
            {"FCS_EVENT=", f.event},
            {"FCS_CERT_NAME=", f.cert_name},
            {"FCS_FINGERPRINT=", f.fingerprint}};
        for (std::size_t i = 0; i < 3; ++i)
            if (!named[i].second.empty()) {
                extra[i] = named[i].first + std::string(named[i].second);
                add(extra[i]);
            }
        // libsystemd drops an entry silently when journald's socket does not exist (no
        // systemd): looked for first, so the message goes to stderr instead of nowhere. The
        // parenthesised name is the function, not the macro that would add CODE_FILE= and
        // CODE_LINE= of this header to every entry.
        const int r = ::access(socket_path, F_OK) != 0 ? -ENOENT : (sd_journal_sendv)(iov, n);
        std::lock_guard lock(mutex_);
        if (r < 0) {
            // Said once until a send succeeds again; the message itself is not lost.
            if (!failed_)
                say_on_stderr("fcs: journal: sending failed: " + std::string(std::strerror(-r)) +
                              "; messages go to stderr\n");
            say_on_stderr(format_line(std::chrono::system_clock::now(), l, msg));
        }
        failed_ = r < 0;
    }

private:
    static void say_on_stderr(const std::string& text) {
        (void)!::write(2, text.data(), text.size());
    }

    std::string ident_field_;
    std::string facility_field_;
    bool failed_ = false; ///< the last send failed (said once on stderr)
    fcs::detail::movable_mutex mutex_;
};

} // namespace fcs::log

#endif // FCS_LOG_JOURNAL_HPP
