#include "support/support.hpp"

#include <fcs/etcd_service.hpp>
#include <fcs/services.hpp>

#include <boost/test/unit_test.hpp>

#include <type_traits>

namespace t = fcs::test;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(services)

BOOST_AUTO_TEST_CASE(the_short_names_are_the_documented_packs) {
    using folder = fcs::folder_service<>;
    static_assert(std::is_same_v<folder::storage_type,
                                 fcs::storage::directory<fcs::storage::failover_layout>>);
    static_assert(std::is_same_v<folder::acl_type, fcs::acl::posix>);
    static_assert(std::is_same_v<folder::crypto_type, fcs::crypto::boringssl>);
    static_assert(std::is_same_v<folder::log_type, fcs::log::file>);
    static_assert(std::is_same_v<fcs::server_group_service<>::storage_type,
                                 fcs::storage::directory<fcs::storage::server_group_layout>>);
    static_assert(std::is_same_v<fcs::memory_service<>::storage_type, fcs::storage::memory>);
    static_assert(std::is_same_v<fcs::memory_service<>::log_type, fcs::log::null_sink>);
    static_assert(std::is_same_v<fcs::etcd_service<>::storage_type, fcs::storage::etcd>);
    static_assert(std::is_same_v<fcs::etcd_service<>::acl_type, fcs::acl::none>);
    static_assert(std::is_same_v<fcs::etcd_service<fcs::log::memory>::log_type, fcs::log::memory>);
}

BOOST_AUTO_TEST_CASE(a_folder_service_by_its_short_name_makes_the_pair_on_first_start) {
    t::temp_dir dir;
    fcs::log::memory log;
    fcs::folder_service<fcs::log::memory> svc(
        {}, fcs::storage::directory<fcs::storage::failover_layout>(dir.path()), fcs::acl::posix{},
        log);
    svc.start();
    BOOST_REQUIRE(svc.current());
    BOOST_TEST(fs::exists(dir / "Certificates/FailoverService.crt"));
    BOOST_TEST(fs::exists(dir / "Certificates/Keys/FailoverService.key"));
    BOOST_TEST((t::mode_of(dir / "Certificates/Keys/FailoverService.key") & 0777) == 0600u);
    BOOST_TEST(log.count(fcs::policy::level::info, "generated a new self-signed certificate") ==
               1u);
}

BOOST_AUTO_TEST_CASE(a_memory_service_needs_only_its_storage) {
    fcs::memory_service<> svc({}, fcs::storage::memory{});
    auto report = svc.start();
    BOOST_TEST(report.generated);
    BOOST_TEST(report.status.info.sha256_fingerprint.size() == 95u);
}

BOOST_AUTO_TEST_SUITE_END()
