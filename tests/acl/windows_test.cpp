// fcs/acl/windows.hpp: the service account SID rule, the protected DACLs fcs builds (read back
// ACE by ACE and as SDDL through the Win32 API), the "too open" check on descriptors the tests
// build, and, on a real NTFS only, files created with those DACLs and read back from disk.
#include <fcs/acl/windows.hpp>

#include "windows/scratch.hpp"
#include "windows/wine.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

using fcs::item_class;
using fcs::acl::windows;

constexpr const char* trusted_installer =
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

struct ace_view {
    BYTE type;
    BYTE flags;
    ACCESS_MASK mask;
    std::string sid;
    bool operator==(const ace_view&) const = default;
};

std::ostream& operator<<(std::ostream& os, const ace_view& a) {
    return os << "{type " << int(a.type) << ", flags " << int(a.flags) << ", mask 0x" << std::hex
              << a.mask << std::dec << ", " << a.sid << "}";
}

std::string sid_text(PSID sid) {
    wchar_t* raw = nullptr;
    BOOST_REQUIRE(::ConvertSidToStringSidW(sid, &raw));
    fcs::detail::unique_local<wchar_t> owned(raw);
    return fcs::detail::narrow(raw);
}

/// The DACL of a descriptor as Windows reads it (GetSecurityDescriptorDacl, GetAce), and
/// whether it is protected.
std::vector<ace_view> read_dacl(PSECURITY_DESCRIPTOR sd, bool& out_protected) {
    BOOST_REQUIRE(::IsValidSecurityDescriptor(sd));
    SECURITY_DESCRIPTOR_CONTROL control = 0;
    DWORD revision = 0;
    BOOST_REQUIRE(::GetSecurityDescriptorControl(sd, &control, &revision));
    out_protected = (control & SE_DACL_PROTECTED) != 0;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = nullptr;
    BOOST_REQUIRE(::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted));
    BOOST_REQUIRE(present);
    BOOST_REQUIRE(dacl != nullptr);
    ACL_SIZE_INFORMATION info{};
    BOOST_REQUIRE(::GetAclInformation(dacl, &info, sizeof info, AclSizeInformation));
    std::vector<ace_view> out;
    for (DWORD i = 0; i < info.AceCount; ++i) {
        void* p = nullptr;
        BOOST_REQUIRE(::GetAce(dacl, i, &p));
        auto* h = static_cast<ACE_HEADER*>(p);
        BOOST_REQUIRE(h->AceType == ACCESS_ALLOWED_ACE_TYPE);
        auto* a = static_cast<ACCESS_ALLOWED_ACE*>(p);
        out.push_back({h->AceType, h->AceFlags, a->Mask, sid_text(&a->SidStart)});
    }
    return out;
}

std::vector<std::uint8_t> from_sddl(const wchar_t* sddl) {
    PSECURITY_DESCRIPTOR raw = nullptr;
    ULONG len = 0;
    BOOST_REQUIRE_MESSAGE(
        ::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &raw, &len),
        "SDDL not accepted: " << fcs::detail::narrow(sddl));
    fcs::detail::unique_local<void> owned(raw);
    auto* p = static_cast<std::uint8_t*>(raw);
    return {p, p + len};
}

using temp_folder = fcs::test::scratch;

/// Creates `path` (CREATE_NEW) with `descriptor` at creation.
void create_with(const std::wstring& path, const std::vector<std::uint8_t>& descriptor) {
    SECURITY_ATTRIBUTES sa = fcs::acl::security_attributes(descriptor);
    fcs::detail::unique_handle h(::CreateFileW(path.c_str(), GENERIC_WRITE, 0, &sa, CREATE_NEW,
                                               FILE_ATTRIBUTE_NORMAL, nullptr));
    const DWORD err = ::GetLastError();
    BOOST_REQUIRE_MESSAGE(h, "CreateFileW: " << fcs::detail::win32_message(err));
}

/// The finding's text, empty when there is none (so a failing test shows it).
std::string finding(const std::optional<fcs::access_problem>& p) {
    return p ? p->text : std::string();
}

windows make_acl() {
    return windows({.service_name = "NT SERVICE\\FcsTest"});
}

} // namespace

static_assert(fcs::policy::Acl<windows>);

BOOST_AUTO_TEST_SUITE(acl_windows)

