// fcs/winsvc/service.hpp without the Service Control Manager: service names, the quoting of
// the service's command line (read back by CommandLineToArgvW, as Windows starts it), and
// install/uninstall/run refusing what they must before touching the SCM. The SCM itself runs
// it in tests/windows/e2e_service.sh.
#include <fcs/winsvc/service.hpp>

#include "windows/expect.hpp"

#include <boost/test/unit_test.hpp>

#include <shellapi.h>

#include <string>
#include <vector>

namespace {

using fcs::test::error_of;

std::vector<std::wstring> split(const std::wstring& command_line) {
    int n = 0;
    LPWSTR* argv = ::CommandLineToArgvW(command_line.c_str(), &n);
    BOOST_REQUIRE(argv != nullptr);
    std::vector<std::wstring> out(argv, argv + n);
    ::LocalFree(argv);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(winsvc_service)

BOOST_AUTO_TEST_CASE(service_names_are_short_and_plain) {
    for (const char* good : {"FcsServer", "fcs-failover_2.x", "A"})
        BOOST_TEST(fcs::winsvc::check_name(good).empty(), good);
    for (const std::string& bad : std::vector<std::string>{"", "has space", "back\\slash",
                                                            "slash/", "quote\"", "\xc3\xbcmlaut",
                                                            std::string(81, 'a')})
        BOOST_TEST(!fcs::winsvc::check_name(bad).empty(), bad);
}

BOOST_AUTO_TEST_CASE(quoted_arguments_read_back_unchanged) {
    const std::vector<std::wstring> args = {L"plain",
                                            L"",
                                            L"with space",
                                            L"C:\\Program Data\\fcs\\",
                                            L"tab\there",
                                            L"quote\"inside",
                                            L"back\\\\\"slashes",
                                            L"ends with backslash\\",
                                            L"C:\\no\\space\\"};
    std::wstring command = L"C:\\fcs\\fcs-failover-server.exe";
    for (const auto& a : args)
        command += L" " + fcs::winsvc::quote_argument(a);
    const auto back = split(command);
    BOOST_REQUIRE(back.size() == args.size() + 1);
    for (std::size_t i = 0; i < args.size(); ++i)
        BOOST_TEST((back[i + 1] == args[i]), "argument " << i);
    BOOST_TEST((fcs::winsvc::quote_argument(L"plain") == L"plain"));
}

BOOST_AUTO_TEST_CASE(bad_names_and_programs_are_refused_before_the_scm) {
    fcs::winsvc::install_options o;
    o.name = "bad name";
    o.program = L"C:\\fcs\\server.exe";
    BOOST_TEST((error_of([&] { fcs::winsvc::install(o); }) == fcs::errc::invalid_argument));
    o.name = "FcsGood";
    o.program = L"relative\\server.exe";
    BOOST_TEST((error_of([&] { fcs::winsvc::install(o); }) == fcs::errc::invalid_argument));
    BOOST_TEST((error_of([] { fcs::winsvc::uninstall("a/b"); }) == fcs::errc::invalid_argument));
    BOOST_TEST((error_of([] { fcs::winsvc::run("", [](fcs::winsvc::control&) { return 0; }); }) ==
                fcs::errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(run_outside_the_scm_says_how_to_start_it) {
    bool ran = false;
    try {
        fcs::winsvc::run("FcsNotStartedBySCM", [&](fcs::winsvc::control&) {
            ran = true;
            return 0;
        });
        BOOST_FAIL("run() returned outside the SCM");
    } catch (const fcs::error& e) {
        BOOST_TEST((e.fcs_code() == fcs::errc::invalid_argument));
        BOOST_TEST(std::string(e.what()).find("not started by the Service Control Manager") !=
                   std::string::npos);
    }
    BOOST_TEST(!ran);
}

BOOST_AUTO_TEST_SUITE_END()
