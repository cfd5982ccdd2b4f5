#ifndef FCS_RELOADER_HPP
#define FCS_RELOADER_HPP

// Keeps a running server's pair in step with its storage: reload on a storage change or on
// request, keep the pair in use when a reload fails, re-check expiry, keep the session-ticket
// keys in step. All storage work runs on one worker thread of its own. No Asio: a server
// forwards its signals (SIGHUP) to request().

#include <fcs/policy/concepts.hpp>
#include <fcs/service_types.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/tls/ticket_keys.hpp>
#include <fcs/types.hpp>

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace fcs {

/// What a reloader does besides reloading on request.
struct reloader_options {
    /// Start the storage's watch (when it is a policy::WatchableStorage) and reload on its
    /// changes.
    bool watch_storage = true;
    /// Keep a tls::ticket_keys in step with the item stored next to the pair (load, rotate
    /// when due, publish): at start(), after every reload, and every ticket_sync_interval.
    bool sync_ticket_keys = true;
    /// Expiry re-check (logs the finding again): after a reload and at this interval.
    std::chrono::seconds recheck_interval{6 * 3600};
    /// Re-read of the shared ticket keys (another server may have rotated them).
    std::chrono::seconds ticket_sync_interval{60};
    /// Reason logged for a reload after a watch event ("a change in Certificates/").
    std::string change_reason = "a change in the storage";
    /// Where the ticket keys live, for messages ("the data folder").
    std::string storage_name = "the storage";
    /// Called on the worker just before each reload (a watch event or request()), with its
    /// reason: a server tells its service manager it is reloading (systemd's RELOADING=1).
    /// Must not throw or call stop(); empty: nothing.
    std::function<void(const std::string& why)> before_reload;
    /// Called on the worker after each reload, with whether it failed (the pair in use was then
    /// kept): systemd's READY=1. Must not throw or call stop(); empty: nothing.
    std::function<void(bool failed)> after_reload;
};

/**
 * Runs a service's reloads and related storage work on one worker thread, so that a slow
 * storage (an etcd that does not answer) never blocks the threads that serve connections.
 *
 * - request(why) (thread-safe, returns at once) queues a reload; requests made while one is
 *   waiting are folded into it. The storage's watch (when it has one and
 *   reloader_options::watch_storage) calls it with reloader_options::change_reason.
 * - A failed reload (an invalid, mismatched, missing or unpreparable pair) keeps the pair in
 *   use (the service never publishes an invalid one; tls::server_context keeps its prepared
 *   pair) and logs why, with the fingerprint still served.
 * - After a reload that changed nothing, and every recheck_interval, the expiry finding of the
 *   pair in use is logged again (a change logs it already).
 * - The session-ticket keys are synchronised at start(), after each reload and every
 *   ticket_sync_interval (see tls::ticket_keys::sync).
 *
 * @tparam Service an fcs::FailoverCertService (reload, recheck, current, read_item,
 *         replace_item, storage, log, clock, options).
 *
 * Example:
 * @code
 *   fcs::tls::server_context tls;
 *   tls.follow(service);
 *   fcs::reloader<decltype(service)> reloads(service, &tls, {.change_reason = "a change"});
 *   reloads.start();                         // ticket keys synced, watch running
 *   tls.use_ticket_keys(reloads.ticket_keys());
 *   // on SIGHUP: reloads.request("SIGHUP");
 * @endcode
 */
template <class Service>
class reloader {
public:
    /// `tls` (may be null): the context that follows the service; a pair it cannot prepare
    /// makes the reload count as failed.
    reloader(Service& service, const tls::server_context* tls, reloader_options o = {})
        : service_(service)
        , tls_(tls)
        , opts_(std::move(o)) {}

    ~reloader() { stop(); }
    reloader(const reloader&) = delete;
    reloader& operator=(const reloader&) = delete;

    /**
     * Starts the worker, runs the first ticket-key sync on it (waiting for it: the keys are
     * published when this returns), then starts the storage's watch (every change after this
     * returns is seen). Call once, before serving.
     */
    void start() {
        assert(!worker_.joinable() && "fcs::reloader::start called twice");
        const auto now = std::chrono::steady_clock::now();
        next_recheck_ = now + opts_.recheck_interval;
        next_ticket_sync_ = now + opts_.ticket_sync_interval;
        worker_ = std::thread([this] { run(); });
        if (opts_.sync_ticket_keys) {
            std::promise<void> done;
            auto f = done.get_future();
            post([this, &done] {
                try {
                    sync_tickets(true);
                } catch (...) { // the fallback keyring could not be made (out of memory)
                    done.set_exception(std::current_exception());
                    return;
                }
                done.set_value();
            });
            f.get();
        }
        if constexpr (policy::WatchableStorage<typename Service::storage_type>)
            if (opts_.watch_storage) {
                auto w = service_.storage().watch(
                    service_.options().name, [this] { request(opts_.change_reason); },
                    [this](policy::level l, const std::string& m) { service_.log().write(l, m); });
                std::lock_guard lock(mutex_);
                watch_ = std::make_shared<decltype(w)>(std::move(w));
            }
    }

    /// Queues a reload (thread-safe, returns at once); folded into one already waiting.
    void request(std::string why) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_ || reload_pending_)
                return;
            reload_pending_ = true;
            tasks_.push_back([this, why = std::move(why)] {
                {
                    std::lock_guard l(mutex_);
                    reload_pending_ = false;
                }
                reload(why);
                if (opts_.sync_ticket_keys)
                    sync_tickets(false); // another server may have rotated them
            });
        }
        cv_.notify_one();
    }

    /// Stops the watch, drops work not started yet and waits for the one in progress. Not
    /// from the worker (a watch callback or a log sink).
    void stop() {
        assert(std::this_thread::get_id() != worker_.get_id() &&
               "fcs::reloader::stop called from its own worker");
        std::shared_ptr<void> watch;
        {
            std::lock_guard lock(mutex_);
            watch = std::move(watch_);
        }
        watch.reset(); // joins the watch thread, whose callback takes mutex_
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            tasks_.clear();
        }
        cv_.notify_all();
        if (worker_.joinable())
            worker_.join();
    }

    /// The session-ticket keys kept in step (attach them: tls::server_context::use_ticket_keys).
    const tls::ticket_keys& ticket_keys() const noexcept { return tickets_; }

    /// Reloads run (failed ones included) and failed reloads.
    std::uint64_t reloads() const noexcept { return reloads_.load(std::memory_order_relaxed); }
    std::uint64_t reload_failures() const noexcept {
        return reload_failures_.load(std::memory_order_relaxed);
    }

    /// The worker's thread (for tests and for asserting where storage work runs).
    std::thread::id worker_id() const noexcept { return worker_.get_id(); }