BOOST_AUTO_TEST_CASE(service_sid_follows_the_virtual_account_rule) {
    // The value Windows itself gives NT SERVICE\TrustedInstaller.
    BOOST_TEST(fcs::acl::service_account_sid("NT SERVICE\\TrustedInstaller").str() ==
               trusted_installer);
    // The prefix is optional and the name is upper-cased first.
    BOOST_TEST(fcs::acl::service_account_sid("TrustedInstaller").str() == trusted_installer);
    BOOST_TEST(fcs::acl::service_account_sid("nt service\\trustedinstaller").str() ==
               trusted_installer);
    BOOST_TEST(fcs::acl::service_account_sid("FcsTest").str() != trusted_installer);
    // Another value Windows publishes (SQL Server's default instance).
    BOOST_TEST(fcs::acl::service_account_sid("NT SERVICE\\MSSQLSERVER").str() ==
               "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003");
    // Beyond ASCII too: the name is upper-cased as UTF-16 ("\u00e4" and "\u00c4", UTF-8 here).
    BOOST_TEST(fcs::acl::service_account_sid("dienst-\xc3\xa4").str() ==
               fcs::acl::service_account_sid("DIENST-\xc3\x84").str());
    // The binary form is the one Windows parses from the text.
    PSID parsed = nullptr;
    BOOST_REQUIRE(::ConvertStringSidToSidA(trusted_installer, &parsed));
    fcs::detail::unique_local<void> owned(parsed);
    BOOST_TEST(::EqualSid(parsed, fcs::acl::service_account_sid("TrustedInstaller").get()));
    BOOST_TEST(::GetLengthSid(parsed) ==
               fcs::acl::service_account_sid("TrustedInstaller").bytes().size());
    for (const char* bad : {"", "NT SERVICE\\", "a\\b", "a/b"})
        BOOST_CHECK_THROW(fcs::acl::service_account_sid(bad), fcs::error);
}

BOOST_AUTO_TEST_CASE(well_known_sids_are_the_ones_windows_makes) {
    auto well_known = [](WELL_KNOWN_SID_TYPE t) {
        BYTE buf[SECURITY_MAX_SID_SIZE];
        DWORD n = sizeof buf;
        BOOST_REQUIRE(::CreateWellKnownSid(t, nullptr, buf, &n));
        return std::vector<std::uint8_t>(buf, buf + n);
    };
    auto bytes = [](const fcs::acl::windows_sid& s) {
        return std::vector<std::uint8_t>(s.bytes().begin(), s.bytes().end());
    };
    BOOST_TEST(bytes(fcs::acl::windows_sid::local_system()) == well_known(WinLocalSystemSid));
    BOOST_TEST(bytes(fcs::acl::windows_sid::administrators()) ==
               well_known(WinBuiltinAdministratorsSid));
    BOOST_TEST(bytes(fcs::acl::windows_sid::users()) == well_known(WinBuiltinUsersSid));
}

BOOST_AUTO_TEST_CASE(key_items_are_protected_and_only_for_admins_system_and_the_service) {
    const windows acl = make_acl();
    const std::string svc = fcs::acl::service_account_sid("FcsTest").str();
    const auto rules = acl.rules();
    BOOST_TEST(rules.secret_items.file_security == acl.descriptor(item_class::secret_item, false));
    BOOST_TEST(rules.secret_items.dir_security == acl.descriptor(item_class::secret_item, true));

    bool is_protected = false;
    auto file =
        read_dacl(const_cast<std::uint8_t*>(rules.secret_items.file_security.data()), is_protected);
    BOOST_TEST(is_protected);
    const std::vector<ace_view> want_file{
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, "S-1-5-18"},
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, "S-1-5-32-544"},
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_GENERIC_READ, svc}};
    BOOST_TEST(file == want_file, boost::test_tools::per_element());

    auto folder =
        read_dacl(const_cast<std::uint8_t*>(rules.secret_items.dir_security.data()), is_protected);
    BOOST_TEST(is_protected);
    const BYTE oici = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE;
    const std::vector<ace_view> want_folder{
        {ACCESS_ALLOWED_ACE_TYPE, oici, FILE_ALL_ACCESS, "S-1-5-18"},
        {ACCESS_ALLOWED_ACE_TYPE, oici, FILE_ALL_ACCESS, "S-1-5-32-544"},
        {ACCESS_ALLOWED_ACE_TYPE, oici, FILE_GENERIC_READ | FILE_GENERIC_EXECUTE, svc}};
    BOOST_TEST(folder == want_folder, boost::test_tools::per_element());

    BOOST_TEST(fcs::acl::to_sddl(rules.secret_items.file_security) ==
               "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;" + svc + ")");
    BOOST_TEST(fcs::acl::to_sddl(rules.secret_items.dir_security) ==
               "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;" + svc + ")");
}

