// fcs/storage/windows_directory.hpp: the folder storage on Win32, mirroring
// tests/storage/directory_test.cpp (under Wine in CI; what needs NTFS is said where it is).
#include <fcs/acl/windows.hpp>
#include <fcs/storage/windows_directory.hpp>

#include "windows/scratch.hpp"
#include "windows/wine.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {
using namespace fcs;
using win_storage = storage::windows_directory<storage::failover_layout>;
using group_storage = storage::windows_directory<storage::server_group_layout>;
using fcs::test::scratch;

secret_bytes sb(std::string_view s) {
    return secret_bytes(s.begin(), s.end());
}
std::string text(const secret_bytes& b) {
    return std::string(b.begin(), b.end());
}
change_set put_pair(const std::string& name, std::string_view cert, std::string_view key,
                    const std::string& tag = "20261123T101500Z") {
    change_set c;
    c.puts.push_back({name, part::certificate, sb(cert)});
    c.puts.push_back({name, part::private_key, sb(key)});
    c.archive_tag = tag;
    return c;
}
/// Writes `content` to `path` as an admin dropping a file would (inherited DACL).
void write_file(const std::wstring& path, std::string_view content) {
    std::ofstream f(std::filesystem::path(path), std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    BOOST_REQUIRE(f.good());
}
std::string read_file(const std::wstring& path) {
    std::ifstream f(std::filesystem::path(path), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
bool exists(const std::wstring& path) {
    return ::GetFileAttributesW(path.c_str()) != INVALID_FILE_ATTRIBUTES;
}
const acl::windows& the_acl() {
    static const acl::windows a({.service_name = "FcsTest", .service_writes = true});
    return a;
}
} // namespace

BOOST_AUTO_TEST_SUITE(storage_windows_directory)

BOOST_AUTO_TEST_CASE(lays_out_the_vendor_folders_and_reads_back_what_it_committed) {
    scratch dir;
    const std::wstring root = dir.path + L"\\Vendor\\Product"; // parents made too
    win_storage s{std::filesystem::path(root)};
    BOOST_TEST(s.open(the_acl().rules()).empty());
    for (auto f : {L"\\Certificates", L"\\Certificates\\Keys", L"\\Certificates\\Archive"})
        BOOST_TEST(::GetFileAttributesW((root + f).c_str()) & FILE_ATTRIBUTE_DIRECTORY);
    s.commit(put_pair("A", "cert-a", "key-a"));
    BOOST_TEST(read_file(root + L"\\Certificates\\A.crt") == "cert-a");
    BOOST_TEST(read_file(root + L"\\Certificates\\Keys\\A.key") == "key-a");
    auto item = s.read("A", part::private_key);
    BOOST_REQUIRE(item);
    BOOST_TEST(text(item->data) == "key-a");
    BOOST_TEST(item->location == "Certificates\\Keys\\A.key");
    BOOST_REQUIRE(item->facts);
    BOOST_TEST(item->facts->links == 1u);
    BOOST_TEST(!item->facts->security_descriptor.empty()); // handed to acl::windows::check
    BOOST_TEST((s.names(part::certificate) == std::vector<std::string>{"A"}));
    BOOST_TEST(!s.read("B", part::certificate).has_value());
    // No temporary file, no journal left; the lock file is the storage's own.
    BOOST_TEST(dir.files(L"Vendor\\Product\\Certificates").size() == 3u); // A.crt, Keys, Archive
}

BOOST_AUTO_TEST_CASE(utf16_paths_hold_names_outside_ascii) {
    scratch dir;
    const std::wstring root = dir.path + L"\\Zertifikatsdienst-\u00e4\u00f6\u00fc-\u65e5\u672c";
    win_storage s{std::filesystem::path(root)};
    s.open(the_acl().rules());
    s.commit(put_pair("Dienst-\xc3\xa4", "c", "k")); // "Dienst-ä" in UTF-8
    BOOST_TEST(read_file(root + L"\\Certificates\\Dienst-\u00e4.crt") == "c");
    BOOST_TEST((s.names(part::private_key) == std::vector<std::string>{"Dienst-\xc3\xa4"}));
}

BOOST_AUTO_TEST_CASE(replacing_backs_up_the_old_files_into_the_archive_and_never_overwrites_it) {
    scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    s.commit(put_pair("A", "c1", "k1"));
    s.commit(put_pair("A", "c2", "k2"));
    s.commit(put_pair("A", "c3", "k3")); // same tag: a second name, not an overwrite
    BOOST_TEST(text(s.read("A", part::certificate)->data) == "c3");
    auto a = s.archive_entries();
    BOOST_TEST((a == std::vector<std::string>{"Certificates/Archive/A.20261123T101500Z-2.crt",
                                              "Certificates/Archive/A.20261123T101500Z-2.key",
                                              "Certificates/Archive/A.20261123T101500Z.crt",
                                              "Certificates/Archive/A.20261123T101500Z.key"}));
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\Archive\\A.20261123T101500Z.key") == "k1");
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\Archive\\A.20261123T101500Z-2.key") == "k2");
}

BOOST_AUTO_TEST_CASE(archive_moves_the_item_out_of_the_active_set) {
    scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    s.commit(put_pair("A", "c", "k"));
    change_set c;
    c.archives.push_back({"A", part::certificate});
    c.archive_tag = "20261124T000000Z";
    s.commit(c);
    BOOST_TEST(!s.read("A", part::certificate).has_value());
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\Archive\\A.20261124T000000Z.crt") == "c");
}

BOOST_AUTO_TEST_CASE(a_stale_expectation_changes_nothing) {
    scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    s.commit(put_pair("A", "c", "k"));
    change_set c = put_pair("A", "c2", "k2");
    c.expects.push_back({"A", part::certificate, sb("not what is stored")});
    try {
        s.commit(c);
        BOOST_FAIL("a commit with a stale expectation went through");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::conflict));
        BOOST_TEST(e.file() == "Certificates\\A.crt");
    }
    BOOST_TEST(text(s.read("A", part::certificate)->data) == "c");
    BOOST_TEST(s.archive_entries().empty());
}

