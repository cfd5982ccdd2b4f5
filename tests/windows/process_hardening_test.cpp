// examples/common/process_hardening.hpp on Windows (what the three example programs do first):
// the process DACL it sets, read back from the process object. ctest runs this suite in a
// process of its own (--run_test), so the hardening stays there.
#include "process_hardening.hpp"

#include "windows/wine.hpp"

#include <boost/test/unit_test.hpp>

#include <aclapi.h>
#include <sddl.h>

#include <string>

BOOST_AUTO_TEST_SUITE(examples_process_hardening)

BOOST_AUTO_TEST_CASE(the_process_dacl_leaves_its_own_account_query_wait_and_terminate) {
    const auto failed = fcs::examples::harden_process();
    BOOST_TEST(!failed.has_value(), (failed ? *failed : std::string()));
    PSECURITY_DESCRIPTOR sd = nullptr;
    PACL dacl = nullptr;
    const DWORD rc = ::GetSecurityInfo(::GetCurrentProcess(), SE_KERNEL_OBJECT,
                                       DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl, nullptr,
                                       &sd);
    BOOST_REQUIRE(rc == ERROR_SUCCESS);
    LPWSTR text = nullptr;
    BOOST_REQUIRE(::ConvertSecurityDescriptorToStringSecurityDescriptorW(
        sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr));
    const std::string sddl = fcs::detail::narrow(text);
    ::LocalFree(text);
    ::LocalFree(sd);
    BOOST_TEST_MESSAGE("process DACL: " << sddl);
    // Exactly two entries: LOCAL SYSTEM (all access) and OWNER RIGHTS with SYNCHRONIZE |
    // PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE. (The protected flag it also sets
    // means nothing for a process, which inherits no entries; Wine does not keep it.)
    BOOST_REQUIRE(dacl != nullptr);
    BOOST_TEST(dacl->AceCount == 2);
    BOOST_TEST(sddl.starts_with("D:"));
    BOOST_TEST(sddl.find(";;;SY)") != std::string::npos);
    BOOST_TEST(sddl.find("(A;;0x101001;;;OW)") != std::string::npos);
    // This process can still do everything with itself (the pseudo handle has all access).
    BOOST_TEST(::GetProcessId(::GetCurrentProcess()) == ::GetCurrentProcessId());
}

BOOST_AUTO_TEST_SUITE_END()