BOOST_AUTO_TEST_CASE(certificate_items_are_readable_by_users_and_the_service) {
    const windows acl = make_acl();
    const std::string svc = fcs::acl::service_account_sid("FcsTest").str();
    const auto rules = acl.rules();
    bool is_protected = false;
    auto file =
        read_dacl(const_cast<std::uint8_t*>(rules.public_items.file_security.data()), is_protected);
    BOOST_TEST(is_protected);
    const std::vector<ace_view> want_file{
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, "S-1-5-18"},
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, "S-1-5-32-544"},
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_GENERIC_READ, svc},
        {ACCESS_ALLOWED_ACE_TYPE, 0, FILE_GENERIC_READ, "S-1-5-32-545"}};
    BOOST_TEST(file == want_file, boost::test_tools::per_element());
    BOOST_TEST(fcs::acl::to_sddl(rules.public_items.file_security) ==
               "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;" + svc + ")(A;;FR;;;BU)");
    BOOST_TEST(fcs::acl::to_sddl(rules.public_items.dir_security) ==
               "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;" + svc +
                   ")(A;OICI;0x1200a9;;;BU)");
}

BOOST_AUTO_TEST_CASE(a_writing_service_gets_modify_and_no_service_means_no_entry) {
    const windows writes({.service_name = "FcsTest", .service_writes = true});
    const std::string svc = fcs::acl::service_account_sid("FcsTest").str();
    BOOST_TEST(fcs::acl::to_sddl(writes.descriptor(item_class::secret_item, false)) ==
               "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1301bf;;;" + svc + ")");
    const windows none;
    BOOST_TEST(!none.service_sid());
    BOOST_TEST(fcs::acl::to_sddl(none.descriptor(item_class::secret_item, false)) ==
               "D:P(A;;FA;;;SY)(A;;FA;;;BA)");
    BOOST_TEST(fcs::acl::to_sddl(none.descriptor(item_class::public_item, false)) ==
               "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)");
}

BOOST_AUTO_TEST_CASE(folders_and_files_are_created_with_the_descriptors) {
    // What Wine can show too: CreateDirectoryW and CreateFileW take each descriptor at
    // creation (what the DACL then holds on disk is for acl_windows_ntfs, on NTFS).
    const windows acl = make_acl();
    const auto rules = acl.rules();
    temp_folder dir;
    for (auto c : {item_class::public_item, item_class::secret_item}) {
        const std::wstring folder =
            dir.path + (c == item_class::public_item ? L"\\Certificates" : L"\\Keys");
        SECURITY_ATTRIBUTES sa = fcs::acl::security_attributes(rules.of(c).dir_security);
        const BOOL made = ::CreateDirectoryW(folder.c_str(), &sa);
        const DWORD made_err = ::GetLastError();
        BOOST_TEST_REQUIRE(made != 0, fcs::detail::win32_message(made_err));
        const std::wstring file = folder + L"\\x";
        create_with(file, rules.of(c).file_security);
        SECURITY_ATTRIBUTES again = fcs::acl::security_attributes(rules.of(c).file_security);
        fcs::detail::unique_handle h(::CreateFileW(file.c_str(), GENERIC_WRITE, 0, &again,
                                                   CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr));
        const DWORD err = ::GetLastError();
        BOOST_TEST(!h); // CREATE_NEW never opens what exists
        BOOST_TEST(err == DWORD{ERROR_FILE_EXISTS});
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(acl_windows_too_open)

BOOST_AUTO_TEST_CASE(what_fcs_builds_is_not_too_open) {
    const windows acl = make_acl();
    for (auto c : {item_class::public_item, item_class::secret_item})
        for (bool folder : {false, true})
            BOOST_TEST(finding(acl.check_descriptor(acl.descriptor(c, folder), c)) == "");
    fcs::file_facts f;
    f.security_descriptor = acl.descriptor(item_class::secret_item, false);
    BOOST_TEST(finding(acl.check(f, item_class::secret_item)) == "");
}

BOOST_AUTO_TEST_CASE(a_key_anyone_else_may_read_is_too_open) {
    const windows acl = make_acl();
    const std::wstring svc = fcs::detail::widen(fcs::acl::service_account_sid("FcsTest").str());
    struct sample {
        std::wstring sddl;
        const char* names;
    };
    const std::vector<sample> too_open{
        {L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)", "BUILTIN\\Users"},
        {L"D:P(A;;FA;;;SY)(A;;GR;;;WD)", "Everyone"},
        {L"D:(A;;FA;;;SY)(A;;FR;;;AU)", "Authenticated Users"},
        {L"D:P(A;;FA;;;BA)(A;;FR;;;" + fcs::detail::widen(trusted_installer) + L")",
         "S-1-5-80-956008885"},
        {L"D:P(A;;FA;;;BA)(A;;WD;;;BU)", "BUILTIN\\Users"}, // may rewrite the DACL
        {L"D:P(A;;FA;;;BA)(A;;FW;;;BU)", "BUILTIN\\Users"}, // may replace the key
    };
    for (const auto& s : too_open) {
        fcs::file_facts f;
        f.security_descriptor = from_sddl(s.sddl.c_str());
        auto p = acl.check(f, item_class::secret_item);
        BOOST_TEST_INFO(fcs::detail::narrow(s.sddl));
        BOOST_REQUIRE(p);
        BOOST_TEST(p->text.find(s.names) != std::string::npos, p->text);
        BOOST_TEST(p->mode_only); // writing the configured DACL again repairs it
    }
    // Denials only narrow; inherit-only entries are for what a folder holds, not for itself.
    for (const std::wstring& ok : {L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;" + svc + L")(D;;FA;;;BU)",
                                   std::wstring(L"D:P(A;;FA;;;SY)(A;OIIO;FR;;;BU)")}) {
        BOOST_TEST_INFO(fcs::detail::narrow(ok));
        BOOST_TEST(finding(acl.check_descriptor(from_sddl(ok.c_str()), item_class::secret_item)) ==
                   "");
    }
}

BOOST_AUTO_TEST_CASE(a_certificate_anyone_else_may_change_is_too_open) {
    const windows acl = make_acl();
    BOOST_TEST(finding(acl.check_descriptor(
                   from_sddl(L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)(A;;FR;;;WD)"),
                   item_class::public_item)) == "");
    auto p = acl.check_descriptor(from_sddl(L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FRFW;;;BU)"),
                                  item_class::public_item);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->text.find("change it") != std::string::npos, p->text);
    // The service changes its certificate only when it is configured to.
    const std::wstring svc = fcs::detail::widen(fcs::acl::service_account_sid("FcsTest").str());
    const auto svc_writes = from_sddl((L"D:P(A;;FA;;;SY)(A;;0x1301bf;;;" + svc + L")").c_str());
    BOOST_TEST(acl.check_descriptor(svc_writes, item_class::public_item).has_value());
    const windows writes({.service_name = "FcsTest", .service_writes = true});
    BOOST_TEST(finding(writes.check_descriptor(svc_writes, item_class::public_item)) == "");
}

