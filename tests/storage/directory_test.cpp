#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
namespace t = fcs::test;
using dir_storage = storage::directory<storage::failover_layout>;

change_set put_pair(const std::string& name, std::string_view cert, std::string_view key,
                    std::string tag = "20260101T000000Z") {
    change_set c;
    c.archive_tag = std::move(tag);
    c.puts.push_back({name, part::certificate, to_secret(cert)});
    c.puts.push_back({name, part::private_key, to_secret(key)});
    return c;
}
} // namespace

BOOST_AUTO_TEST_SUITE(storage_directory)

BOOST_AUTO_TEST_CASE(creates_files_with_their_final_mode_whatever_the_umask) {
    for (mode_t mask : {mode_t(0), mode_t(022), mode_t(077)}) {
        t::temp_dir dir;
        mode_t old = ::umask(mask);
        dir_storage s(dir.path());
        s.open(acl::posix{}.rules());
        s.commit(put_pair("A", "cert", "key"));
        ::umask(old);
        BOOST_TEST_CONTEXT("umask " << mask) {
            BOOST_TEST(t::mode_of(dir / "Certificates") == 0755u);
            BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0700u);
            BOOST_TEST(t::mode_of(dir / "Certificates/Archive") == 0700u);
            BOOST_TEST(t::mode_of(dir / "Certificates/A.crt") == 0644u);
            BOOST_TEST(t::mode_of(dir / "Certificates/Keys/A.key") == 0600u);
            BOOST_TEST(t::read_text(dir / "Certificates/Keys/A.key") == "key");
        }
    }
}

BOOST_AUTO_TEST_CASE(replacing_backs_up_the_old_files_into_the_archive_and_never_overwrites_it) {
    t::temp_dir dir;
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    s.commit(put_pair("A", "cert1", "key1"));
    s.commit(put_pair("A", "cert2", "key2", "20260202T000000Z"));
    s.commit(put_pair("A", "cert3", "key3", "20260202T000000Z")); // same tag: a new name
    BOOST_TEST(t::read_text(dir / "Certificates/A.crt") == "cert3");
    auto entries = s.archive_entries();
    BOOST_REQUIRE(entries.size() == 4u);
    BOOST_TEST(t::read_text(dir / "Certificates/Archive/A.20260202T000000Z.crt") == "cert1");
    BOOST_TEST(t::read_text(dir / "Certificates/Archive/A.20260202T000000Z-2.crt") == "cert2");
    BOOST_TEST(t::read_text(dir / "Certificates/Archive/A.20260202T000000Z-2.key") == "key2");
    BOOST_TEST(t::mode_of(dir / "Certificates/Archive/A.20260202T000000Z.key") == 0600u);
    // No temporary file and no journal is left behind.
    for (auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
        BOOST_TEST(e.path().filename().string().rfind(".fcs-", 0) != 0u, e.path());
}

BOOST_AUTO_TEST_CASE(archive_moves_the_item_out_of_the_active_set) {
    t::temp_dir dir;
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    s.commit(put_pair("A", "cert", "key"));
    change_set c;
    c.archive_tag = "20260303T000000Z";
    c.archives.push_back({"A", part::private_key});
    s.commit(c);
    BOOST_TEST(!s.read("A", part::private_key));
    BOOST_TEST(s.read("A", part::certificate).has_value());
    BOOST_TEST(t::read_text(dir / "Certificates/Archive/A.20260303T000000Z.key") == "key");
}

BOOST_AUTO_TEST_CASE(refuses_a_symlinked_key_and_a_symlinked_folder_without_following_them) {
    t::temp_dir dir;
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    t::write_text(dir / "elsewhere.key", "secret-outside", 0600);
    std::filesystem::create_symlink(dir / "elsewhere.key", dir / "Certificates/Keys/A.key");
    try {
        s.read("A", part::private_key);
        BOOST_FAIL("followed a symlink");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::unsafe_file));
        BOOST_TEST(std::string(e.what()).find("Certificates/Keys/A.key") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("symbolic link") != std::string::npos);
    }
    // A commit over it is refused too: the link is neither followed nor overwritten.
    BOOST_CHECK_THROW(s.commit(put_pair("A", "c", "k")), error);
    BOOST_TEST(t::read_text(dir / "elsewhere.key") == "secret-outside");
    BOOST_TEST(std::filesystem::is_symlink(dir / "Certificates/Keys/A.key"));
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/A.crt"));

    t::temp_dir dir2;
    std::filesystem::create_directories(dir2 / "Certificates");
    std::filesystem::create_directories(dir2 / "real-keys");
    std::filesystem::create_directory_symlink(dir2 / "real-keys", dir2 / "Certificates/Keys");
    dir_storage s2(dir2.path());
    BOOST_CHECK_THROW(s2.open(acl::posix{}.rules()), error);
}

