#ifndef FCS_SYSTEMD_NOTIFY_HPP
#define FCS_SYSTEMD_NOTIFY_HPP

// systemd's service notification protocol (sd_notify(3)) for a server run as a Type=notify unit,
// through libsystemd (CMake: link fcs::systemd; Debian: libsystemd-dev). Outside systemd
// (NOTIFY_SOCKET unset) every call does nothing.

#include <fcs/error.hpp>

#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace fcs::systemd {

/**
 * Tells the service manager where a server is in its life: READY=1 once it serves, RELOADING=1
 * and READY=1 around a reload, STOPPING=1, a STATUS= line, and WATCHDOG=1 keep-alives.
 *
 * Thread-safe: each message is one datagram (sd_notify opens its own socket per call). The
 * environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) is read, never unset, so a
 * notifier made later sees the same.
 *
 * Example:
 * @code
 *   fcs::systemd::notifier sd;
 *   // ... the pair is loaded, the socket listens:
 *   sd.ready("serving SHA-256 AB:CD...");
 *   if (auto every = sd.watchdog_interval()) { ... a timer: sd.watchdog() every *every / 2 ... }
 * @endcode
 */
class notifier {
public:
    /// True when a service manager listens (NOTIFY_SOCKET is set).
    bool enabled() const noexcept { return sd_booted_notify(); }

    /// READY=1 with a STATUS= line (empty: none).
    void ready(std::string_view status = {}) const { send("READY=1", status); }

    /**
     * RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, which systemd 253 and later ask for
     * to tell this reload from an earlier one), and a STATUS= line. Follow it with ready().
     */
    void reloading(std::string_view status = {}) const {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
                          static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
        send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status);
    }

    /// STOPPING=1 with a STATUS= line.
    void stopping(std::string_view status = {}) const { send("STOPPING=1", status); }

    /// STATUS= alone (shown by `systemctl status`).
    void status(std::string_view text) const { send("", text); }

    /// WATCHDOG=1: the keep-alive WatchdogSec= asks for.
    void watchdog() const { send("WATCHDOG=1", {}); }

    /**
     * The watchdog period systemd set (WATCHDOG_USEC, for this process when WATCHDOG_PID is
     * set), or nullopt when none is asked for. Send watchdog() at half of it, as
     * sd_watchdog_enabled(3) advises.
     */
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
        std::uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
            return std::nullopt;
        return std::chrono::microseconds(usec);
    }

private:
    static bool sd_booted_notify() noexcept {
        const char* s = std::getenv("NOTIFY_SOCKET");
        return s && *s;
    }

    /// One datagram: `fields` then STATUS= (newlines in it become spaces: one line).
    static void send(std::string message, std::string_view status) {
        if (!sd_booted_notify())
            return;
        if (!status.empty()) {
            if (!message.empty())
                message += '\n';
            message += "STATUS=";
            for (char c : status)
                message += (c == '\n' || c == '\r') ? ' ' : c;
        }
        // A manager that went away is not the server's failure: the result is deliberately
        // ignored (sd_notify returns < 0 then; nothing to retry).
        (void)sd_notify(0, message.c_str());
    }
};

/**
 * The listening socket systemd passed (socket activation: a .socket unit, or
 * systemd-socket-activate; LISTEN_FDS/LISTEN_PID), or nullopt when none was passed to this
 * process. The LISTEN_* variables are unset so a child does not take the socket for its own.
 * Hand it to fcs::tls::https_options::adopt_listener, which checks that it listens on TCP.
 * @throws fcs::error (invalid_argument) when more than one socket was passed, or when the
 *         variables cannot be read.
 */
inline std::optional<int> listen_socket() {
    const int n = sd_listen_fds(1);
    if (n == 0)
        return std::nullopt;
    if (n < 0)
        throw error(errc::invalid_argument, "LISTEN_FDS", "take the socket systemd passed",
                    "sd_listen_fds failed: error " + std::to_string(-n));
    if (n > 1)
        throw error(errc::invalid_argument, "LISTEN_FDS", "take the socket systemd passed",
                    std::to_string(n) + " sockets were passed; one is served");
    return SD_LISTEN_FDS_START;
}

} // namespace fcs::systemd

#endif // FCS_SYSTEMD_NOTIFY_HPP
