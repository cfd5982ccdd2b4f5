// fcs/acme/schedule.hpp: when a pair is due for renewal. Dates only, no clock: every case
// builds the cert_info it needs. Included first: the header is self-contained.
#include <fcs/acme/schedule.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <vector>

namespace {

using namespace std::chrono_literals;
using fcs::acme::identifier;
using fcs::acme::renewal_due;
using fcs::acme::sys_clock;

const sys_clock::time_point start = std::chrono::sys_days(std::chrono::year(2026) / 12 / 1);

fcs::cert_info issued(sys_clock::duration life,
                      std::vector<std::string> sans = {"DNS:svc.example", "IP:127.0.0.1"}) {
    fcs::cert_info i;
    i.subject = "CN=svc.example";
    i.issuer = "CN=Pebble Intermediate CA";
    i.sans = std::move(sans);
    i.not_before = start;
    i.not_after = start + life;
    i.self_signed = false;
    return i;
}

const std::vector<identifier> ids = {{identifier::kind::dns, "svc.example"},
                                     {identifier::kind::ip, "127.0.0.1"}};

} // namespace

BOOST_AUTO_TEST_SUITE(acme_schedule)

BOOST_AUTO_TEST_CASE(a_self_signed_pair_is_due_at_once) {
    auto i = issued(std::chrono::days(90));
    i.self_signed = true;
    BOOST_TEST((renewal_due(i, ids) == sys_clock::time_point::min()));
    // Even with an explicit renew_before.
    BOOST_TEST((renewal_due(i, ids, std::chrono::seconds(3600)) == sys_clock::time_point::min()));
}

BOOST_AUTO_TEST_CASE(a_pair_lacking_an_identifier_is_due_at_once) {
    BOOST_TEST((renewal_due(issued(std::chrono::days(90), {"DNS:svc.example"}), ids) ==
                sys_clock::time_point::min()));
    BOOST_TEST((renewal_due(issued(std::chrono::days(90), {"IP:127.0.0.1"}), ids) ==
                sys_clock::time_point::min()));
    // The kind matters: a DNS SAN that spells the address is not the IP identifier.
    BOOST_TEST((renewal_due(issued(std::chrono::days(90), {"DNS:svc.example", "DNS:127.0.0.1"}),
                            ids) == sys_clock::time_point::min()));
    // Extra SANs are fine.
    BOOST_TEST((renewal_due(issued(std::chrono::days(90),
                                   {"DNS:svc.example", "DNS:extra.example", "IP:127.0.0.1"}),
                            ids) != sys_clock::time_point::min()));
}

BOOST_AUTO_TEST_CASE(names_compare_as_dns_and_ip_do) {
    // A CA may write the name in lower case, and an IPv6 address has many spellings: the
    // pair is the configured one (else every renewal would be followed by another at once).
    const std::vector<identifier> mixed = {{identifier::kind::dns, "SVC.Example"},
                                           {identifier::kind::ip, "0:0::1"}};
    const auto pair = issued(std::chrono::days(90), {"DNS:svc.example", "IP:::1"});
    BOOST_TEST((renewal_due(pair, mixed) == pair.not_after - std::chrono::days(30)));
    BOOST_TEST(fcs::acme::names_identifier(pair, {identifier::kind::ip, "::1"}));
    BOOST_TEST(!fcs::acme::names_identifier(pair, {identifier::kind::ip, "::2"}));
    BOOST_TEST(!fcs::acme::names_identifier(pair, {identifier::kind::dns, "svc.example.org"}));
    BOOST_TEST(!fcs::acme::names_identifier(pair, {identifier::kind::dns, "::1"}));
}

BOOST_AUTO_TEST_CASE(a_90_day_pair_renews_30_days_before_not_after) {
    auto i = issued(std::chrono::days(90));
    BOOST_TEST((renewal_due(i, ids) == i.not_after - std::chrono::days(30)));
}

BOOST_AUTO_TEST_CASE(a_one_year_pair_renews_with_a_third_of_its_life_left) {
    auto i = issued(std::chrono::days(365));
    const auto due = renewal_due(i, ids);
    BOOST_TEST((due == i.not_after - (i.not_after - i.not_before) / 3));
    BOOST_TEST((due < i.not_after - std::chrono::days(121)));
    BOOST_TEST((due > i.not_after - std::chrono::days(122)));
}

BOOST_AUTO_TEST_CASE(a_30_day_pair_renews_at_half_its_life_not_at_once) {
    // The 30-day warning would make it due at issuance; half its life is the limit.
    auto i = issued(std::chrono::days(30));
    BOOST_TEST((renewal_due(i, ids) == i.not_before + std::chrono::days(15)));
}

BOOST_AUTO_TEST_CASE(a_short_lived_pair_renews_at_half_its_life) {
    auto i = issued(std::chrono::seconds(60));
    BOOST_TEST((renewal_due(i, ids) == i.not_after - std::chrono::seconds(30)));
    BOOST_TEST((renewal_due(i, ids) > i.not_before));
}

BOOST_AUTO_TEST_CASE(an_explicit_renew_before_is_honoured) {
    auto i = issued(std::chrono::days(90));
    BOOST_TEST((renewal_due(i, ids, std::chrono::seconds(std::chrono::days(10))) ==
                i.not_after - std::chrono::days(10)));
    // Also beyond half the lifetime: the integrator asked for it.
    BOOST_TEST((renewal_due(i, ids, std::chrono::seconds(std::chrono::days(60))) ==
                i.not_after - std::chrono::days(60)));
    auto short_lived = issued(std::chrono::seconds(60));
    BOOST_TEST((renewal_due(short_lived, ids, std::chrono::seconds(50)) ==
                short_lived.not_after - std::chrono::seconds(50)));
}

BOOST_AUTO_TEST_CASE(no_identifiers_means_only_the_dates_count) {
    auto i = issued(std::chrono::days(90), {});
    BOOST_TEST((renewal_due(i, {}) == i.not_after - std::chrono::days(30)));
}

BOOST_AUTO_TEST_SUITE_END()
