#include "support/service.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <sys/acl.h>

namespace {
namespace t = fcs::test;
using fcs::item_class;

fcs::file_facts facts(mode_t mode, uid_t uid, nlink_t links = 1, gid_t gid = 0) {
    fcs::file_facts f;
    f.mode = mode;
    f.uid = uid;
    f.gid = gid;
    f.links = links;
    return f;
}

/// The admin group the tests grant access to, made when it does not exist (the tests run as
/// root in CI; elsewhere the group must exist already).
const std::string admin_group = "fcs-test-admins";
gid_t admin_gid() {
    if (auto* g = ::getgrnam(admin_group.c_str()))
        return g->gr_gid;
    auto r = t::run("groupadd --system " + admin_group);
    BOOST_TEST_REQUIRE(r.exit_code == 0,
                       "cannot create the admin group the test needs: " << r.output);
    auto* g = ::getgrnam(admin_group.c_str());
    BOOST_TEST_REQUIRE(g != nullptr);
    return g->gr_gid;
}

/// Whether the file system under `dir` stores POSIX ACLs (the only reason to skip).
bool file_system_has_acls(const t::fs::path& dir) {
    auto probe = dir / "acl-probe";
    t::write_text(probe, "", 0600);
    fcs::detail::unique_fd fd(::open(probe.c_str(), O_RDONLY | O_CLOEXEC));
    fcs::detail::unique_acl acl(::acl_from_text("u::rw-,g::---,o::---,m::r--,g:0:r--"));
    bool ok = fd && acl && ::acl_set_fd(fd.get(), acl.get()) == 0;
    int e = errno;
    t::fs::remove(probe);
    if (!ok)
        BOOST_TEST_REQUIRE((e == ENOTSUP || e == EOPNOTSUPP),
                           "acl_set_fd failed: " << std::strerror(e));
    return ok;
}
} // namespace

BOOST_AUTO_TEST_SUITE(acl_posix)

BOOST_AUTO_TEST_CASE(finds_too_open_keys_writable_certificates_hard_links_and_foreign_owners) {
    fcs::acl::posix a;
    uid_t me = ::geteuid();
    BOOST_TEST(!a.check(facts(0600, me), item_class::secret_item));
    BOOST_TEST(!a.check(facts(0644, me), item_class::public_item));
    auto open_key = a.check(facts(0644, me), item_class::secret_item);
    BOOST_REQUIRE(open_key);
    BOOST_TEST(open_key->text.find("permissions 0644 are too open") != std::string::npos);
    BOOST_TEST(open_key->mode_only);
    BOOST_TEST(a.check(facts(0640, me), item_class::secret_item).has_value());
    BOOST_TEST(a.check(facts(0666, me), item_class::public_item)->mode_only);
    auto linked = a.check(facts(0600, me, 2), item_class::secret_item);
    BOOST_REQUIRE(linked);
    BOOST_TEST(linked->text.find("hard links") != std::string::npos);
    BOOST_TEST(!linked->mode_only); // no chmod makes the second name go away
    uid_t other = me == 0 ? 12345 : 0;
    if (me == 0) { // root: a file of another user is foreign
        auto foreign = a.check(facts(0600, other), item_class::secret_item);
        BOOST_REQUIRE(foreign);
        BOOST_TEST(foreign->text.find("owned by uid 12345") != std::string::npos);
        BOOST_TEST(!foreign->mode_only);
        BOOST_TEST(!a.check(facts(0644, other), item_class::public_item)->mode_only);
    }
}

BOOST_AUTO_TEST_CASE(with_an_admin_group_only_that_group_may_read_a_key) {
    const gid_t admins = admin_gid();
    const gid_t other_group = admins + 1;
    fcs::acl::posix a({.service_user = "", .admin_group = admin_group});
    uid_t me = ::geteuid();
    // Plain mode bits: the file's group reads it, so that group must be the admin group.
    BOOST_TEST(!a.check(facts(0640, me, 1, admins), item_class::secret_item));
    auto wrong_group = a.check(facts(0640, me, 1, other_group), item_class::secret_item);
    BOOST_REQUIRE(wrong_group);
    BOOST_TEST(wrong_group->text.find("not the admin group") != std::string::npos,
               wrong_group->text);
    BOOST_TEST(!wrong_group->mode_only);
    BOOST_TEST(a.check(facts(0660, me, 1, admins), item_class::secret_item)->mode_only);
    BOOST_TEST(a.check(facts(0604, me, 1, admins), item_class::secret_item)->mode_only);
    // Extended ACL (the group bits are the mask): the owning group has nothing, and only the
    // admin group is named.
    auto with_acl = [&](unsigned owning, std::vector<fcs::file_facts::named_entry> named) {
        auto f = facts(0640, me, 1, other_group);
        f.owning_group_perms = owning;
        f.named = std::move(named);
        return a.check(f, item_class::secret_item);
    };
    BOOST_TEST(!with_acl(0, {{true, admins, 04}}));
    BOOST_TEST(with_acl(04, {{true, admins, 04}}).has_value());
    BOOST_TEST(with_acl(0, {{true, admins, 04}, {true, other_group, 04}}).has_value());
    auto named_user = with_acl(0, {{false, 4242, 04}});
    BOOST_REQUIRE(named_user);
    BOOST_TEST(named_user->text.find("user 4242") != std::string::npos, named_user->text);
    BOOST_TEST(!named_user->mode_only);
    // Without an admin group, any group bit is too open.
    BOOST_TEST(
        fcs::acl::posix{}.check(facts(0640, me, 1, admins), item_class::secret_item)->mode_only);
}

