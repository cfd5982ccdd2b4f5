// fcs/storage/directory_watch.hpp through directory<L>::watch: real inotify on a temp folder.

#include "support/support.hpp"

#include <fcs/storage/directory_watch.hpp>
#include <fcs/storage/memory.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace {
using namespace fcs;
namespace t = fcs::test;
using t::eventually;
namespace fs = std::filesystem;
using dir_storage = storage::directory<storage::failover_layout>;
using namespace std::chrono_literals;

static_assert(policy::WatchableStorage<dir_storage>);
static_assert(policy::WatchableStorage<storage::directory<storage::server_group_layout>>);
static_assert(!policy::WatchableStorage<storage::memory>, "watching is optional");

constexpr auto settle = 100ms;
/// Long enough for any event of the step before to have been reported.
constexpr auto quiet = settle * 5;

struct watched_folder {
    t::temp_dir dir;
    dir_storage store{dir.path()};
    std::atomic<int> changes{0};
    std::mutex log_mutex;
    std::vector<std::string> log;
    std::unique_ptr<storage::directory_watch> w;

    watched_folder() {
        store.open(acl::posix{}.rules());
        w = store.watch(
            "A", [this] { ++changes; },
            [this](policy::level, const std::string& m) {
                std::lock_guard lock(log_mutex);
                log.push_back(m);
            },
            {settle});
        BOOST_REQUIRE_MESSAGE(w->active(), "inotify runs");
    }
    /// The count once nothing is pending any more.
    int settled() {
        std::this_thread::sleep_for(quiet);
        return changes.load();
    }
};

change_set put_pair(const std::string& name) {
    change_set c;
    c.archive_tag = "20260101T000000Z";
    c.puts.push_back({name, part::certificate, to_secret("cert")});
    c.puts.push_back({name, part::private_key, to_secret("key")});
    return c;
}
} // namespace

BOOST_AUTO_TEST_SUITE(storage_directory_watch)

BOOST_AUTO_TEST_CASE(a_certificate_and_key_written_together_are_reported_once_after_the_settle) {
    watched_folder f;
    BOOST_TEST(f.settled() == 0, "nothing happened yet");
    t::write_text(f.dir / "Certificates/A.crt", "cert");
    t::write_text(f.dir / "Certificates/Keys/A.key", "key", 0600);
    BOOST_TEST(eventually([&] { return f.changes.load() >= 1; }));
    BOOST_TEST(f.settled() == 1, "one burst, one report");
}

BOOST_AUTO_TEST_CASE(a_commit_of_the_storage_is_one_change) {
    watched_folder f;
    // Temporary files, a journal, backups and several renames: one report.
    f.store.commit(put_pair("A"));
    BOOST_TEST(eventually([&] { return f.changes.load() >= 1; }));
    BOOST_TEST(f.settled() == 1);
}

BOOST_AUTO_TEST_CASE(the_storages_own_temporary_and_journal_files_are_ignored) {
    watched_folder f;
    const std::string tmp = std::string(detail::temp_file_prefix) + "0123456789abcdef";
    for (std::string folder : {"Certificates", "Certificates/Keys"}) {
        t::write_text(f.dir / (folder + "/" + tmp), "partial", 0600);
        fs::rename(f.dir / (folder + "/" + tmp), f.dir / (folder + "/" + tmp + "0"));
        fs::remove(f.dir / (folder + "/" + tmp + "0"));
    }
    t::write_text(f.dir / ("Certificates/" + std::string(dir_storage::journal_file)), "journal",
                  0600);
    fs::remove(f.dir / ("Certificates/" + std::string(dir_storage::journal_file)));
    // Session-ticket keys are rotated by the server itself: not a change of the pair.
    t::write_text(f.dir / "Certificates/Keys/A.tickets", "tickets", 0600);
    // Nor is anything in the archive.
    t::write_text(f.dir / "Certificates/Archive/A.20260101T000000Z.crt", "old");
    BOOST_TEST(f.settled() == 0);
    // The watch is alive: a real change is reported.
    t::write_text(f.dir / "Certificates/A.crt", "cert");
    BOOST_TEST(eventually([&] { return f.changes.load() == 1; }));
}

BOOST_AUTO_TEST_CASE(a_deleted_and_recreated_keys_folder_is_watched_again) {
    watched_folder f;
    fs::remove_all(f.dir / "Certificates/Keys");
    BOOST_TEST(eventually([&] { return f.changes.load() >= 1; }), "the folder going is a change");
    fs::create_directory(f.dir / "Certificates/Keys");
    BOOST_TEST(eventually([&] { return f.changes.load() >= 2; }), "and its return");
    int before = f.settled();
    t::write_text(f.dir / "Certificates/Keys/A.key", "key", 0600);
    BOOST_TEST(eventually([&] { return f.changes.load() == before + 1; }),
               "a key written into the new folder is seen");
}

BOOST_AUTO_TEST_CASE(a_certificates_folder_moved_away_and_rebuilt_is_watched_again) {
    watched_folder f;
    fs::rename(f.dir / "Certificates", f.dir / "Certificates.old");
    BOOST_TEST(eventually([&] { return f.changes.load() >= 1; }));
    int before = f.settled();
    // The old folder's watch must not follow it: a write there is not ours any more.
    t::write_text(f.dir / "Certificates.old/A.crt", "cert");
    BOOST_TEST(f.settled() == before);
    fs::create_directories(f.dir / "Certificates/Keys"); // both at once, as mkdir -p does
    BOOST_TEST(eventually([&] { return f.changes.load() > before; }));
    before = f.settled();
    t::write_text(f.dir / "Certificates/Keys/A.key", "key", 0600);
    BOOST_TEST(eventually([&] { return f.changes.load() == before + 1; }));
    before = f.settled();
    t::write_text(f.dir / "Certificates/A.crt", "cert");
    BOOST_TEST(eventually([&] { return f.changes.load() == before + 1; }));
}

BOOST_AUTO_TEST_CASE(a_folder_that_cannot_be_watched_is_logged) {
    t::temp_dir dir;
    dir_storage store(dir.path()); // never opened: no folders yet
    std::vector<std::string> log;
    std::atomic<int> changes{0};
    auto w = store.watch(
        "A", [&] { ++changes; }, [&](policy::level, const std::string& m) { log.push_back(m); },
        {settle});
    BOOST_REQUIRE(w->active());
    BOOST_TEST(log.size() == 2u, "Certificates and Certificates/Keys");
    BOOST_TEST(log.at(0).starts_with("Certificates: cannot watch for changes"));
    // They are watched once they appear.
    store.open(acl::posix{}.rules());
    BOOST_TEST(eventually([&] { return changes.load() >= 1; }));
    std::this_thread::sleep_for(quiet);
    int before = changes.load();
    t::write_text(dir / "Certificates/Keys/A.key", "key", 0600);
    BOOST_TEST(eventually([&] { return changes.load() == before + 1; }));
}

BOOST_AUTO_TEST_SUITE_END()
