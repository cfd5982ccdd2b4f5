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

BOOST_AUTO_TEST_CASE(a_journal_owned_by_another_account_is_named) {
    // Descriptors as GetSecurityInfo returns them (self-relative), built from SDDL in process:
    // Wine cannot store another owner on a file, so the judgement is tested on its input.
    auto sd = [](const std::wstring& sddl) {
        PSECURITY_DESCRIPTOR p = nullptr;
        ULONG len = 0;
        BOOST_REQUIRE(::ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.c_str(), SDDL_REVISION_1, &p, &len));
        std::vector<std::uint8_t> out(static_cast<std::uint8_t*>(p),
                                      static_cast<std::uint8_t*>(p) + len);
        ::LocalFree(p);
        return out;
    };
    const std::wstring self = fcs::detail::widen(fcs::acl::process_account_sid().str());
    for (const std::wstring& ok : std::vector<std::wstring>{
             L"O:BAD:(A;;FA;;;SY)", L"O:SYD:(A;;FA;;;SY)", L"O:" + self + L"D:(A;;FA;;;SY)"})
        BOOST_TEST(!fcs::detail::owner_problem(sd(ok)).has_value(), fcs::detail::narrow(ok));
    const auto everyone = fcs::detail::owner_problem(sd(L"O:WDD:(A;;FA;;;SY)"));
    BOOST_REQUIRE(everyone.has_value());
    BOOST_TEST(everyone->find("owned by S-1-1-0") != std::string::npos, *everyone);
    const auto users = fcs::detail::owner_problem(sd(L"O:BUD:(A;;FA;;;SY)"));
    BOOST_REQUIRE(users.has_value());
    BOOST_TEST(users->find("S-1-5-32-545") != std::string::npos, *users);
    BOOST_TEST(fcs::detail::owner_problem(sd(L"D:(A;;FA;;;SY)")).has_value()); // no owner
    BOOST_TEST(fcs::detail::owner_problem({}).has_value());
    const std::vector<std::uint8_t> junk(64, 0xAB);
    BOOST_TEST(fcs::detail::owner_problem(junk).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