BOOST_AUTO_TEST_CASE(refuses_an_oversized_file_before_reading_it) {
    t::temp_dir dir;
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    t::write_text(dir / "Certificates/Big.crt", std::string(storage::max_item_size + 1, 'x'));
    try {
        s.read("Big", part::certificate);
        BOOST_FAIL("read an oversized file");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::too_large));
    }
}

BOOST_AUTO_TEST_CASE(open_finishes_a_commit_interrupted_after_its_journal) {
    // The state a crash leaves right after the journal was written: new data in temporary
    // files, a backup copy staged, the journal naming the renames.
    t::temp_dir dir;
    {
        dir_storage s(dir.path());
        s.open(acl::posix{}.rules());
        s.commit(put_pair("A", "old-cert", "old-key"));
    }
    t::write_text(dir / "Certificates/.fcs-tmp-1", "new-cert", 0644);
    t::write_text(dir / "Certificates/Keys/.fcs-tmp-2", "new-key", 0600);
    t::write_text(dir / "Certificates/Archive/.fcs-tmp-3", "old-cert", 0644);
    t::write_text(dir / "Certificates/Archive/.fcs-tmp-4", "old-key", 0600);
    t::write_text(dir / "Certificates/.fcs-journal",
                  "fcs-journal 1\n"
                  "R\tCertificates/Archive\t.fcs-tmp-3\tCertificates/Archive\tA.T.crt\n"
                  "R\tCertificates/Archive\t.fcs-tmp-4\tCertificates/Archive\tA.T.key\n"
                  "R\tCertificates\t.fcs-tmp-1\tCertificates\tA.crt\n"
                  "R\tCertificates/Keys\t.fcs-tmp-2\tCertificates/Keys\tA.key\n"
                  "end\n",
                  0600);
    // ...and the first two renames already happened.
    std::filesystem::rename(dir / "Certificates/Archive/.fcs-tmp-3",
                            dir / "Certificates/Archive/A.T.crt");
    std::filesystem::rename(dir / "Certificates/Archive/.fcs-tmp-4",
                            dir / "Certificates/Archive/A.T.key");
    dir_storage s(dir.path());
    auto notes = s.open(acl::posix{}.rules());
    BOOST_TEST(t::read_text(dir / "Certificates/A.crt") == "new-cert");
    BOOST_TEST(t::read_text(dir / "Certificates/Keys/A.key") == "new-key");
    BOOST_TEST(t::read_text(dir / "Certificates/Archive/A.T.key") == "old-key");
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/.fcs-journal"));
    BOOST_TEST(notes.size() == 1u);
}

BOOST_AUTO_TEST_CASE(open_drops_temporary_files_of_a_commit_that_never_reached_its_journal) {
    t::temp_dir dir;
    {
        dir_storage s(dir.path());
        s.open(acl::posix{}.rules());
        s.commit(put_pair("A", "old-cert", "old-key"));
    }
    t::write_text(dir / "Certificates/.fcs-tmp-9", "half", 0644);
    t::write_text(dir / "Certificates/Keys/.fcs-tmp-8", "half", 0600);
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/.fcs-tmp-9"));
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/Keys/.fcs-tmp-8"));
    BOOST_TEST(t::read_text(dir / "Certificates/A.crt") == "old-cert");
}