BOOST_AUTO_TEST_SUITE_END()

// Needs a file system with POSIX ACLs: the one case that may skip, and says so to ctest.
BOOST_AUTO_TEST_SUITE(acl_posix_fs)

BOOST_AUTO_TEST_CASE(admin_group_gets_a_posix_acl_entry_on_the_key_folders) {
    const gid_t admins = admin_gid();
    t::temp_dir dir;
    if (!file_system_has_acls(dir.path())) {
        std::cout << "SKIPPED: the file system under " << dir.path() << " has no POSIX ACLs\n";
        return;
    }
    // getfacl is a tool no one here wrote: the entries must show there.
    BOOST_TEST_REQUIRE(t::run("command -v getfacl").exit_code == 0, "getfacl is not installed");
    fcs::acl::posix a({.service_user = "", .admin_group = admin_group});
    fcs::storage::directory<fcs::storage::failover_layout> s(dir.path());
    s.open(a.rules());
    auto r = t::run("getfacl -p " + (dir / "Certificates/Keys").string());
    BOOST_TEST(r.output.find("group:" + admin_group + ":r-x") != std::string::npos, r.output);
    BOOST_TEST(r.output.find("default:group:" + admin_group + ":r--") != std::string::npos,
               r.output);
    BOOST_TEST(r.output.find("other::---") != std::string::npos, r.output);
    // A key written there is readable by the admin group through the ACL, not by others.
    fcs::change_set c;
    c.archive_tag = "20260101T000000Z";
    c.puts.push_back({"A", fcs::part::private_key, fcs::to_secret("k")});
    s.commit(c);
    auto f = t::run("getfacl -p " + (dir / "Certificates/Keys/A.key").string());
    BOOST_TEST(f.output.find("group:" + admin_group + ":r--") != std::string::npos, f.output);
    BOOST_TEST(f.output.find("other::---") != std::string::npos, f.output);
    auto item = s.read("A", fcs::part::private_key);
    BOOST_REQUIRE(item && item->facts);
    BOOST_TEST(item->facts->owning_group_perms.has_value()); // the storage saw the ACL
    BOOST_TEST(!a.check(*item->facts, item_class::secret_item));
    (void)admins;
}

BOOST_FIXTURE_TEST_CASE(a_key_whose_acl_lets_another_group_read_it_is_refused_even_with_repair,
                        t::service_fixture) {
    admin_gid();
    if (!file_system_has_acls(dir.path())) {
        std::cout << "SKIPPED: the file system under " << dir.path() << " has no POSIX ACLs\n";
        return;
    }
    using svc_t = fcs::FailoverCertService<t::dir_storage, fcs::acl::posix, fcs::log::memory,
                                           t::manual_clock>;
    fcs::acl::posix a({.service_user = "", .admin_group = admin_group});
    {
        svc_t svc(opts, t::dir_storage(dir.path()), a, log, clock);
        svc.start();
    }
    // Someone adds an ACL entry for "users" (gid 100) to the key: the mode bits stay 0640.
    auto set = t::run("setfacl -m g:100:r " + key().string());
    BOOST_TEST_REQUIRE(set.exit_code == 0, set.output);
    BOOST_TEST(t::mode_of(key()) == 0640u);
    opts.repair_permissions = true;
    svc_t svc(opts, t::dir_storage(dir.path()), a, log, clock);
    BOOST_CHECK_THROW(svc.start(), fcs::error); // the only pair is unusable and holds the name
    BOOST_TEST(log.count(fcs::policy::level::error, "its ACL grants group 100 access") == 1u);
    BOOST_TEST(log.count(fcs::policy::level::warning, "repaired as configured") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
