// fcs/log/sinks.hpp's log::file on Windows: the message log DATA\Logs\messages.log, its folders
// and file made with the descriptors given, appended line by line (also by two writers), and
// refused (lines to stderr instead) when a folder or a second name (hard link) stands there.
#include <fcs/acl/windows.hpp>
#include <fcs/detail/win32_fs.hpp>
#include <fcs/log/sinks.hpp>

#include "windows/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>

namespace {

using fcs::test::scratch;

/// The file's text, read the way an admin's editor does while the service writes (sharing
/// read, write and delete: the sink holds it open for appending).
std::string read_text(const std::wstring& path) {
    fcs::detail::unique_handle h(::CreateFileW(
        path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
        nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
    BOOST_REQUIRE(static_cast<bool>(h));
    std::string out(1u << 20, '\0');
    DWORD n = 0;
    BOOST_REQUIRE(::ReadFile(h.get(), out.data(), static_cast<DWORD>(out.size()), &n, nullptr));
    out.resize(n);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_file_windows)

BOOST_AUTO_TEST_CASE(makes_its_folders_and_appends_one_line_per_message) {
    scratch dir;
    const fcs::acl::windows acl({.service_name = "FcsTest", .service_writes = true});
    const std::wstring log = dir.path + L"\\Data\\Logs\\messages.log";
    fcs::log::file sink(std::filesystem::path(log), false,
                        acl.descriptor(fcs::item_class::public_item, true),
                        acl.descriptor(fcs::item_class::public_item, false));
    sink.write(fcs::policy::level::warning, "expires soon");
    fcs::log::file other(sink); // a second writer (another process does the same)
    other.write(fcs::policy::level::error, "two\nlines become one");
    sink.write(fcs::policy::level::info, "third");
    const std::string text = read_text(log);
    BOOST_TEST_MESSAGE(text);
    const std::regex lines(R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) [^\n]+\n){3})");
    BOOST_TEST(std::regex_match(text, lines));
    BOOST_TEST(text.find("WARNING expires soon\n") < text.find("ERROR two lines become one\n"));
    BOOST_TEST(text.find("ERROR two lines become one\n") < text.find("INFO third\n"));
    // A new sink on the same file appends; nothing is truncated.
    fcs::log::file again{std::filesystem::path(log)};
    again.write(fcs::policy::level::info, "after a restart");
    BOOST_TEST(read_text(log).starts_with(text));
    BOOST_TEST(read_text(log).ends_with("INFO after a restart\n"));
}

BOOST_AUTO_TEST_CASE(a_folder_or_a_second_name_in_the_logs_place_is_refused) {
    scratch dir;
    const std::wstring logs = dir.path + L"\\Logs";
    BOOST_REQUIRE(::CreateDirectoryW(logs.c_str(), nullptr));
    // A folder where the log should be: nothing written into or beside it.
    BOOST_REQUIRE(::CreateDirectoryW((logs + L"\\messages.log").c_str(), nullptr));
    fcs::log::file sink{std::filesystem::path(logs + L"\\messages.log")};
    sink.write(fcs::policy::level::info, "to stderr instead");
    BOOST_TEST(dir.files(L"Logs\\messages.log").empty());
    BOOST_REQUIRE(::RemoveDirectoryW((logs + L"\\messages.log").c_str()));
    // A hard link to another file planted as the log: that file stays as it was.
    const std::wstring victim = dir.path + L"\\victim.txt";
    const std::string before = "do not append here\n";
    fcs::detail::create_new_w(victim, std::vector<std::uint8_t>(before.begin(), before.end()), {},
                              "victim.txt");
    BOOST_REQUIRE(::CreateHardLinkW((logs + L"\\messages.log").c_str(), victim.c_str(), nullptr));
    fcs::log::file linked{std::filesystem::path(logs + L"\\messages.log")};
    linked.write(fcs::policy::level::info, "must not land in victim.txt");
    BOOST_TEST(read_text(victim) == before);
}

BOOST_AUTO_TEST_SUITE_END()
