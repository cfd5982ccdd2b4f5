// fcs/reloader.hpp: reloads on the storage's watch (real inotify) and on request, on its own
// worker thread, keeping the pair in use when a reload fails.

#include "support/service.hpp"

#include <fcs/reloader.hpp>
#include <fcs/tls/server_context.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {
using namespace fcs;
namespace t = fcs::test;
using t::eventually;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// The directory storage, recording the thread of every read and write.
class recording_storage : public t::dir_storage {
public:
    struct record {
        std::mutex mutex;
        std::vector<std::thread::id> threads;
    };
    explicit recording_storage(std::filesystem::path root)
        : t::dir_storage(std::move(root)) {}

    std::vector<std::string> names(part p) const {
        note();
        return t::dir_storage::names(p);
    }
    std::optional<stored_item> read(const std::string& n, part p) const {
        note();
        return t::dir_storage::read(n, p);
    }
    void commit(const change_set& c) {
        note();
        t::dir_storage::commit(c);
    }
    std::shared_ptr<record> calls = std::make_shared<record>();

private:
    void note() const {
        std::lock_guard lock(calls->mutex);
        calls->threads.push_back(std::this_thread::get_id());
    }
};
static_assert(policy::WatchableStorage<recording_storage>);

using service = FailoverCertService<recording_storage, acl::posix, log::memory, t::manual_clock>;

struct fixture {
    t::temp_dir dir;
    log::memory log;
    t::manual_clock clock;
    service_options opts;
    service svc{opts, recording_storage(dir.path()), acl::posix{}, log, clock};
    tls::server_context tls;
    std::string first;

    fixture() {
        first = svc.start().status.info.sha256_fingerprint;
        tls.follow(svc);
    }
    std::string serving() const { return tls.current()->sha256_fingerprint(); }
    /// Another process replacing the pair (`replace`): its own service on the same folder.
    std::string install_elsewhere(const std::string& cn) {
        auto pair = t::openssl_ca_issued(dir / ("work-" + cn), cn);
        service other(opts, recording_storage(dir.path()), acl::posix{}, log::memory{}, clock);
        return other.install(t::as_bytes(pair.cert), t::as_bytes(pair.key), "leaf.crt", "leaf.key")
            .info.sha256_fingerprint;
    }
};

reloader_options options() {
    reloader_options o;
    o.change_reason = "a change in the test";
    return o;
}
} // namespace

BOOST_AUTO_TEST_SUITE(reloader)

