// fcs/log/syslog.hpp against a real receiver: the datagrams syslog(3) sends to /dev/log, read
// from a socket this test binds there (see tests/support/unix_receiver.hpp).
#include <fcs/log/syslog.hpp>
#include <fcs/log/syslog.hpp> // guard

#include "support/unix_receiver.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>

#include <unistd.h>

namespace {

const char* const dev_log = "/dev/log";

struct syslog_line {
    int priority = -1;
    std::string ident;
    long pid = -1;
    std::string message;
};

/// glibc's "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE".
syslog_line parse(const std::string& datagram) {
    static const std::regex line(
        R"(<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\[ ]+)\[(\d+)\]: (.*))");
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_match(datagram, m, line), "not a syslog line: " << datagram);
    return {std::stoi(m[1]), m[2], std::stol(m[3]), m[4]};
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_syslog,
                      *boost::unit_test::precondition(fcs::test::socket_path_free{dev_log}))

BOOST_AUTO_TEST_CASE(each_level_arrives_with_its_priority_facility_and_identifier) {
    fcs::test::unix_datagram_receiver rx(dev_log);
    fcs::log::syslog sink("fcs-test", LOG_LOCAL3);
    static_assert(fcs::policy::LogSink<fcs::log::syslog>);
    const std::pair<fcs::policy::level, int> levels[] = {{fcs::policy::level::debug, LOG_DEBUG},
                                                         {fcs::policy::level::info, LOG_INFO},
                                                         {fcs::policy::level::warning, LOG_WARNING},
                                                         {fcs::policy::level::error, LOG_ERR}};
    for (auto [level, priority] : levels) {
        sink.write(level, std::string("message at ") + fcs::policy::to_string(level));
        auto d = rx.receive();
        BOOST_REQUIRE_MESSAGE(d, "nothing arrived at /dev/log");
        auto l = parse(*d);
        BOOST_TEST(l.priority == (LOG_LOCAL3 | priority));
        BOOST_TEST(l.ident == "fcs-test");
        BOOST_TEST(l.pid == static_cast<long>(::getpid()));
        BOOST_TEST(l.message == std::string("message at ") + fcs::policy::to_string(level));
    }
    ::closelog();
}

BOOST_AUTO_TEST_CASE(a_message_is_one_line_and_not_a_format_string) {
    fcs::test::unix_datagram_receiver rx(dev_log);
    fcs::log::syslog sink("fcs-test");
    sink.write(fcs::policy::level::warning, "two\nlines %s %n 100%");
    auto d = rx.receive();
    BOOST_REQUIRE(d);
    auto l = parse(*d);
    BOOST_TEST(l.message == "two lines %s %n 100%");
    BOOST_TEST(l.priority == (LOG_DAEMON | LOG_WARNING));
    ::closelog();
}

BOOST_AUTO_TEST_CASE(sinks_with_different_identifiers_and_facilities_take_turns) {
    fcs::test::unix_datagram_receiver rx(dev_log);
    fcs::log::syslog a("fcs-one", LOG_LOCAL1);
    fcs::log::syslog b("fcs-two", LOG_LOCAL2);
    for (int i = 0; i < 3; ++i) {
        a.write(fcs::policy::level::info, "from one");
        b.write(fcs::policy::level::error, "from two");
        auto da = rx.receive();
        auto db = rx.receive();
        BOOST_REQUIRE(da && db);
        auto la = parse(*da);
        auto lb = parse(*db);
        BOOST_TEST((la.ident == "fcs-one" && la.message == "from one"));
        BOOST_TEST(la.priority == (LOG_LOCAL1 | LOG_INFO));
        BOOST_TEST((lb.ident == "fcs-two" && lb.message == "from two"));
        BOOST_TEST(lb.priority == (LOG_LOCAL2 | LOG_ERR));
    }
    ::closelog();
}

BOOST_AUTO_TEST_SUITE_END()

// No socket needed: the identifier is checked before anything is sent.
BOOST_AUTO_TEST_SUITE(log_ident)

BOOST_AUTO_TEST_CASE(an_identifier_a_syslog_line_cannot_carry_is_refused) {
    for (std::string bad : {std::string(), std::string("has space"), std::string("a:b"),
                            std::string("a[1]"), std::string("tab\there"), std::string(65, 'x')}) {
        try {
            fcs::log::syslog sink(bad);
            BOOST_ERROR("accepted \"" << bad << "\"");
        } catch (const fcs::error& e) {
            BOOST_TEST((e.fcs_code() == fcs::errc::invalid_argument));
            BOOST_TEST(std::string(e.what()).find("log::syslog") != std::string::npos, e.what());
        }
    }
    BOOST_CHECK_NO_THROW(fcs::log::syslog(std::string(64, 'x')));
    BOOST_CHECK_NO_THROW(fcs::log::syslog("fcs-failover-server"));
}

BOOST_AUTO_TEST_SUITE_END()
