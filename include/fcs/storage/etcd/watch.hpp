#ifndef FCS_STORAGE_ETCD_WATCH_HPP
#define FCS_STORAGE_ETCD_WATCH_HPP

// A watch on one etcd slot: a thread that follows the slot's key (public: etcd_watch).

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/etcd/answers.hpp>
#include <fcs/storage/etcd/options.hpp>
#include <fcs/storage/etcd/state.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace fcs::storage {

/**
 * A watch on one slot: a thread that keeps an etcd watch stream open (the gateway's
 * /v3/watch, reopened after etcd_watch_options::session) and calls `on_change` after every
 * change of the slot's key, and once after (re)connecting when the key changed meanwhile.
 * When etcd cannot be reached it calls `on_log` with an error, waits (doubling up to
 * retry_max) and tries the next endpoint; the service keeps the pair it serves.
 * Callbacks run on the watch thread; the destructor stops and joins it (bounded by the
 * request timeout), so a callback must not destroy its watch.
 */
class etcd_watch {
public:
    using change_fn = std::function<void()>;
    using log_fn = std::function<void(policy::level, const std::string&)>;

    etcd_watch(std::shared_ptr<etcd_detail::state> st, std::string name, change_fn on_change,
               log_fn on_log, etcd_watch_options o)
        : st_(std::move(st))
        , name_(std::move(name))
        , key_(st_->slot_key(name_))
        , on_change_(std::move(on_change))
        , on_log_(std::move(on_log))
        , opts_(o) {
        {
            std::lock_guard lock(st_->mutex);
            auto it = st_->snapshot.find(name_);
            last_ = it == st_->snapshot.end() ? 0 : it->second.mod_revision;
        }
        thread_ = std::thread([this] { run(); });
    }
    ~etcd_watch() {
        {
            std::lock_guard lock(stop_mutex_);
            stopping_ = true;
            if (ioc_)
                ioc_->stop();
        }
        cv_.notify_all();
        if (thread_.joinable())
            thread_.join();
    }
    etcd_watch(const etcd_watch&) = delete;
    etcd_watch& operator=(const etcd_watch&) = delete;

    /// True while a watch stream is open.
    bool connected() const noexcept { return connected_.load(); }
    /// Failed connection attempts so far.
    std::uint64_t failures() const noexcept { return failures_.load(); }

private:
    struct stream_end {
        std::string why; ///< empty: the session ended normally
    };

    void log(policy::level l, const std::string& m) {
        if (!on_log_)
            return;
        try {
            on_log_(l, m);
        } catch (...) {
        }
    }
    void changed() {
        try {
            on_change_();
        } catch (const std::exception& e) {
            log(policy::level::error,
                "etcd:" + key_ + ": reload after a change failed: " + e.what());
        }
        // What the storage refused in the slot (a bundle that fails authentication, a
        // rollback, an old format): said once per cause, since the reload keeps the pair in use
        // and reports only that.
        std::string refused;
        {
            std::lock_guard lock(st_->mutex);
            auto it = st_->snapshot.find(name_);
            if (it != st_->snapshot.end() && it->second.problem)
                refused = it->second.problem->what();
        }
        if (!refused.empty() && refused != refused_said_)
            log(policy::level::error, "not used: " + refused);
        refused_said_ = std::move(refused);
    }
    bool stopping() {
        std::lock_guard lock(stop_mutex_);
        return stopping_;
    }
    void note(std::int64_t rev) {
        if (rev != last_) {
            last_ = rev;
            changed();
        }
    }

    void run() {
        std::size_t attempt = 0;
        while (!stopping()) {
            std::string why;
            try {
                // Catch up first: a change while the stream was closed is not missed.
                auto doc = st_->gw.call("/v3/kv/range", etcd_detail::range_request(key_, {}, true),
                                        "watch etcd:" + key_, st_->opts.request_timeout * 2);
                auto kvs = etcd_detail::kvs_of(doc, st_->opts.max_value_size);
                auto rev = etcd_detail::header_revision(doc, "etcd:" + key_);
                note(kvs.empty() ? 0 : kvs.front().mod_revision);
                auto index = st_->gw.preferred();
                auto end = session(st_->gw.endpoints()[index], rev + 1);
                if (end.why.empty())
                    continue;
                why = st_->gw.endpoints()[index].url + ": " + end.why;
                st_->gw.prefer(index + 1);
            } catch (const error& e) {
                why = e.what();
            } catch (const etcd_detail::transport_failure& f) {
                why = f.what;
                st_->gw.prefer(st_->gw.preferred() + 1);
            } catch (const std::exception& e) {
                why = e.what();
            }
            if (stopping())
                break;
            failures_.fetch_add(1);
            if (!down_ || ++attempt % 10 == 0)
                log(policy::level::error, "etcd:" + key_ + ": cannot watch for changes (" + why +
                                              "); still serving the pair in use; retrying");
            if (!down_)
                attempt = 0;
            down_ = true;
            std::unique_lock lock(stop_mutex_);
            cv_.wait_for(lock, pause_, [&] { return stopping_; });
            pause_ = std::min(pause_ * 2, opts_.retry_max);
        }
    }

