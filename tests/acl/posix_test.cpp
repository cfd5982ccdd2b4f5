#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

#include <grp.h>

BOOST_AUTO_TEST_SUITE(acl_posix)

BOOST_AUTO_TEST_CASE(finds_too_open_keys_writable_certificates_hard_links_and_foreign_owners) {
    fcs::acl::posix a;
    uid_t me = ::geteuid();
    using fcs::item_class;
    BOOST_TEST(!a.check({0600, me, 0, 1}, item_class::secret_item));
    BOOST_TEST(!a.check({0644, me, 0, 1}, item_class::public_item));
    auto open_key = a.check({0644, me, 0, 1}, item_class::secret_item);
    BOOST_REQUIRE(open_key);
    BOOST_TEST(open_key->find("permissions 0644 are too open") != std::string::npos);
    BOOST_TEST(a.check({0640, me, 0, 1}, item_class::secret_item).has_value());
    BOOST_TEST(a.check({0666, me, 0, 1}, item_class::public_item).has_value());
    BOOST_TEST(a.check({0600, me, 0, 2}, item_class::secret_item)->find("hard links") !=
               std::string::npos);
    if (me == 0) // root: a file of another user is foreign
        BOOST_TEST(
            a.check({0600, 12345, 0, 1}, item_class::secret_item)->find("owned by uid 12345") !=
            std::string::npos);
}

BOOST_AUTO_TEST_CASE(admin_group_gets_a_posix_acl_entry_on_the_key_folders) {
    // "adm" exists on Debian; the entry must show in getfacl (a tool no one here wrote).
    if (!::getgrnam("adm") || fcs::test::run("command -v getfacl").exit_code != 0) {
        BOOST_TEST_MESSAGE("skipped: no adm group or getfacl");
        return;
    }
    fcs::test::temp_dir dir;
    fcs::acl::posix a({.service_user = "", .admin_group = "adm"});
    fcs::storage::directory<fcs::storage::failover_layout> s(dir.path());
    try {
        s.open(a.rules());
    } catch (const fcs::error& e) {
        BOOST_TEST_MESSAGE("skipped: file system without POSIX ACLs: " << e.what());
        return;
    }
    auto r = fcs::test::run("getfacl -p " + (dir / "Certificates/Keys").string());
    BOOST_TEST(r.output.find("group:adm:r-x") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("default:group:adm:r--") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("other::---") != std::string::npos, r.output);
    // A key written there is readable by the admin group through the ACL, not by others.
    fcs::change_set c;
    c.archive_tag = "T";
    c.puts.push_back({"A", fcs::part::private_key, fcs::to_secret("k")});
    s.commit(c);
    auto f = fcs::test::run("getfacl -p " + (dir / "Certificates/Keys/A.key").string());
    BOOST_TEST(f.output.find("group:adm:r--") != std::string::npos, f.output);
    BOOST_TEST(f.output.find("other::---") != std::string::npos, f.output);
    BOOST_TEST(!a.check({fcs::test::mode_of(dir / "Certificates/Keys/A.key"), ::geteuid(), 0, 1},
                        fcs::item_class::secret_item));
}

BOOST_AUTO_TEST_SUITE_END()
