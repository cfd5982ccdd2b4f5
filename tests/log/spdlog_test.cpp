// fcs/log/spdlog.hpp: messages reach the integrator's logger at the mapped level, as text.
#include <fcs/log/spdlog.hpp>
#include <fcs/log/spdlog.hpp> // guard

#include <boost/test/unit_test.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <memory>
#include <sstream>

BOOST_AUTO_TEST_SUITE(log_spdlog)

BOOST_AUTO_TEST_CASE(each_level_reaches_the_logger_at_the_mapped_spdlog_level) {
    static_assert(fcs::policy::LogSink<fcs::log::spdlog>);
    auto ring = std::make_shared<::spdlog::sinks::ringbuffer_sink_mt>(16);
    ring->set_pattern("%l|%v");
    auto logger = std::make_shared<::spdlog::logger>("fcs-test", ring);
    logger->set_level(::spdlog::level::trace);
    fcs::log::spdlog sink(logger);
    sink.write(fcs::policy::level::debug, "d");
    sink.write(fcs::policy::level::info, "i");
    sink.write(fcs::policy::level::warning, "w");
    sink.write(fcs::policy::level::error, "e");
    auto lines = ring->last_formatted();
    BOOST_REQUIRE(lines.size() == 4u);
    BOOST_TEST(lines[0].find("debug|d") == 0u, lines[0]);
    BOOST_TEST(lines[1].find("info|i") == 0u, lines[1]);
    BOOST_TEST(lines[2].find("warning|w") == 0u, lines[2]);
    BOOST_TEST(lines[3].find("error|e") == 0u, lines[3]);
    auto raw = ring->last_raw();
    BOOST_TEST((raw[2].level == ::spdlog::level::warn && raw[3].level == ::spdlog::level::err));
}

BOOST_AUTO_TEST_CASE(a_message_is_text_not_a_format_string_and_the_logger_level_filters) {
    std::ostringstream out;
    auto os = std::make_shared<::spdlog::sinks::ostream_sink_mt>(out);
    os->set_pattern("%v");
    auto logger = std::make_shared<::spdlog::logger>("fcs-test", os);
    logger->set_level(::spdlog::level::warn);
    fcs::log::spdlog sink(logger);
    auto copy = sink; // copies share the logger
    copy.write(fcs::policy::level::info, "filtered out by the logger's level");
    copy.write(fcs::policy::level::error, "Certificates/{0}.crt: 100% {}");
    logger->flush();
    BOOST_TEST(out.str() == "Certificates/{0}.crt: 100% {}\n");
    BOOST_TEST(sink.logger() == logger);
}

BOOST_AUTO_TEST_SUITE_END()