BOOST_AUTO_TEST_CASE(no_dacl_or_a_foreign_owner_is_a_finding) {
    const windows acl = make_acl();
    auto no_dacl = acl.check_descriptor(from_sddl(L"O:BA"), item_class::secret_item);
    BOOST_REQUIRE(no_dacl);
    BOOST_TEST(no_dacl->text.find("no DACL") != std::string::npos, no_dacl->text);
    auto foreign = acl.check_descriptor(from_sddl(L"O:BUD:P(A;;FA;;;SY)"), item_class::secret_item);
    BOOST_REQUIRE(foreign);
    BOOST_TEST(foreign->text.find("owned by BUILTIN\\Users") != std::string::npos, foreign->text);
    BOOST_TEST(!foreign->mode_only); // a new DACL does not take the owner's rights away
    BOOST_TEST(finding(acl.check_descriptor(from_sddl(L"O:SYD:P(A;;FA;;;SY)"),
                                            item_class::secret_item)) == "");
    BOOST_TEST(finding(acl.check_descriptor(from_sddl(L"O:BAD:P(A;;FA;;;BA)"),
                                            item_class::secret_item)) == "");
}

BOOST_AUTO_TEST_CASE(the_process_own_account_is_trusted_like_the_posix_owner) {
    // The account that runs the service wrote the file: as owner and in the DACL it is no
    // "anyone else" (acl::posix accepts the service's own uid the same way).
    const windows acl = make_acl();
    const std::wstring self = fcs::detail::widen(fcs::acl::process_account_sid().str());
    BOOST_TEST(fcs::acl::process_account_sid().str().starts_with("S-1-5-"));
    BOOST_TEST(finding(acl.check_descriptor(
                   from_sddl((L"O:" + self + L"D:P(A;;FA;;;SY)(A;;FA;;;" + self + L")").c_str()),
                   item_class::secret_item)) == "");
    BOOST_TEST(finding(acl.check_descriptor(
                   from_sddl((L"O:" + self + L"D:P(A;;FA;;;" + self + L")").c_str()),
                   item_class::public_item)) == "");
    // ...and trusting it does not trust anyone beside it.
    BOOST_TEST(acl.check_descriptor(
                      from_sddl((L"O:" + self + L"D:P(A;;FA;;;" + self + L")(A;;FR;;;BU)").c_str()),
                      item_class::secret_item)
                   .has_value());
}