BOOST_AUTO_TEST_CASE(refuses_an_oversized_file_before_reading_it) {
    scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    write_file(dir.path + L"\\Certificates\\Big.crt", std::string(storage::max_item_size + 1, 'x'));
    try {
        (void)s.read("Big", part::certificate);
        BOOST_FAIL("an oversized file was read");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::too_large));
        BOOST_TEST(e.file() == "Certificates\\Big.crt");
    }
}

BOOST_AUTO_TEST_CASE(open_finishes_a_commit_interrupted_after_its_journal) {
    // The state a crash leaves right after the journal was written (as the POSIX test).
    scratch dir;
    {
        win_storage s{std::filesystem::path(dir.path)};
        s.open(the_acl().rules());
        s.commit(put_pair("A", "old-cert", "old-key"));
    }
    const std::wstring c = dir.path + L"\\Certificates";
    write_file(c + L"\\.fcs-tmp-1", "new-cert");
    write_file(c + L"\\Keys\\.fcs-tmp-2", "new-key");
    write_file(c + L"\\Archive\\.fcs-tmp-3", "old-cert");
    write_file(c + L"\\Archive\\.fcs-tmp-4", "old-key");
    write_file(c + L"\\.fcs-journal",
               "fcs-journal 1\n"
               "R\tCertificates/Archive\t.fcs-tmp-3\tCertificates/Archive\tA.T.crt\n"
               "R\tCertificates/Archive\t.fcs-tmp-4\tCertificates/Archive\tA.T.key\n"
               "R\tCertificates\t.fcs-tmp-1\tCertificates\tA.crt\n"
               "R\tCertificates/Keys\t.fcs-tmp-2\tCertificates/Keys\tA.key\n"
               "end\n");
    // ...and the first two renames already happened.
    BOOST_REQUIRE(
        ::MoveFileW((c + L"\\Archive\\.fcs-tmp-3").c_str(), (c + L"\\Archive\\A.T.crt").c_str()));
    BOOST_REQUIRE(
        ::MoveFileW((c + L"\\Archive\\.fcs-tmp-4").c_str(), (c + L"\\Archive\\A.T.key").c_str()));
    win_storage s{std::filesystem::path(dir.path)};
    auto notes = s.open(the_acl().rules());
    BOOST_TEST(read_file(c + L"\\A.crt") == "new-cert");
    BOOST_TEST(read_file(c + L"\\Keys\\A.key") == "new-key");
    BOOST_TEST(read_file(c + L"\\Archive\\A.T.key") == "old-key");
    BOOST_TEST(!exists(c + L"\\.fcs-journal"));
    BOOST_REQUIRE(notes.size() == 1u);
    BOOST_TEST(notes[0].find("Certificates: finished a change that was interrupted") == 0u);
}

