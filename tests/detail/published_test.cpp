#include <fcs/detail/published.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <chrono>
#include <thread>
#include <vector>

namespace {

/// Records its destruction, so a test sees exactly when the publisher freed it.
struct tracked {
    int value;
    std::shared_ptr<std::atomic<bool>> destroyed;
    tracked(int v, std::shared_ptr<std::atomic<bool>> d)
        : value(v)
        , destroyed(std::move(d)) {}
    ~tracked() { destroyed->store(true); }
};

struct made {
    std::shared_ptr<const tracked> object;
    std::shared_ptr<std::atomic<bool>> destroyed;
};

made make(int v) {
    auto d = std::make_shared<std::atomic<bool>>(false);
    return {std::make_shared<const tracked>(v, d), d};
}

} // namespace

BOOST_AUTO_TEST_SUITE(detail_published)

BOOST_AUTO_TEST_CASE(a_replaced_object_no_reader_holds_is_freed_by_the_publish_that_replaces_it) {
    fcs::detail::published<tracked> p;
    BOOST_TEST(!p.read());
    auto a = make(1);
    p.publish(std::move(a.object));
    {
        auto r = p.read();
        BOOST_TEST_REQUIRE(static_cast<bool>(r));
        BOOST_TEST(r->value == 1);
    }
    auto b = make(2);
    p.publish(std::move(b.object));
    BOOST_TEST(a.destroyed->load(), "freed at once: no grace period, no reader");
    BOOST_TEST(!b.destroyed->load());
    BOOST_TEST(p.read()->value == 2);
    BOOST_TEST(p.reclaim() == 0u);
}

BOOST_AUTO_TEST_CASE(a_reader_keeps_its_object_alive_across_publishes_until_it_lets_go) {
    fcs::detail::published<tracked> p;
    auto a = make(1), b = make(2), c = make(3);
    p.publish(std::move(a.object));
    auto held = p.read();
    p.publish(std::move(b.object));
    p.publish(std::move(c.object));
    BOOST_TEST(!a.destroyed->load(), "a reader still holds it");
    BOOST_TEST(b.destroyed->load(), "nobody read the second one: freed by the third publish");
    BOOST_TEST(held->value == 1, "the held object is intact");
    BOOST_TEST(p.read()->value == 3, "new readers get the newest");
    BOOST_TEST(p.reclaim() == 1u);
    held = {};
    BOOST_TEST(!a.destroyed->load(), "freed by the publisher, not on the reader's path");
    BOOST_TEST(p.reclaim() == 0u);
    BOOST_TEST(a.destroyed->load());
    BOOST_TEST(!c.destroyed->load());
}

BOOST_AUTO_TEST_CASE(publishing_nothing_retires_the_object_and_readers_see_nothing) {
    fcs::detail::published<tracked> p;
    auto a = make(1);
    p.publish(std::move(a.object));
    p.publish(nullptr);
    BOOST_TEST(a.destroyed->load());
    BOOST_TEST(!p.read());
    BOOST_TEST(!p.owned());
}

BOOST_AUTO_TEST_CASE(readers_racing_publishes_never_see_a_freed_object) {
    // Each reader checks the object it holds is not destroyed while it holds it; TSan (the
    // sanitizer stage runs this suite) checks the frees against the reads.
    fcs::detail::published<tracked> p;
    p.publish(make(0).object);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::atomic<long> reads{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i)
        readers.emplace_back([&] {
            while (!stop.load()) {
                auto r = p.read();
                if (!r || r->destroyed->load())
                    bad.fetch_add(1);
                int v = r ? r->value : -1;
                std::this_thread::yield();
                if (r && (r->value != v || r->destroyed->load()))
                    bad.fetch_add(1);
                reads.fetch_add(1);
            }
        });
    // The race must happen: publish only once the readers run, and keep publishing until
    // they have read many times meanwhile (a busy 2-core machine may schedule them late).
    // Bounded in time; the checks below say whether the overlap was reached.
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (reads.load() < 3 * 100 && std::chrono::steady_clock::now() < limit)
        std::this_thread::yield();
    const long reads_before = reads.load();
    std::vector<std::shared_ptr<std::atomic<bool>>> flags;
    // Publish until the readers have read 2000 times meanwhile (and at least 2000 publishes),
    // yielding after each publish so the readers get the cores; only the time limit stops it
    // earlier, and then the check on reads_during below fails and says so. A fixed count of
    // publishes is not enough: a fast publisher finished 200000 of them while the readers,
    // scheduled late, read 36 times.
    long publishes = 0;
    auto more = [&] {
        return publishes < 2000 || (reads.load() - reads_before < 2000 &&
                                    std::chrono::steady_clock::now() < limit);
    };
    while (more()) {
        auto m = make(static_cast<int>(++publishes));
        if (flags.size() < 1'000'000) // bounded memory; the last one is checked separately
            flags.push_back(m.destroyed);
        auto last = m.destroyed;
        p.publish(std::move(m.object));
        std::this_thread::yield();
        if (!more()) {
            if (flags.back() != last)
                flags.push_back(last);
            break;
        }
    }
    const long reads_during = reads.load() - reads_before;
    stop.store(true);
    for (auto& t : readers)
        t.join();
    BOOST_TEST(bad.load() == 0);
    BOOST_TEST(reads_during >= 2000, reads_during << " reads while publishing");
    BOOST_TEST(p.reclaim() == 0u, "every retired object is freed once the readers are gone");
    for (std::size_t i = 0; i + 1 < flags.size(); ++i)
        BOOST_TEST_REQUIRE(flags[i]->load());
    BOOST_TEST(!flags.back()->load());
}

BOOST_AUTO_TEST_SUITE_END()