BOOST_AUTO_TEST_CASE(a_truncated_or_empty_descriptor_is_a_finding_never_a_pass) {
    const windows acl = make_acl();
    const auto& sd = acl.descriptor(item_class::public_item, true);
    BOOST_TEST(acl.check_descriptor(sd, item_class::secret_item).has_value()); // Users read it
    const auto& key = acl.descriptor(item_class::secret_item, false);
    for (std::size_t n = 0; n < key.size(); ++n) {
        std::vector<std::uint8_t> cut(key.begin(), key.begin() + static_cast<std::ptrdiff_t>(n));
        BOOST_TEST_INFO("first " << n << " of " << key.size() << " bytes");
        BOOST_TEST(acl.check_descriptor(cut, item_class::secret_item).has_value());
    }
    fcs::file_facts none;
    BOOST_TEST(acl.check(none, item_class::secret_item).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// On a real NTFS: files created with fcs's descriptors carry exactly them. Wine stores no
// security descriptors (its DACLs become chmod bits), so there this suite says SKIPPED.
BOOST_AUTO_TEST_SUITE(acl_windows_ntfs)

namespace {

/// The DACL stored on disk, as GetNamedSecurityInfoW reads it, in self-relative form.
std::vector<std::uint8_t> stored_dacl(const std::wstring& path) {
    PSECURITY_DESCRIPTOR sd = nullptr;
    DWORD rc = ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                       nullptr, nullptr, nullptr, nullptr, &sd);
    BOOST_REQUIRE_MESSAGE(rc == ERROR_SUCCESS,
                          "GetNamedSecurityInfoW: " << fcs::detail::win32_message(rc));
    fcs::detail::unique_local<void> owned(sd);
    auto* p = static_cast<std::uint8_t*>(sd);
    return {p, p + ::GetSecurityDescriptorLength(sd)};
}

/// True (after saying SKIPPED) when NTFS security cannot be tested here.
bool skip_under_wine() {
    const std::string wine = fcs::test::wine_version();
    if (wine.empty())
        return false;
    std::printf("SKIPPED: Wine %s stores no security descriptors (a DACL becomes chmod bits, the "
                "protected flag and the Administrators and service entries are lost); this needs "
                "a real NTFS\n",
                wine.c_str());
    std::fflush(stdout);
    return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_key_file_is_created_with_the_key_dacl) {
    if (skip_under_wine())
        return;
    const windows acl = make_acl();
    temp_folder dir;
    SECURITY_ATTRIBUTES sa =
        fcs::acl::security_attributes(acl.descriptor(item_class::secret_item, true));
    const std::wstring keys = dir.path + L"\\Keys";
    BOOST_REQUIRE(::CreateDirectoryW(keys.c_str(), &sa));
    const std::wstring key = keys + L"\\x.key";
    create_with(key, acl.descriptor(item_class::secret_item, false));

    bool stored_protected = false, built_protected = false;
    const auto on_disk = stored_dacl(key);
    const auto built = acl.descriptor(item_class::secret_item, false);
    auto stored_aces = read_dacl(const_cast<std::uint8_t*>(on_disk.data()), stored_protected);
    auto built_aces = read_dacl(const_cast<std::uint8_t*>(built.data()), built_protected);
    BOOST_TEST(stored_protected);
    BOOST_TEST(stored_aces == built_aces, boost::test_tools::per_element());
    BOOST_TEST(finding(acl.check_descriptor(on_disk, item_class::secret_item)) == "");

    const auto folder = stored_dacl(keys);
    auto folder_aces = read_dacl(const_cast<std::uint8_t*>(folder.data()), stored_protected);
    BOOST_TEST(stored_protected);
    auto want =
        read_dacl(const_cast<std::uint8_t*>(acl.descriptor(item_class::secret_item, true).data()),
                  built_protected);
    BOOST_TEST(folder_aces == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_key_file_users_may_read_is_found_too_open_on_disk) {
    if (skip_under_wine())
        return;
    const windows acl = make_acl();
    temp_folder dir;
    const std::wstring key = dir.path + L"\\open.key";
    create_with(key, from_sddl(L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)"));
    auto p = acl.check_descriptor(stored_dacl(key), item_class::secret_item);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->text.find("BUILTIN\\Users") != std::string::npos, p->text);
}

BOOST_AUTO_TEST_SUITE_END()