BOOST_AUTO_TEST_CASE(open_drops_temporary_files_of_a_commit_that_never_reached_its_journal) {
    scratch dir;
    {
        win_storage s{std::filesystem::path(dir.path)};
        s.open(the_acl().rules());
        s.commit(put_pair("A", "old-cert", "old-key"));
    }
    write_file(dir.path + L"\\Certificates\\.fcs-tmp-9", "half");
    write_file(dir.path + L"\\Certificates\\Keys\\.fcs-tmp-8", "half");
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    BOOST_TEST(!exists(dir.path + L"\\Certificates\\.fcs-tmp-9"));
    BOOST_TEST(!exists(dir.path + L"\\Certificates\\Keys\\.fcs-tmp-8"));
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\A.crt") == "old-cert");
}

BOOST_AUTO_TEST_CASE(a_journal_that_names_a_folder_outside_the_layout_is_refused_and_kept) {
    scratch dir;
    {
        win_storage s{std::filesystem::path(dir.path)};
        s.open(the_acl().rules());
    }
    const std::string journal = "fcs-journal 1\n"
                                "R\tCertificates/Keys\tA.key\t..\\..\\Users\tA.key\n"
                                "end\n";
    write_file(dir.path + L"\\Certificates\\.fcs-journal", journal);
    win_storage s{std::filesystem::path(dir.path)};
    try {
        s.open(the_acl().rules());
        BOOST_FAIL("a planted journal was replayed");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::parse_failed));
        BOOST_TEST(e.file() == "Certificates\\.fcs-journal");
    }
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\.fcs-journal") == journal); // for the admin
}

BOOST_AUTO_TEST_CASE(a_commit_first_finishes_the_change_another_process_left_pending) {
    scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    s.commit(put_pair("A", "c1", "k1"));
    // Another process crashed after its journal: B's certificate is decided but not in place.
    write_file(dir.path + L"\\Certificates\\.fcs-tmp-7", "cert-b");
    write_file(dir.path + L"\\Certificates\\.fcs-journal",
               "fcs-journal 1\nR\tCertificates\t.fcs-tmp-7\tCertificates\tB.crt\nend\n");
    s.commit(put_pair("A", "c2", "k2"));
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\B.crt") == "cert-b");
    BOOST_TEST(text(s.read("A", part::certificate)->data) == "c2");
    BOOST_TEST(!exists(dir.path + L"\\Certificates\\.fcs-journal"));
}

