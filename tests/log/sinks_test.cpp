#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

BOOST_AUTO_TEST_SUITE(log_sinks)

BOOST_AUTO_TEST_CASE(file_sink_writes_one_line_per_message_with_utc_time_and_level) {
    fcs::test::temp_dir dir;
    fcs::log::file sink(dir / "Logs/messages.log");
    sink.write(fcs::policy::level::warning, "expires soon");
    sink.write(fcs::policy::level::error, "two\nlines become one");
    auto text = fcs::test::read_text(dir / "Logs/messages.log");
    std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (WARNING|ERROR) [^\n]+\n)");
    auto first = text.substr(0, text.find('\n') + 1);
    auto second = text.substr(first.size());
    BOOST_TEST(std::regex_match(first, line));
    BOOST_TEST(std::regex_match(second, line));
    BOOST_TEST(first.find("WARNING expires soon") != std::string::npos);
    BOOST_TEST(second.find("ERROR two lines become one") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_sink_makes_logs_0755_and_the_log_0644_whatever_the_umask) {
    for (mode_t mask : {mode_t(0), mode_t(077), mode_t(027)}) {
        fcs::test::temp_dir dir;
        mode_t old = ::umask(mask);
        fcs::log::file sink(dir / "Logs/messages.log");
        sink.write(fcs::policy::level::info, "hello");
        ::umask(old);
        BOOST_TEST(fcs::test::mode_of(dir / "Logs") == 0755u, "umask " << mask);
        BOOST_TEST(fcs::test::mode_of(dir / "Logs/messages.log") == 0644u, "umask " << mask);
    }
}

BOOST_AUTO_TEST_CASE(file_sink_does_not_follow_a_planted_link) {
    fcs::test::temp_dir dir;
    std::filesystem::create_directories(dir / "Logs");
    fcs::test::write_text(dir / "target", "untouched", 0644);
    std::filesystem::create_symlink(dir / "target", dir / "Logs/messages.log");
    fcs::log::file sink(dir / "Logs/messages.log");
    sink.write(fcs::policy::level::info, "hello");
    BOOST_TEST(fcs::test::read_text(dir / "target") == "untouched");
}

namespace {
std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}
} // namespace

// A log that cannot be written (here: a file-size limit, EFBIG) is said on stderr, once per
// run of failures, not silently dropped and not once per line.
BOOST_AUTO_TEST_CASE(file_sink_says_on_stderr_when_the_log_cannot_be_written) {
    fcs::test::temp_dir dir;
    const auto log = dir / "Logs/messages.log";
    const auto err = dir / "stderr.txt";
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ::dup2(fd, 2) < 0)
            ::_exit(3);
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit old{};
        ::getrlimit(RLIMIT_FSIZE, &old);
        fcs::log::file sink(log);
        sink.write(fcs::policy::level::info, "first line fits");
        while (std::filesystem::file_size(log) < 8192)
            sink.write(fcs::policy::level::info, std::string(100, 'x'));
        // The log is past the limit, so every write to it fails; stderr (a new file) is not.
        rlimit small = old;
        small.rlim_cur = 4096;
        if (::setrlimit(RLIMIT_FSIZE, &small) != 0)
            ::_exit(4);
        for (int i = 0; i < 5; ++i)
            sink.write(fcs::policy::level::info, "a line that does not fit " + std::to_string(i));
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_REQUIRE(WEXITSTATUS(status) == 0);
    auto said = fcs::test::read_text(err);
    BOOST_TEST(occurrences(said, "fcs: message log " + log.string() + ": write failed") == 1u,
               said);
    BOOST_TEST(said.find(std::strerror(EFBIG)) != std::string::npos, said);
    BOOST_TEST(fcs::test::read_text(log).find("first line fits") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(memory_sink_copies_share_the_record) {
    fcs::log::memory a;
    auto b = a;
    b.write(fcs::policy::level::info, "hello");
    BOOST_TEST(a.count(fcs::policy::level::info, "hello") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
