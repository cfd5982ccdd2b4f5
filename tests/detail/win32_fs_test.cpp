// fcs/detail/win32_fs.hpp: the Win32 file steps of a Windows folder storage, on real files
// (under Wine in CI: what Wine cannot show, the stored DACL, is in tests/acl/windows_test.cpp's
// NTFS suite).
#include <fcs/acl/windows.hpp>
#include <fcs/detail/win32_fs.hpp>

#include "windows/scratch.hpp"
#include "windows/wine.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

using fcs::test::scratch;

std::vector<std::uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}
std::string text(const fcs::secret_bytes& b) {
    return std::string(b.begin(), b.end());
}

} // namespace

BOOST_AUTO_TEST_SUITE(detail_win32_fs)

BOOST_AUTO_TEST_CASE(a_temporary_file_replaces_the_item_in_one_step) {
    const fcs::acl::windows acl({.service_name = "FcsTest"});
    const auto& sd = acl.descriptor(fcs::item_class::secret_item, false);
    scratch dir;
    const std::wstring item = dir.path + L"\\x.key";
    for (std::string_view content : {"first", "second, longer"}) {
        const std::wstring tmp = fcs::detail::write_temp_w(dir.path, bytes(content), sd, "Keys");
        BOOST_TEST(tmp.starts_with(fcs::detail::temp_file_prefix_w));
        fcs::detail::replace_w(dir.path + L"\\" + tmp, item, "Keys\\x.key");
        auto r = fcs::detail::read_w(item, "Keys\\x.key", 1024);
        BOOST_REQUIRE(r);
        BOOST_TEST(text(r->data) == content);
        BOOST_TEST(r->facts.links == 1u);
        BOOST_TEST(!r->facts.security_descriptor.empty()); // owner and DACL, for the ACL policy
        BOOST_TEST(dir.files().size() == 1u);              // no temporary file left
    }
}

BOOST_AUTO_TEST_CASE(create_new_never_opens_an_existing_file) {
    scratch dir;
    const std::wstring item = dir.path + L"\\x.crt";
    fcs::detail::create_new_w(item, bytes("one"), {}, "x.crt");
    try {
        fcs::detail::create_new_w(item, bytes("two"), {}, "x.crt");
        BOOST_FAIL("a second CREATE_NEW succeeded");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.file() == "x.crt");
        BOOST_TEST(e.step() == "create");
    }
    BOOST_TEST(text(fcs::detail::read_w(item, "x.crt", 64)->data) == "one"); // untouched
}

BOOST_AUTO_TEST_CASE(reads_are_bounded_and_refuse_folders) {
    scratch dir;
    const std::wstring item = dir.path + L"\\big";
    fcs::detail::create_new_w(item, std::vector<std::uint8_t>(100, 'x'), {}, "big");
    BOOST_TEST(fcs::detail::read_w(item, "big", 100)->data.size() == 100u);
    try {
        (void)fcs::detail::read_w(item, "big", 99);
        BOOST_FAIL("a file over the bound was read");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::too_large);
    }
    BOOST_TEST(!fcs::detail::read_w(dir.path + L"\\absent", "absent", 10).has_value());
    const std::wstring sub = dir.path + L"\\sub";
    BOOST_REQUIRE(::CreateDirectoryW(sub.c_str(), nullptr));
    try {
        (void)fcs::detail::read_w(sub, "sub", 10);
        BOOST_FAIL("a folder was read as a file");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::unsafe_file);
    }
}

BOOST_AUTO_TEST_CASE(hard_links_are_counted_for_the_acl_check) {
    scratch dir;
    const std::wstring item = dir.path + L"\\x.key";
    fcs::detail::create_new_w(item, bytes("key"), {}, "x.key");
    BOOST_REQUIRE(::CreateHardLinkW((dir.path + L"\\other").c_str(), item.c_str(), nullptr));
    BOOST_TEST(fcs::detail::read_w(item, "x.key", 64)->facts.links == 2u);
}

BOOST_AUTO_TEST_CASE(the_folder_lock_is_taken_and_given_back) {
    scratch dir;
    const std::wstring lock = dir.path + L"\\.fcs-lock";
    {
        fcs::detail::folder_lock_w held(lock, {}, "lock");
        // Another handle cannot take it while held (LockFileEx without waiting).
        fcs::detail::unique_handle other(::CreateFileW(lock.c_str(), GENERIC_READ | GENERIC_WRITE,
                                                       FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                                       OPEN_EXISTING, 0, nullptr));
        BOOST_REQUIRE(other);
        OVERLAPPED ov{};
        BOOST_TEST(!::LockFileEx(other.get(), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
                                 0, 1, 0, &ov));
    }
    fcs::detail::folder_lock_w again(lock, {}, "lock"); // released with the first
}

BOOST_AUTO_TEST_SUITE_END()