BOOST_AUTO_TEST_CASE(open_read_only_changes_nothing_and_reports_a_pending_change) {
    scratch dir;
    {
        win_storage s{std::filesystem::path(dir.path)};
        try {
            s.open_read_only(the_acl().rules());
        } catch (const error&) {
        }
    }
    win_storage absent{std::filesystem::path(dir.path + L"\\absent")};
    try {
        absent.open_read_only(the_acl().rules());
        BOOST_FAIL("a missing data folder was opened");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::not_found));
    }
    BOOST_TEST(!exists(dir.path + L"\\absent"));
    {
        win_storage s{std::filesystem::path(dir.path)};
        s.open(the_acl().rules());
    }
    write_file(dir.path + L"\\Certificates\\.fcs-journal", "fcs-journal 1\nend\n");
    win_storage s{std::filesystem::path(dir.path)};
    auto notes = s.open_read_only(the_acl().rules());
    BOOST_REQUIRE(notes.size() == 1u);
    BOOST_TEST(notes[0].find("a change was interrupted") != std::string::npos);
    BOOST_TEST(exists(dir.path + L"\\Certificates\\.fcs-journal"));
}

BOOST_AUTO_TEST_CASE(server_group_layout_keeps_a_backup_folder_per_commit) {
    scratch dir;
    group_storage s{std::filesystem::path(dir.path)};
    s.open(the_acl().rules());
    change_set c = put_pair("ServerGroup", "c1", "k1", "20261123T101500Z");
    s.commit(c);
    s.commit(put_pair("ServerGroup", "c2", "k2", "20261123T101500Z"));
    s.commit(put_pair("ServerGroup", "c3", "k3", "20261123T101500Z"));
    auto a = s.archive_entries();
    BOOST_TEST(
        (a == std::vector<std::string>{
                  "Certificates/ServerGroup/Backup/20261123T101500Z-2/ServerGroupCertificate.cer",
                  "Certificates/ServerGroup/Backup/20261123T101500Z-2/ServerGroupPrivateKey.bin",
                  "Certificates/ServerGroup/Backup/20261123T101500Z/ServerGroupCertificate.cer",
                  "Certificates/ServerGroup/Backup/20261123T101500Z/ServerGroupPrivateKey.bin"}));
}

BOOST_AUTO_TEST_CASE(the_default_data_folder_is_under_program_data) {
    auto p = storage::program_data_folder("Vendor", "Product");
    wchar_t env[MAX_PATH + 1] = {};
    const DWORD n = ::GetEnvironmentVariableW(L"ProgramData", env, MAX_PATH + 1);
    BOOST_REQUIRE(n > 0);
    BOOST_TEST((p == std::filesystem::path(std::wstring(env)) / L"Vendor" / L"Product"));
    for (auto bad : {"", "..", "a\\b", "a/b", "C:x"})
        BOOST_CHECK_THROW((void)storage::program_data_folder(bad, "Product"), error);
}

BOOST_AUTO_TEST_SUITE_END()

// Needs NTFS: Wine ignores FILE_FLAG_OPEN_REPARSE_POINT and CreateSymbolicLinkW is a stub, so
// a planted junction or link cannot be made (or refused) there.
BOOST_AUTO_TEST_SUITE(storage_windows_directory_ntfs)

BOOST_AUTO_TEST_CASE(refuses_a_linked_key_and_a_junction_for_a_folder_without_following_them) {
    if (auto v = fcs::test::wine_version(); !v.empty()) {
        std::printf("SKIPPED: Wine %s cannot make or refuse reparse points (needs NTFS)\n",
                    v.c_str());
        std::fflush(stdout);
        return;
    }
    scratch dir;
    win_storage s{std::filesystem::path(dir.path + L"\\data")};
    s.open(the_acl().rules());
    write_file(dir.path + L"\\elsewhere.key", "not the service's");
    // A symbolic link needs SeCreateSymbolicLinkPrivilege or developer mode.
    if (!::CreateSymbolicLinkW((dir.path + L"\\data\\Certificates\\Keys\\A.key").c_str(),
                               (dir.path + L"\\elsewhere.key").c_str(),
                               SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE)) {
        std::printf("SKIPPED: cannot create a symbolic link here (error %lu)\n",
                    static_cast<unsigned long>(::GetLastError()));
        return;
    }
    try {
        (void)s.read("A", part::private_key);
        BOOST_FAIL("a linked key was read");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::unsafe_file));
    }
}

BOOST_AUTO_TEST_SUITE_END()