BOOST_FIXTURE_TEST_CASE(a_change_in_the_storage_is_reloaded_once_and_served, fixture) {
    fcs::reloader<service> r(svc, &tls, options());
    r.start();
    BOOST_TEST(r.reloads() == 0u);
    auto installed = install_elsewhere("new.example");
    BOOST_TEST(eventually([&] { return serving() == installed; }));
    BOOST_TEST(r.reloads() == 1u);
    std::this_thread::sleep_for(1500ms); // well past the settle: nothing else is pending
    BOOST_TEST(r.reloads() == 1u, "one commit, one reload");
    BOOST_TEST(r.reload_failures() == 0u);
    BOOST_TEST(log.count(policy::level::info,
                         "reload after a change in the test: new handshakes get SHA-256 " +
                             installed) == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_bad_pair_keeps_the_pair_in_use_served_and_says_why, fixture) {
    fcs::reloader<service> r(svc, &tls, options());
    r.start();
    // A certificate whose key is not the one stored: the pair does not match.
    auto other = t::openssl_ca_issued(dir / "work", "other.example");
    t::write_text(dir / "Certificates" / (opts.name + ".crt"), other.cert);
    BOOST_TEST(eventually([&] { return r.reload_failures() >= 1u; }));
    BOOST_TEST(serving() == first);
    BOOST_TEST(svc.current()->info.sha256_fingerprint == first);
    BOOST_TEST(log.count(policy::level::error, "reload after a change in the test failed: ") >= 1u);
    BOOST_TEST(log.count(policy::level::error,
                         "keeps serving the certificate in use (SHA-256 " + first + ")") >= 1u);
}

BOOST_FIXTURE_TEST_CASE(storage_work_runs_on_the_worker_never_on_the_callers_thread, fixture) {
    auto& calls = *svc.storage().calls;
    {
        std::lock_guard lock(calls.mutex);
        calls.threads.clear(); // start() ran here, before the reloader
    }
    fcs::reloader<service> r(svc, &tls, options());
    r.start(); // the first ticket-key sync reads and writes the storage
    r.request("a test request");
    BOOST_TEST(eventually([&] { return r.reloads() == 1u; }));
    auto installed = install_elsewhere("watched.example"); // a reload from the watch
    BOOST_TEST(eventually([&] { return serving() == installed; }));
    r.stop();
    std::lock_guard lock(calls.mutex);
    // install_elsewhere's own service wrote through another recording_storage.
    BOOST_TEST(calls.threads.size() >= 3u, "ticket sync and two reloads read the storage");
    BOOST_TEST(std::all_of(calls.threads.begin(), calls.threads.end(),
                           [&](auto id) { return id != std::this_thread::get_id(); }));
    BOOST_TEST(std::count(calls.threads.begin(), calls.threads.end(), calls.threads.front()) ==
                   static_cast<long>(calls.threads.size()),
               "all on one thread");
}

BOOST_FIXTURE_TEST_CASE(the_ticket_keys_are_stored_and_published_at_start, fixture) {
    fcs::reloader<service> r(svc, &tls, options());
    r.start();
    auto ring = r.ticket_keys().current();
    BOOST_REQUIRE(ring);
    BOOST_TEST(!ring->empty());
    BOOST_TEST(fs::exists(dir / ("Certificates/Keys/" + opts.name + ".tickets")));
    BOOST_TEST(log.count(policy::level::info, "session-ticket keys created") == 1u);
}

BOOST_FIXTURE_TEST_CASE(requests_while_one_waits_are_folded_and_none_run_after_stop, fixture) {
    reloader_options o = options();
    o.watch_storage = false;
    fcs::reloader<service> r(svc, &tls, o);
    r.start();
    for (int i = 0; i < 50; ++i)
        r.request("a burst");
    BOOST_TEST(eventually([&] { return r.reloads() >= 1u; }));
    r.stop();
    auto done = r.reloads();
    BOOST_TEST(done < 50u, "requests made while one waited were folded into it");
    r.request("after stop");
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(r.reloads() == done);
}

BOOST_FIXTURE_TEST_CASE(the_hooks_run_around_every_reload_on_the_worker_with_its_outcome, fixture) {
    // What a server tells systemd: RELOADING=1 before, READY=1 after (with whether it failed).
    struct event {
        std::string what;
        std::thread::id thread;
        std::uint64_t reloads_seen;
    };
    std::mutex m;
    std::vector<event> events;
    std::unique_ptr<fcs::reloader<service>> r;
    reloader_options o = options();
    o.before_reload = [&](const std::string& why) {
        std::lock_guard lock(m);
        events.push_back({"before " + why, std::this_thread::get_id(), r->reloads()});
    };
    o.after_reload = [&](bool failed) {
        std::lock_guard lock(m);
        events.push_back(
            {failed ? "after failed" : "after ok", std::this_thread::get_id(), r->reloads()});
    };
    r = std::make_unique<fcs::reloader<service>>(svc, &tls, o);
    r->start();
    r->request("SIGHUP");
    BOOST_TEST(eventually([&] {
        std::lock_guard lock(m);
        return events.size() == 2u;
    }));
    // A pair that does not match: the reload fails, the hook says so.
    auto other = t::openssl_ca_issued(dir / "work", "other.example");
    t::write_text(dir / "Certificates" / (opts.name + ".crt"), other.cert);
    BOOST_TEST(eventually([&] {
        std::lock_guard lock(m);
        return events.size() == 4u;
    }));
    const auto worker = r->worker_id();
    r->stop();
    std::lock_guard lock(m);
    BOOST_REQUIRE(events.size() == 4u);
    BOOST_TEST(events[0].what == "before SIGHUP");
    BOOST_TEST(events[0].reloads_seen == 0u, "before the reload is counted");
    BOOST_TEST(events[1].what == "after ok");
    BOOST_TEST(events[1].reloads_seen == 1u);
    BOOST_TEST(events[2].what == "before a change in the test");
    BOOST_TEST(events[3].what == "after failed");
    BOOST_TEST(r->reload_failures() == 1u);
    for (auto& e : events)
        BOOST_TEST((e.thread == worker && e.thread != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_SUITE_END()
