#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>

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

BOOST_AUTO_TEST_CASE(memory_sink_copies_share_the_record) {
    fcs::log::memory a;
    auto b = a;
    b.write(fcs::policy::level::info, "hello");
    BOOST_TEST(a.count(fcs::policy::level::info, "hello") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
