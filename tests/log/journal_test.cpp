// fcs/log/journal.hpp against a real receiver: the native-protocol datagrams libsystemd's
// sd_journal_sendv sends to /run/systemd/journal/socket, read from a socket this test binds
// there (see tests/support/unix_receiver.hpp) and parsed field by field.
#include <fcs/log/journal.hpp>
#include <fcs/log/journal.hpp> // guard

#include "support/support.hpp"
#include "support/unix_receiver.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

const char* const journal_socket = "/run/systemd/journal/socket";

std::string field(const std::multimap<std::string, std::string>& f, const std::string& k) {
    BOOST_TEST_REQUIRE(f.count(k) == 1u, k << " appears " << f.count(k) << " times");
    return f.find(k)->second;
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_journal,
                      *boost::unit_test::precondition(fcs::test::socket_path_free{journal_socket}))

BOOST_AUTO_TEST_CASE(an_entry_carries_message_priority_identifier_and_the_event_fields) {
    static_assert(fcs::policy::StructuredLogSink<fcs::log::journal>);
    fcs::test::unix_datagram_receiver rx(journal_socket);
    fcs::log::journal sink("fcs-test", LOG_LOCAL4);
    const std::string fp = "AB:CD:EF";
    sink.write(fcs::policy::level::warning, "Certificates/FailoverService.crt: expires in 10 days",
               {"expiring", "FailoverService", fp});
    auto d = rx.receive();
    BOOST_REQUIRE_MESSAGE(d, "nothing arrived at the journal socket");
    auto f = fcs::test::parse_journal_datagram(*d);
    BOOST_TEST(field(f, "MESSAGE") == "Certificates/FailoverService.crt: expires in 10 days");
    BOOST_TEST(field(f, "PRIORITY") == std::to_string(LOG_WARNING));
    BOOST_TEST(field(f, "SYSLOG_IDENTIFIER") == "fcs-test");
    BOOST_TEST(field(f, "SYSLOG_FACILITY") == std::to_string(LOG_LOCAL4 >> 3));
    BOOST_TEST(field(f, "FCS_EVENT") == "expiring");
    BOOST_TEST(field(f, "FCS_CERT_NAME") == "FailoverService");
    BOOST_TEST(field(f, "FCS_FINGERPRINT") == fp);
    BOOST_TEST(f.count("CODE_FILE") == 0u, "no location of the sink's own header");
}

BOOST_AUTO_TEST_CASE(each_level_maps_to_its_syslog_priority_and_plain_messages_have_no_fcs_fields) {
    fcs::test::unix_datagram_receiver rx(journal_socket);
    fcs::log::journal sink("fcs-test");
    const std::pair<fcs::policy::level, int> levels[] = {{fcs::policy::level::debug, LOG_DEBUG},
                                                         {fcs::policy::level::info, LOG_INFO},
                                                         {fcs::policy::level::warning, LOG_WARNING},
                                                         {fcs::policy::level::error, LOG_ERR}};
    for (auto [level, priority] : levels) {
        sink.write(level, "plain");
        auto d = rx.receive();
        BOOST_REQUIRE(d);
        auto f = fcs::test::parse_journal_datagram(*d);
        BOOST_TEST(field(f, "PRIORITY") == std::to_string(priority));
        BOOST_TEST(field(f, "SYSLOG_FACILITY") == std::to_string(LOG_DAEMON >> 3));
        for (const char* k : {"FCS_EVENT", "FCS_CERT_NAME", "FCS_FINGERPRINT"})
            BOOST_TEST(f.count(k) == 0u, k);
    }
}

BOOST_AUTO_TEST_CASE(a_message_with_line_breaks_arrives_whole) {
    fcs::test::unix_datagram_receiver rx(journal_socket);
    fcs::log::journal sink("fcs-test");
    const std::string text = "first line\nsecond line with = sign\n";
    sink.write(fcs::policy::level::error, text);
    auto d = rx.receive();
    BOOST_REQUIRE(d);
    // Sent in the binary-safe framing (KEY\n, length, value), which the parser reads back.
    BOOST_TEST(d->find("MESSAGE\n") != std::string::npos);
    BOOST_TEST(field(fcs::test::parse_journal_datagram(*d), "MESSAGE") == text);
}

// Without a journal (no socket: a receiver bound and gone), the message goes to stderr and
// the failure is said there once, not once per message.
BOOST_AUTO_TEST_CASE(without_a_journal_messages_go_to_stderr_and_the_failure_is_said_once) {
    fcs::test::temp_dir dir;
    const auto err = dir / "stderr.txt";
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ::dup2(fd, 2) < 0)
            ::_exit(3);
        fcs::log::journal sink("fcs-test");
        for (int i = 0; i < 3; ++i)
            sink.write(fcs::policy::level::error, "kept " + std::to_string(i));
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    auto said = fcs::test::read_text(err);
    std::size_t notes = 0;
    for (auto at = said.find("fcs: journal: sending failed"); at != std::string::npos;
         at = said.find("fcs: journal: sending failed", at + 1))
        ++notes;
    BOOST_TEST(notes == 1u, said);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(said.find("ERROR kept " + std::to_string(i) + "\n") != std::string::npos, said);
}

BOOST_AUTO_TEST_SUITE_END()