    /// One watch stream from `start_rev`; returns when the session ends, fails or is stopped.
    stream_end session(const etcd_detail::endpoint& ep, std::int64_t start_rev) {
        namespace http = etcd_detail::http;
        etcd_detail::net::io_context ioc;
        {
            std::lock_guard lock(stop_mutex_);
            if (stopping_)
                return {};
            ioc_ = &ioc;
        }
        struct unregister {
            etcd_watch* w;
            ~unregister() {
                std::lock_guard lock(w->stop_mutex_);
                w->ioc_ = nullptr;
            }
        } guard{this};
        auto now = etcd_detail::clock::now();
        etcd_detail::connection c(ioc, st_->gw.tls(), ep);
        c.open(ioc, now + st_->opts.request_timeout, &stop_mutex_, &stopping_);
        const etcd_detail::json create = {
            {"create_request",
             {{"key", etcd_detail::b64(key_)}, {"start_revision", std::to_string(start_rev)}}}};
        auto body = etcd_detail::dump(create, "watch etcd:" + key_);
        auto req = etcd_detail::make_request(ep, "/v3/watch", body, st_->gw.token());
        c.lowest().expires_at(now + st_->opts.request_timeout);
        auto ec = etcd_detail::await(
            ioc, [&](auto h) { c.with_stream([&](auto& s) { http::async_write(s, req, h); }); },
            &stop_mutex_, &stopping_);
        if (ec)
            return {"send watch: " + ec.message()};
        std::string line, failure;
        bool created = false;
        auto on_line = [&](std::string_view text) {
            auto got = etcd_detail::read_watch_line(text);
            if (got.created) {
                created = true;
                connected_ = true;
                pause_ = opts_.retry_min;
                if (down_)
                    log(policy::level::info, "etcd:" + key_ + ": watching again (" + ep.url + ")");
                down_ = false;
            }
            if (!got.failure.empty()) {
                failure = std::move(got.failure);
                return false;
            }
            for (auto& rev : got.changes)
                note(rev.value_or(last_ + 1)); // no revision: a change all the same
            return true;
        };
        std::function<std::size_t(std::uint64_t, etcd_detail::beast::string_view,
                                  etcd_detail::beast::error_code&)>
            chunk = [&](std::uint64_t, etcd_detail::beast::string_view data,
                        etcd_detail::beast::error_code& e) -> std::size_t {
            for (char ch : data) {
                if (ch == '\n') {
                    if (!line.empty() && !on_line(line)) {
                        e = etcd_detail::net::error::operation_aborted;
                        return data.size();
                    }
                    line.clear();
                } else if (line.size() >= etcd_detail::max_watch_line) {
                    failure = "a watch event is larger than the bound";
                    e = etcd_detail::net::error::message_size;
                    return data.size();
                } else {
                    line += ch;
                }
            }
            return data.size();
        };
        etcd_detail::beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        // A chunked stream is bounded per line (chunk above) and in time (the session); any
        // other answer (a Content-Length, or a body up to the end of the connection) is bounded
        // as a whole: the limit checks a Content-Length with the header, and counts the bytes
        // of a body read to the end. It is lifted only once the header says "chunked".
        parser.body_limit(etcd_detail::max_watch_line);
        parser.header_limit(16 * 1024);
        parser.on_chunk_body(chunk);
        c.lowest().expires_at(now + opts_.session);
        ec = etcd_detail::await(
            ioc,
            [&](auto h) {
                c.with_stream([&](auto& s) { http::async_read_header(s, buf, parser, h); });
            },
            &stop_mutex_, &stopping_);
        if (!ec && !parser.is_done()) {
            if (parser.chunked())
                parser.body_limit(boost::none);
            ec = etcd_detail::await(
                ioc,
                [&](auto h) {
                    c.with_stream([&](auto& s) { http::async_read(s, buf, parser, h); });
                },
                &stop_mutex_, &stopping_);
        }
        connected_ = false;
        if (ec == http::error::body_limit)
            return {"the watch answer is not a chunked stream and is larger than " +
                    std::to_string(etcd_detail::max_watch_line) + " bytes"};
        if (!failure.empty())
            return {failure};
        if (parser.is_header_done() && parser.get().result_int() != 200) {
            auto doc = etcd_detail::parse(parser.get().body());
            return {"HTTP " + std::to_string(parser.get().result_int()) + ": " +
                    (doc ? etcd_detail::string_at(*doc, "message").value_or("") : std::string())};
        }
        if (ec == etcd_detail::beast::error::timeout && created)
            return {}; // the session's time is up: reopen
        if (ec == etcd_detail::net::error::operation_aborted && stopping())
            return {};
        return {ec ? "watch stream: " + ec.message() : std::string("the watch stream ended")};
    }

    std::shared_ptr<etcd_detail::state> st_;
    std::string name_, key_;
    change_fn on_change_;
    log_fn on_log_;
    etcd_watch_options opts_;
    // Watch thread only:
    std::int64_t last_ = 0;    ///< the key's last known mod_revision (0: absent)
    bool down_ = false;        ///< the last attempt failed (an error was logged)
    std::string refused_said_; ///< the slot's refusal last logged
    std::chrono::milliseconds pause_ = opts_.retry_min;
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> failures_{0};
    std::mutex stop_mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    etcd_detail::net::io_context* ioc_ = nullptr;
    std::thread thread_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_ETCD_WATCH_HPP
