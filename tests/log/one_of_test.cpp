// fcs/log/one_of.hpp (a sink chosen at run time) and the event fields the core hands to sinks
// that keep them (fcs::policy::log_fields, StructuredLogSink).
#include <fcs/log/one_of.hpp>
#include <fcs/log/one_of.hpp> // guard

#include "support/service.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace {
/// A sink without fields: it must still get every message through one_of and the core.
struct text_only {
    using policy_kind = fcs::policy::kind::log;
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    void write(fcs::policy::level, std::string_view m) { lines->emplace_back(m); }
};
using choice = fcs::log::one_of<fcs::log::memory, text_only, fcs::log::null_sink>;
static_assert(fcs::policy::LogSink<choice> && fcs::policy::StructuredLogSink<choice>);
static_assert(fcs::policy::StructuredLogSink<fcs::log::memory>);
static_assert(!fcs::policy::StructuredLogSink<text_only>);
static_assert(!fcs::policy::StructuredLogSink<fcs::log::file>);
} // namespace

BOOST_AUTO_TEST_SUITE(log_one_of)

BOOST_AUTO_TEST_CASE(messages_and_fields_go_to_the_sink_chosen_at_run_time) {
    fcs::log::memory mem;
    choice a = mem;
    a.write(fcs::policy::level::warning, "with fields", {"expiring", "Slot", "AA:BB"});
    a.write(fcs::policy::level::info, "without");
    auto e = mem.entries();
    BOOST_REQUIRE(e.size() == 2u);
    BOOST_TEST(
        (e[0].event == "expiring" && e[0].cert_name == "Slot" && e[0].fingerprint == "AA:BB"));
    BOOST_TEST((e[1].message == "without" && e[1].event.empty()));
    BOOST_TEST(a.get<fcs::log::memory>() != nullptr);
    BOOST_TEST(a.get<text_only>() == nullptr);

    text_only t;
    choice b = t;
    b.write(fcs::policy::level::error, "fields dropped, message kept", {"expired", "Slot", "AA"});
    BOOST_TEST((*t.lines == std::vector<std::string>{"fields dropped, message kept"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(log_fields)

BOOST_AUTO_TEST_CASE(the_core_describes_generation_and_expiry_with_event_name_and_fingerprint) {
    using namespace std::chrono_literals;
    fcs::test::service_fixture f;
    std::string fp;
    fcs::time_point not_after;
    {
        auto svc = f.make();
        auto r = svc.start();
        BOOST_REQUIRE(r.generated);
        fp = r.status.info.sha256_fingerprint;
        not_after = r.status.info.not_after;
    }
    auto generated = f.log.entries();
    auto g = std::find_if(generated.begin(), generated.end(),
                          [](auto& e) { return e.event == "generated"; });
    BOOST_REQUIRE(g != generated.end());
    BOOST_TEST(g->cert_name == FCS_DEFAULT_CERT_NAME);
    BOOST_TEST(g->fingerprint == fp);
    BOOST_TEST(g->message.find(fp) != std::string::npos, "the words say it too: " << g->message);
    BOOST_TEST((g->level == fcs::policy::level::info));

    for (auto [before_end, event, level] :
         {std::tuple{std::chrono::nanoseconds(std::chrono::days(10)), "expiring",
                     fcs::policy::level::warning},
          std::tuple{std::chrono::nanoseconds(-std::chrono::days(1)), "expired",
                     fcs::policy::level::error}}) {
        f.log.clear();
        f.clock.set(not_after - before_end);
        auto svc = f.make();
        svc.start();
        auto entries = f.log.entries();
        const std::string wanted = event; // a structured binding cannot be captured (C++20)
        auto it = std::find_if(entries.begin(), entries.end(),
                               [&](auto& e) { return e.event == wanted; });
        BOOST_REQUIRE_MESSAGE(it != entries.end(), "no " << event << " entry");
        BOOST_TEST((it->level == level));
        BOOST_TEST(it->cert_name == FCS_DEFAULT_CERT_NAME);
        BOOST_TEST(it->fingerprint == fp);
    }
}

BOOST_AUTO_TEST_CASE(an_installed_pair_is_described_with_its_own_fingerprint) {
    fcs::test::service_fixture f;
    auto svc = f.make();
    svc.start();
    const auto old_fp = svc.status().info.sha256_fingerprint;
    // A second generated pair, installed over the first (its files read back as the
    // `replace` command would).
    fcs::test::service_fixture other;
    other.make().start();
    f.log.clear();
    const auto cert = fcs::test::read_text(other.cert());
    const auto key = fcs::test::read_text(other.key());
    auto st = svc.install(fcs::test::as_bytes(cert), fcs::test::as_bytes(key),
                          other.cert().string(), other.key().string());
    auto entries = f.log.entries();
    auto it = std::find_if(entries.begin(), entries.end(),
                           [](auto& e) { return e.event == "installed"; });
    BOOST_REQUIRE(it != entries.end());
    BOOST_TEST(it->fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST(it->fingerprint != old_fp);
    BOOST_TEST(it->cert_name == FCS_DEFAULT_CERT_NAME);
}

BOOST_AUTO_TEST_SUITE_END()