BOOST_AUTO_TEST_CASE(server_group_layout_keeps_a_backup_folder_per_commit) {
    t::temp_dir dir;
    storage::directory<storage::server_group_layout> s(dir.path());
    s.open(acl::posix{}.rules());
    s.commit(put_pair("ServerGroup", "c1", "k1", "20260101T000000Z"));
    s.commit(put_pair("ServerGroup", "c2", "k2", "20260101T000000Z"));
    s.commit(put_pair("ServerGroup", "c3", "k3", "20260101T000000Z"));
    BOOST_TEST(t::mode_of(dir / "Certificates/ServerGroup") == 0700u);
    BOOST_TEST(t::read_text(dir / "Certificates/ServerGroup/ServerGroupCertificate.cer") == "c3");
    BOOST_TEST(
        t::read_text(
            dir / "Certificates/ServerGroup/Backup/20260101T000000Z/ServerGroupCertificate.cer") ==
        "c1");
    BOOST_TEST(
        t::read_text(
            dir / "Certificates/ServerGroup/Backup/20260101T000000Z-2/ServerGroupPrivateKey.bin") ==
        "k2");
    BOOST_TEST(t::mode_of(dir / "Certificates/ServerGroup/Backup/20260101T000000Z") == 0700u);
}

BOOST_AUTO_TEST_CASE(a_journal_that_names_a_folder_outside_the_layout_is_refused_and_kept) {
    // A journal planted by the account that owns the data folder, naming ".." folders: the
    // (more privileged) process must not rename a file outside the data folder.
    t::temp_dir dir;
    const auto data = dir / "data";
    {
        dir_storage s(data);
        s.open(acl::posix{}.rules());
    }
    std::filesystem::create_directories(dir / "outside");
    t::write_text(dir / "outside/victim", "precious", 0644);
    t::write_text(data / "Certificates/evil", "planted", 0644);
    const std::string journal = "fcs-journal 1\n"
                                "R\tCertificates\tevil\tCertificates/../../outside\tvictim\n"
                                "end\n";
    t::write_text(data / "Certificates/.fcs-journal", journal, 0600);
    dir_storage s(data);
    try {
        s.open(acl::posix{}.rules());
        BOOST_FAIL("replayed a journal that leaves the data folder");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find("Certificates/.fcs-journal: recover:") == 0u,
                   e.what());
        BOOST_TEST(std::string(e.what()).find("not a folder of this layout") != std::string::npos,
                   e.what());
    }
    BOOST_TEST(t::read_text(dir / "outside/victim") == "precious");
    BOOST_TEST(t::read_text(data / "Certificates/evil") == "planted");
    BOOST_TEST(t::read_text(data / "Certificates/.fcs-journal") == journal); // left for the admin
}

BOOST_AUTO_TEST_CASE(a_journal_may_not_move_a_key_into_the_public_folder) {
    t::temp_dir dir;
    {
        dir_storage s(dir.path());
        s.open(acl::posix{}.rules());
        s.commit(put_pair("A", "cert", "key"));
    }
    t::write_text(dir / "Certificates/.fcs-journal",
                  "fcs-journal 1\nR\tCertificates/Keys\tA.key\tCertificates\tA.txt\nend\n", 0600);
    dir_storage s(dir.path());
    BOOST_CHECK_THROW(s.open(acl::posix{}.rules()), error);
    BOOST_TEST(t::read_text(dir / "Certificates/Keys/A.key") == "key");
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/A.txt"));
}