private:
    void post(std::function<void()> f) {
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(f));
        }
        cv_.notify_one();
    }

    void run() {
        using clock = std::chrono::steady_clock;
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (!tasks_.empty()) {
                auto task = std::move(tasks_.front());
                tasks_.pop_front();
                lock.unlock();
                guarded("storage work", task);
                lock.lock();
                continue;
            }
            const auto now = clock::now();
            if (now >= next_recheck_) {
                next_recheck_ = now + opts_.recheck_interval;
                lock.unlock();
                guarded("expiry re-check", [this] { service_.recheck(); });
                lock.lock();
                continue;
            }
            if (opts_.sync_ticket_keys && now >= next_ticket_sync_) {
                next_ticket_sync_ = now + opts_.ticket_sync_interval;
                lock.unlock();
                sync_tickets(false);
                lock.lock();
                continue;
            }
            auto wake = next_recheck_;
            if (opts_.sync_ticket_keys)
                wake = std::min(wake, next_ticket_sync_);
            cv_.wait_until(lock, wake);
        }
    }

    template <class F>
    void guarded(const char* what, F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            service_.log().write(policy::level::error, std::string(what) + " failed: " + e.what());
        } catch (...) {
            service_.log().write(policy::level::error, std::string(what) + " failed");
        }
    }

    std::string serving() const {
        if (tls_) {
            auto in_use = tls_->current();
            return in_use ? "SHA-256 " + in_use->sha256_fingerprint() : std::string("none");
        }
        auto cur = service_.current();
        return cur ? "SHA-256 " + cur->info.sha256_fingerprint : std::string("none");
    }

    void reload(const std::string& why) {
        if (opts_.before_reload)
            guarded("the before-reload hook", [&] { opts_.before_reload(why); });
        reloads_.fetch_add(1, std::memory_order_relaxed);
        const auto failures_before = tls_ ? tls_->publish_failures() : 0;
        reload_result r;
        try {
            r = service_.reload();
        } catch (const std::exception& e) {
            r.failed = true;
            r.message = e.what();
        }
        if (tls_ && tls_->publish_failures() != failures_before) {
            r.failed = true;
            r.message += "; the new pair could not be prepared for TLS: " + tls_->last_error();
        }
        if (r.failed) {
            reload_failures_.fetch_add(1, std::memory_order_relaxed);
            service_.log().write(policy::level::error,
                                 "reload after " + why + " failed: " + r.message +
                                     "; the server keeps serving the certificate in use (" +
                                     serving() + ")");
        } else if (r.changed) {
            service_.log().write(policy::level::info,
                                 "reload after " + why + ": new handshakes get " + serving());
        }
        if (!r.changed) // a change logs its expiry finding already
            guarded("expiry re-check", [this] { service_.recheck(); });
        if (opts_.after_reload)
            guarded("the after-reload hook", [&] { opts_.after_reload(r.failed); });
    }

    /// Loads the stored keys, rotates them when due, publishes them. When the storage cannot
    /// be read or written the keys in use stay (at start: a keyring in memory, so resumption
    /// works on this server alone) and the failure is logged.
    void sync_tickets(bool at_start) {
        // Another server rotating at the same moment is handled inside sync(): its write is a
        // compare-and-swap, and the loser adopts the winner's keyring.
        try {
            if (tickets_.sync(service_))
                service_.log().write(policy::level::info, at_start ? "session-ticket keys created"
                                                                   : "session-ticket keys rotated");
        } catch (const std::exception& e) {
            service_.log().write(policy::level::error,
                                 "session-ticket keys could not be synchronised with " +
                                     opts_.storage_name + ": " + e.what() +
                                     "; sessions resume on this server only until it works");
        }
        auto cur = tickets_.current();
        if (!cur || cur->empty()) {
            tls::ticket_keyring ring;
            ring.rotate(service_.clock().now());
            tickets_.publish(std::move(ring));
        }
    }

    Service& service_;
    const tls::server_context* tls_;
    const reloader_options opts_;
    tls::ticket_keys tickets_;
    std::atomic<std::uint64_t> reloads_{0};
    std::atomic<std::uint64_t> reload_failures_{0};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool reload_pending_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point next_recheck_;
    std::chrono::steady_clock::time_point next_ticket_sync_;
    std::shared_ptr<void> watch_; ///< the storage's watch handle, type-erased
    std::thread worker_;          ///< last: started after everything it uses
};

} // namespace fcs

#endif // FCS_RELOADER_HPP
