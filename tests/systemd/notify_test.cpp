// fcs/systemd/notify.hpp against a NOTIFY_SOCKET this test binds (what systemd listens on):
// the datagrams sd_notify sends, and the watchdog period from WATCHDOG_USEC/WATCHDOG_PID.
#include <fcs/systemd/notify.hpp>
#include <fcs/systemd/notify.hpp> // guard

#include "support/unix_receiver.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A NOTIFY_SOCKET in a fresh folder, set in the environment for the test's duration.
struct notify_socket {
    fs::path dir = fs::temp_directory_path() / ("fcs-notify-" + std::to_string(::getpid()));
    std::optional<fcs::test::unix_datagram_receiver> rx;
    notify_socket() {
        fs::remove_all(dir);
        fs::create_directory(dir);
        rx.emplace(dir / "notify");
        ::setenv("NOTIFY_SOCKET", (dir / "notify").c_str(), 1);
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
    }
    ~notify_socket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
        rx.reset();
        fs::remove_all(dir);
    }
    std::string next() {
        auto d = rx->receive(5s);
        BOOST_REQUIRE_MESSAGE(d, "no datagram on NOTIFY_SOCKET");
        return *d;
    }
};

std::uint64_t monotonic_usec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace

BOOST_AUTO_TEST_SUITE(systemd_notify)

BOOST_AUTO_TEST_CASE(each_state_is_one_datagram_with_its_status_line) {
    notify_socket ns;
    fcs::systemd::notifier sd;
    BOOST_TEST(sd.enabled());
    sd.ready("serving SHA-256 AB:CD");
    BOOST_TEST(ns.next() == "READY=1\nSTATUS=serving SHA-256 AB:CD");
    sd.ready();
    BOOST_TEST(ns.next() == "READY=1");
    sd.stopping("stopping on SIGTERM");
    BOOST_TEST(ns.next() == "STOPPING=1\nSTATUS=stopping on SIGTERM");
    sd.status("two\nlines\r");
    BOOST_TEST(ns.next() == "STATUS=two lines ", "a STATUS= line stays one line");
    sd.watchdog();
    BOOST_TEST(ns.next() == "WATCHDOG=1");
}

BOOST_AUTO_TEST_CASE(reloading_carries_the_monotonic_clock) {
    notify_socket ns;
    fcs::systemd::notifier sd;
    const auto before = monotonic_usec();
    sd.reloading("reloading after SIGHUP");
    const auto after = monotonic_usec();
    auto d = ns.next();
    const std::string head = "RELOADING=1\nMONOTONIC_USEC=";
    BOOST_REQUIRE(d.starts_with(head));
    auto nl = d.find('\n', head.size());
    BOOST_REQUIRE(nl != std::string::npos);
    const auto usec = std::stoull(d.substr(head.size(), nl - head.size()));
    BOOST_TEST(usec >= before);
    BOOST_TEST(usec <= after);
    BOOST_TEST(d.substr(nl + 1) == "STATUS=reloading after SIGHUP");
}

BOOST_AUTO_TEST_CASE(the_watchdog_period_is_this_process_s_only) {
    notify_socket ns;
    fcs::systemd::notifier sd;
    BOOST_TEST(!sd.watchdog_interval().has_value());
    ::setenv("WATCHDOG_USEC", "500000", 1);
    BOOST_TEST(sd.watchdog_interval().value_or(0us).count() == 500000);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    BOOST_TEST(sd.watchdog_interval().value_or(0us).count() == 500000);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    BOOST_TEST(!sd.watchdog_interval().has_value(), "another process's watchdog");
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("WATCHDOG_USEC", "0", 1);
    BOOST_TEST(!sd.watchdog_interval().has_value());
    BOOST_TEST(std::getenv("NOTIFY_SOCKET") != nullptr, "the environment is left as it was");
}

BOOST_AUTO_TEST_CASE(outside_systemd_nothing_is_sent) {
    notify_socket ns;
    ::unsetenv("NOTIFY_SOCKET");
    fcs::systemd::notifier sd;
    BOOST_TEST(!sd.enabled());
    sd.ready("x");
    sd.stopping();
    sd.watchdog();
    BOOST_TEST(!ns.rx->receive(200ms).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