BOOST_AUTO_TEST_CASE(a_journal_that_is_not_the_services_own_file_is_refused) {
    auto attempt = [](auto&& spoil) {
        t::temp_dir dir;
        {
            dir_storage s(dir.path());
            s.open(acl::posix{}.rules());
        }
        t::write_text(dir / "Certificates/.fcs-tmp-1", "new-cert", 0644);
        auto j = dir / "Certificates/.fcs-journal";
        t::write_text(j, "fcs-journal 1\nR\tCertificates\t.fcs-tmp-1\tCertificates\tA.crt\nend\n",
                      0600);
        spoil(j, dir);
        dir_storage s(dir.path());
        std::string what;
        try {
            s.open(acl::posix{}.rules());
        } catch (const error& e) {
            what = e.what();
        }
        BOOST_TEST(!std::filesystem::exists(dir / "Certificates/A.crt"));
        BOOST_TEST(std::filesystem::exists(j));
        return what;
    };
    auto mode = attempt([](auto& j, auto&) { ::chmod(j.c_str(), 0644); });
    BOOST_TEST(mode.find("Certificates/.fcs-journal: recover: the commit journal is not this "
                         "service's own") == 0u,
               mode);
    auto link = attempt([](auto& j, auto& d) { std::filesystem::create_hard_link(j, d / "j2"); });
    BOOST_TEST(link.find("2 links") != std::string::npos, link);
    if (::geteuid() == 0) {
        auto owner = attempt([](auto& j, auto&) { BOOST_TEST(::chown(j.c_str(), 12345, 0) == 0); });
        BOOST_TEST(owner.find("owner uid 12345") != std::string::npos, owner);
    }
}

BOOST_AUTO_TEST_CASE(folder_paths_with_dot_dot_or_empty_components_are_refused) {
    t::temp_dir dir;
    std::filesystem::create_directories(dir / "a/b");
    detail::unique_fd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
    BOOST_TEST(detail::open_dir(root.get(), "a/b", false, 0).get() >= 0);
    for (auto bad : {"a/../a", "..", "a//b", "./a", "a/.", "a/"})
        BOOST_CHECK_THROW(detail::open_dir(root.get(), bad, false, 0), error);
}

BOOST_AUTO_TEST_CASE(a_commit_first_finishes_the_change_another_process_left_pending) {
    // Another process wrote its journal and died before its renames; this process commits
    // next. Writing its own journal over the pending one would lose that change.
    t::temp_dir dir;
    dir_storage s(dir.path());
    s.open(acl::posix{}.rules());
    t::write_text(dir / "Certificates/.fcs-tmp-1", "other-cert", 0644);
    t::write_text(dir / "Certificates/Keys/.fcs-tmp-2", "other-key", 0600);
    t::write_text(dir / "Certificates/.fcs-journal",
                  "fcs-journal 1\n"
                  "R\tCertificates\t.fcs-tmp-1\tCertificates\tB.crt\n"
                  "R\tCertificates/Keys\t.fcs-tmp-2\tCertificates/Keys\tB.key\n"
                  "end\n",
                  0600);
    s.commit(put_pair("A", "cert", "key"));
    BOOST_TEST(t::read_text(dir / "Certificates/B.crt") == "other-cert");
    BOOST_TEST(t::read_text(dir / "Certificates/Keys/B.key") == "other-key");
    BOOST_TEST(t::read_text(dir / "Certificates/A.crt") == "cert");
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates/.fcs-journal"));
}

BOOST_AUTO_TEST_CASE(open_read_only_changes_nothing_and_reports_a_pending_change) {
    t::temp_dir dir;
    {
        dir_storage s(dir.path());
        s.open(acl::posix{}.rules());
        s.commit(put_pair("A", "cert", "key"));
    }
    ::chmod((dir / "Certificates/Keys").c_str(), 0750);
    t::write_text(dir / "Certificates/.fcs-tmp-1", "new-cert", 0644);
    t::write_text(dir / "Certificates/.fcs-journal",
                  "fcs-journal 1\nR\tCertificates\t.fcs-tmp-1\tCertificates\tA.crt\nend\n", 0600);
    auto before = t::snapshot(dir.path());
    dir_storage s(dir.path());
    auto notes = s.open_read_only(acl::posix{}.rules());
    BOOST_REQUIRE(notes.size() == 1u);
    BOOST_TEST(notes[0].find("a change was interrupted") != std::string::npos, notes[0]);
    BOOST_TEST(s.read("A", part::certificate)->data == to_secret("cert"));
    BOOST_TEST(t::snapshot(dir.path()) == before);
    BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0750u);
    // A data folder that does not exist is not made.
    dir_storage missing(dir / "nowhere");
    BOOST_CHECK_THROW(missing.open_read_only(acl::posix{}.rules()), error);
    BOOST_TEST(!std::filesystem::exists(dir / "nowhere"));
}

BOOST_AUTO_TEST_SUITE_END()
