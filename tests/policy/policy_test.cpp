#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;

// Deliberately broken types: each fails its concept, so nothing satisfies a policy by accident.
struct no_kind_storage { // has every operation but never opted in with a kind tag
    std::vector<std::string> open(const protections&) { return {}; }
};
struct log_missing_write {
    using policy_kind = policy::kind::log;
};
struct clock_wrong_return {
    using policy_kind = policy::kind::clock;
    int now() const { return 0; }
};
struct storage_kind_tagged_as_log {
    using policy_kind = policy::kind::log;
    std::vector<std::string> open(const protections&) { return {}; }
};
} // namespace

BOOST_AUTO_TEST_SUITE(policy_pack)

BOOST_AUTO_TEST_CASE(concepts_reject_types_that_did_not_opt_in_or_miss_operations) {
    BOOST_TEST(!policy::Policy<no_kind_storage>);
    BOOST_TEST(!policy::Storage<no_kind_storage>);
    BOOST_TEST(!policy::LogSink<log_missing_write>);
    BOOST_TEST(!policy::Clock<clock_wrong_return>);
    BOOST_TEST(!policy::Storage<storage_kind_tagged_as_log>);
    BOOST_TEST(policy::LogSink<log::memory>);
    BOOST_TEST(policy::Clock<test::manual_clock>);
}

BOOST_AUTO_TEST_CASE(selects_policies_by_kind_in_any_order_and_fills_defaults) {
    using a = FailoverCertService<storage::memory, log::memory, acl::none>;
    using b = FailoverCertService<acl::none, log::memory, storage::memory>;
    static_assert(std::is_same_v<a::storage_type, b::storage_type>);
    static_assert(std::is_same_v<a::log_type, log::memory>);
    static_assert(std::is_same_v<b::acl_type, acl::none>);
    // Kinds not named get the documented defaults (fcs/config.hpp).
    static_assert(std::is_same_v<a::crypto_type, config::default_crypto>);
    static_assert(std::is_same_v<a::clock_type, config::default_clock>);
    using c = FailoverCertService<storage::memory>;
    static_assert(std::is_same_v<c::acl_type, config::default_acl>);
    static_assert(std::is_same_v<c::log_type, config::default_log>);

    // The values passed land in the right place whatever their order.
    log::memory mem;
    b svc({}, acl::none{}, mem, storage::memory{});
    svc.start();
    BOOST_TEST(mem.count(policy::level::info, "generated a new self-signed certificate") == 1u);
    BOOST_TEST(svc.storage().names(part::certificate).size() == 1u);
}

BOOST_AUTO_TEST_CASE(count_and_select_follow_the_kind_tags) {
    static_assert(
        policy::count_of<policy::kind::log, log::memory, storage::memory, log::null_sink> == 2);
    static_assert(policy::count_of<policy::kind::acl, log::memory> == 0);
    static_assert(
        std::is_same_v<policy::select_t<policy::kind::acl, acl::posix, log::memory>, acl::posix>);
    BOOST_TEST(true); // compile-time checks above
}

BOOST_AUTO_TEST_SUITE_END()
