// fcs/storage/windows_directory_watch.hpp through windows_directory<L>::watch: changes made by
// someone else are reported (ReadDirectoryChangesW), the storage's own files are not. Under
// Wine in CI, which implements ReadDirectoryChangesW on inotify.
#include <fcs/acl/windows.hpp>
#include <fcs/storage/windows_directory.hpp>

#include "windows/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
using win_storage = storage::windows_directory<storage::failover_layout>;

/// Counts on_change calls and lets a test wait for the next one.
struct counter {
    std::mutex m;
    std::condition_variable cv;
    int n = 0;
    void bump() {
        std::lock_guard l(m);
        ++n;
        cv.notify_all();
    }
    bool wait_for(int at_least, std::chrono::milliseconds d) {
        std::unique_lock l(m);
        return cv.wait_for(l, d, [&] { return n >= at_least; });
    }
    int now() {
        std::lock_guard l(m);
        return n;
    }
};
void write_file(const std::wstring& path, std::string_view content) {
    std::ofstream f(std::filesystem::path(path), std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
}
std::string text_of(const std::optional<stored_item>& i) {
    return i ? std::string(i->data.begin(), i->data.end()) : std::string("(none)");
}
change_set put_cert(const std::string& name, std::string_view data) {
    change_set c;
    c.puts.push_back({name, part::certificate, secret_bytes(data.begin(), data.end())});
    c.archive_tag = "20261123T101500Z";
    return c;
}
} // namespace

BOOST_AUTO_TEST_SUITE(storage_windows_directory_watch)

BOOST_AUTO_TEST_CASE(a_certificate_replaced_by_another_thread_is_reported_once_settled) {
    fcs::test::scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(acl::windows{}.rules());
    counter c;
    std::vector<std::string> problems;
    auto w = s.watch(
        "A", [&] { c.bump(); }, [&](policy::level, const std::string& m) { problems.push_back(m); },
        {.settle = 100ms});
    // An admin (here another thread) drops a new certificate in: written to a temporary name,
    // then renamed over, the way copy tools and fcs itself replace a file.
    std::thread admin([&] {
        write_file(dir.path + L"\\Certificates\\upload.tmp", "cert");
        ::MoveFileExW((dir.path + L"\\Certificates\\upload.tmp").c_str(),
                      (dir.path + L"\\Certificates\\A.crt").c_str(), MOVEFILE_REPLACE_EXISTING);
    });
    admin.join();
    BOOST_TEST(c.wait_for(1, 5s));
    // Another storage object (another process's view) commits a key: reported too.
    const int before = c.now();
    std::thread other([&] {
        win_storage s2{std::filesystem::path(dir.path)};
        s2.open(acl::windows{}.rules());
        change_set k;
        k.puts.push_back({"A", part::private_key, secret_bytes{'k'}});
        k.archive_tag = "20261123T101500Z";
        s2.commit(k);
    });
    other.join();
    BOOST_TEST(c.wait_for(before + 1, 5s));
    BOOST_TEST(problems.empty());
}

BOOST_AUTO_TEST_CASE(a_key_replaced_by_another_process_is_reported) {
    fcs::test::scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(acl::windows{}.rules());
    write_file(dir.path + L"\\new.key", "key from elsewhere"); // outside the watched folders
    counter c;
    auto w = s.watch("A", [&] { c.bump(); }, {}, {.settle = 100ms});
    // An admin's copy in another process (cmd.exe's copy: it writes A.key in place).
    std::wstring cmd = L"cmd.exe /c copy /y \"" + dir.path + L"\\new.key\" \"" + dir.path +
                       L"\\Certificates\\Keys\\A.key\"";
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    BOOST_REQUIRE(::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW,
                                   nullptr, nullptr, &si, &pi));
    fcs::detail::unique_handle process(pi.hProcess), thread(pi.hThread);
    BOOST_REQUIRE(::WaitForSingleObject(process.get(), 30000) == WAIT_OBJECT_0);
    DWORD code = 1;
    BOOST_REQUIRE(::GetExitCodeProcess(process.get(), &code));
    BOOST_REQUIRE(code == 0u);
    BOOST_TEST(c.wait_for(1, 5s));
    BOOST_TEST(text_of(s.read("A", part::private_key)) == "key from elsewhere");
}

BOOST_AUTO_TEST_CASE(the_storages_own_files_and_unrelated_files_are_not_reported) {
    fcs::test::scratch dir;
    win_storage s{std::filesystem::path(dir.path)};
    s.open(acl::windows{}.rules());
    counter c;
    auto w = s.watch("A", [&] { c.bump(); }, {}, {.settle = 50ms});
    write_file(dir.path + L"\\Certificates\\.fcs-tmp-1234", "temp");
    write_file(dir.path + L"\\Certificates\\.fcs-journal", "journal");
    write_file(dir.path + L"\\Certificates\\notes.txt", "unrelated");
    write_file(dir.path + L"\\Certificates\\Keys\\A.tickets", "ticket keys");
    BOOST_TEST(!c.wait_for(1, 1s));
    // ...while a key is (the watch was working all along).
    write_file(dir.path + L"\\Certificates\\Keys\\A.key", "key");
    BOOST_TEST(c.wait_for(1, 5s));
}

BOOST_AUTO_TEST_CASE(a_data_folder_made_after_the_watch_started_is_watched_once_it_appears) {
    fcs::test::scratch dir;
    const std::wstring root = dir.path + L"\\later";
    win_storage s{std::filesystem::path(root)};
    counter c;
    std::vector<std::string> problems;
    auto w = s.watch(
        "A", [&] { c.bump(); }, [&](policy::level, const std::string& m) { problems.push_back(m); },
        {.settle = 50ms});
    s.open(acl::windows{}.rules()); // the folders appear: reported
    BOOST_TEST(c.wait_for(1, 5s));
    const int before = c.now();
    std::this_thread::sleep_for(200ms);
    s.commit(put_cert("A", "cert"));
    BOOST_TEST(c.wait_for(before + 1, 5s));
    BOOST_TEST(problems.empty());
}

BOOST_AUTO_TEST_SUITE_END()
