#ifndef FCS_TLS_HTTPS_SERVER_HPP
#define FCS_TLS_HTTPS_SERVER_HPP

// A lean HTTPS/1.1 server on the handshake path of fcs::tls::server_context.
//
// BoringSSL runs directly on each non-blocking socket (a BIO that is the socket itself: recv
// and send, no BIO pair, no copy, no buffer of ours per connection; BoringSSL gives its own
// record buffers back when they are empty), driven by Asio's readiness notifications (epoll).
// One event loop per I/O thread, each with its own listening socket on the same port
// (SO_REUSEPORT: the kernel spreads connections over them), so threads share nothing on the
// accept path and a connection lives on one thread from accept to close: no strand, no lock,
// no reference count. Timeouts are deadlines checked by one sweep per thread, not a timer per
// connection. A connection is closed one way: close_notify, FIN, close (the peer's close_notify
// is not waited for). The handshake configuration is shed once the handshake is done.
//
// Limits: a handshake and each request (reading it and writing its answer) must finish within
// `timeout`, an idle keep-alive connection is closed after `timeout`; at most `max_connections`
// at once (clamped to the descriptor limit; a connection over it is closed at once and
// counted); request header and body sizes bounded (fcs::http::request_reader).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/detail/socket_ops.hpp>
#include <fcs/error.hpp>
#include <fcs/http/request_reader.hpp>
#include <fcs/policy/concepts.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifndef _WIN32 // adopt(): socket activation is POSIX (systemd)
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace fcs::tls {

/// How an https_server listens and what it bounds.
struct https_options {
    std::string bind = "127.0.0.1";
    unsigned short port = 8443; ///< 0: an ephemeral port (see https_server::port())
    unsigned threads = 1; ///< I/O threads, each with its own listener and event loop (Windows: 1)
    std::size_t max_connections = 256;
    std::chrono::seconds timeout{10}; ///< handshake, each request, idle keep-alive
    http::request_limits limits;
    /// Where the server's own messages go (running out of descriptors, the cap clamped).
    std::function<void(policy::level, std::string)> log;
    /// A listening TCP socket to serve instead of binding `bind`:`port` (socket activation:
    /// systemd passes it, see fcs/systemd/notify.hpp listen_socket()). The server owns it
    /// from then on; every I/O thread accepts from it (a descriptor of its own each). POSIX
    /// only: refused on Windows.
    int adopt_listener = -1;
};

/// Counts since start, summed over the I/O threads.
struct https_counters {
    std::uint64_t handshakes = 0;
    std::uint64_t handshake_failures = 0; ///< refused versions, plain HTTP, timeouts, probes
    std::uint64_t requests = 0;
    std::uint64_t rejected_connections = 0; ///< closed at once because of the cap
    std::int64_t active_connections = 0;
};

namespace https_detail {

/// What the socket BIO of a connection writes to: the socket and the send flags (MSG_MORE
/// while an answer, its close_notify and the FIN can leave as one segment).
struct socket_io {
    detail::socket_ops::native fd{};
    int send_flags = 0;
};

/// A BIO that is the socket: recv/send (detail/socket_ops.hpp: MSG_NOSIGNAL on POSIX, a write
/// to a peer that went away is EPIPE, never SIGPIPE), would-block as "retry". Its data is a
/// socket_io.
inline BIO_METHOD* socket_bio_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fcs socket");
        if (!m)
            return m;
        BIO_meth_set_read(m, [](BIO* b, char* out, int len) -> int {
            BIO_clear_retry_flags(b);
            auto* io = static_cast<socket_io*>(BIO_get_data(b));
            bool retry = false;
            const int n = detail::socket_ops::recv_some(io->fd, out, len, retry);
            if (retry)
                BIO_set_retry_read(b);
            return n;
        });
        BIO_meth_set_write(m, [](BIO* b, const char* in, int len) -> int {
            BIO_clear_retry_flags(b);
            auto* io = static_cast<socket_io*>(BIO_get_data(b));
            bool retry = false;
            const int n = detail::socket_ops::send_some(io->fd, in, len, io->send_flags, retry);
            if (retry)
                BIO_set_retry_write(b);
            return n;
        });
        BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long {
            return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is held: every write is a send
        });
        return m;
    }();
    return method;
}

/// Counters written by one I/O thread only (a load and a store, no locked instruction), read
/// by any. One cache line per thread.
struct alignas(64) thread_counters {
    std::atomic<std::uint64_t> handshakes{0};
    std::atomic<std::uint64_t> handshake_failures{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::int64_t> active{0};

    template <class T>
    static void add(std::atomic<T>& a, T n) noexcept {
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

} // namespace https_detail

/**
 * The server. Binds in the constructor (so the caller can print the port); run() serves on
 * `threads` threads (the caller's among them) until stop().
 *
 * Example:
 * @code
 *   fcs::tls::server_context tls;
 *   tls.follow(service);
 *   fcs::tls::https_server server(tls.native_handle(), options,
 *       [](const fcs::http::request& req, fcs::http::response& res) { ... });
 *   std::cout << server.url() << '\n';
 *   server.run(); // until server.stop() from a signal handler on server.control_executor()
 * @endcode
 * @throws fcs::error (invalid_argument, io_failed) when the address is not valid or the port
 *         cannot be bound.
 */
class https_server {
public:
    using handler = std::function<void(const http::request&, http::response&)>;
    using executor_type = boost::asio::io_context::executor_type;

    https_server(SSL_CTX* ctx, https_options options, handler handle)
        : ctx_(ctx ? bssl::UpRef(ctx) : bssl::UniquePtr<SSL_CTX>())
        , options_(std::move(options))
        , handle_(std::move(handle)) {
        if (!ctx_ || !handle_)
            throw error(errc::invalid_argument, options_.bind, "start the HTTPS server",
                        "a TLS context and a request handler are required");
        if (!https_detail::socket_bio_method())
            throw error(errc::crypto_failed, options_.bind, "start the HTTPS server",
                        "creating the socket BIO method failed");
        boost::system::error_code ec;
        address_ = boost::asio::ip::make_address(options_.bind, ec);
        if (ec)
            throw error(errc::invalid_argument, options_.bind, "start the HTTPS server",
                        "not an IP address");
        options_.threads = std::clamp(options_.threads, 1u, 256u);
        if (!detail::socket_ops::shared_port && options_.threads > 1) {
            log(policy::level::info, "serving on one I/O thread: this platform cannot give "
                                     "each thread a listener of its own (no SO_REUSEPORT)");
            options_.threads = 1;
        }
        options_.timeout = std::max(options_.timeout, std::chrono::seconds(1));
        clamp_connection_cap();
        port_ = options_.port;
        for (unsigned i = 0; i < options_.threads; ++i)
            workers_.push_back(std::make_unique<worker>(*this));
        if (options_.adopt_listener >= 0) {
            adopt(options_.adopt_listener);
            return;
        }
        for (auto& w : workers_)
            w->listen(port_);
    }

    ~https_server() {
        stop_threads();
        workers_.clear(); // connections, then listeners, then loops
    }
    https_server(const https_server&) = delete;
    https_server& operator=(const https_server&) = delete;

    unsigned short port() const noexcept { return port_; }
    std::string url() const {
        auto host = options_.bind.find(':') != std::string::npos ? "[" + options_.bind + "]"
                                                                 : options_.bind;
        return "https://" + host + ":" + std::to_string(port_);
    }
    /// The connection cap in effect (clamped to the descriptor limit).
    std::size_t max_connections() const noexcept { return options_.max_connections; }
    const https_options& options() const noexcept { return options_; }

    /// The first I/O thread's loop: for the caller's signals and timers.
    executor_type control_executor() noexcept { return workers_.front()->ioc.get_executor(); }

    https_counters counters() const noexcept {
        https_counters c;
        for (auto& w : workers_) {
            auto& t = w->counters;
            c.handshakes += t.handshakes.load(std::memory_order_relaxed);
            c.handshake_failures += t.handshake_failures.load(std::memory_order_relaxed);
            c.requests += t.requests.load(std::memory_order_relaxed);
            c.rejected_connections += t.rejected.load(std::memory_order_relaxed);
            c.active_connections += t.active.load(std::memory_order_relaxed);
        }
        return c;
    }

    bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

    /// Serves until stop(): one thread per I/O loop, the caller's thread runs the first.
    void run() {
        for (auto& w : workers_)
            boost::asio::post(w->ioc, [wp = w.get()] { wp->start(); });
        for (std::size_t i = 1; i < workers_.size(); ++i)
            threads_.emplace_back([w = workers_[i].get()] { w->run(); });
        workers_.front()->run();
        stop_threads();
    }

    /**
     * Stops accepting at once, closes idle connections, lets requests in flight finish for at
     * most `grace`, then makes run() return. Safe from any thread, and more than once.
     */
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2)) {
        if (stopping_.exchange(true))
            return;
        auto deadline = std::chrono::steady_clock::now() + grace;
        for (auto& w : workers_)
            boost::asio::post(w->ioc, [wp = w.get(), deadline] { wp->begin_stop(deadline); });
    }

    /// Wait after accept() ran out of descriptors (or memory) before trying again.
    static constexpr std::chrono::milliseconds accept_backoff{100};
    /// Descriptors kept out of the connection cap: the standard streams, the listeners, epoll,
    /// inotify, the signal pipe, the message log, the files read on a reload, etcd's sockets.
    static constexpr std::size_t reserved_descriptors = 64;

private:
    using clock = std::chrono::steady_clock;
    using clock_time = clock::time_point;
    struct worker;

    /// One TLS connection; owned by its worker's list, touched only by the worker's thread.
    class connection {
    public:
        connection(worker& w, boost::asio::ip::tcp::socket&& s)
            : w_(w)
            , socket_(std::move(s))
            , reader_(w.server.options_.limits) {}
        connection(const connection&) = delete;
        connection& operator=(const connection&) = delete;

        /// False when BoringSSL could not make the connection's state (the caller frees it).
        bool start() {
            ssl_.reset(SSL_new(w_.server.ctx_.get()));
            if (!ssl_)
                return false;
            BIO* bio = BIO_new(https_detail::socket_bio_method());
            if (!bio)
                return false;
            io_.fd = socket_.native_handle();
            BIO_set_data(bio, &io_);
            BIO_set_init(bio, 1);
            SSL_set_bio(ssl_.get(), bio, bio); // one BIO both ways: one reference
            SSL_set_accept_state(ssl_.get());
            // The handshake configuration (certificate references, cipher and curve lists) is
            // dropped once the handshake is done: an established connection keeps only its keys.
            SSL_set_shed_handshake_config(ssl_.get(), 1);
            deadline_ = clock::now() + w_.server.options_.timeout;
            return true;
        }

        /// Runs the connection as far as it goes without blocking.
        void drive() {
            for (;;) {
                switch (phase_) {
                case phase::handshake:
                    if (!handshake())
                        return;
                    break;
                case phase::reading:
                    if (!read())
                        return;
                    break;
                case phase::writing:
                    if (!write())
                        return;
                    break;
                }
            }
        }

        /// Past its deadline, or the server is stopping and it waits for a request that has
        /// not begun: closed (the pending wait ends, its handler frees the connection).
        void expire(bool timed_out) {
            if (closing_)
                return;
            closing_ = true;
            if (timed_out && phase_ == phase::handshake)
                https_detail::thread_counters::add(w_.counters.handshake_failures, std::uint64_t{1});
            w_.release_slot(*this); // before the peer can see the close
            boost::system::error_code ignored;
            socket_.close(ignored);
        }

        bool idle() const noexcept { return phase_ == phase::reading && reader_.idle(); }
        clock_time deadline() const noexcept { return deadline_; }

        connection* prev = nullptr;
        connection* next = nullptr;
        bool holds_slot = true; ///< counted in the server's open connections

    private:
        enum class phase : std::uint8_t { handshake, reading, writing };

        bool handshake() {
            int r = SSL_do_handshake(ssl_.get());
            if (r == 1) {
                https_detail::thread_counters::add(w_.counters.handshakes, std::uint64_t{1});
                begin_request();
                return true;
            }
            int e = SSL_get_error(ssl_.get(), r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return wait(e);
            // Plain HTTP, TLS 1.0/1.1, no common cipher, a port probe: refused here.
            ERR_clear_error();
            https_detail::thread_counters::add(w_.counters.handshake_failures, std::uint64_t{1});
            return finish(false);
        }

        void begin_request() {
            phase_ = phase::reading;
            deadline_ = clock::now() + w_.server.options_.timeout;
        }

        bool read() {
            auto r = reader_.next(); // pipelined bytes first
            while (r == http::request_reader::result::need_more) {
                int n = SSL_read(ssl_.get(), w_.buffer, sizeof w_.buffer);
                if (n <= 0) {
                    int e = SSL_get_error(ssl_.get(), n);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        reader_.release();
                        if (w_.server.stopping() && reader_.idle())
                            return finish(true); // stopping: no new request is read
                        return wait(e);
                    }
                    // close_notify (ZERO_RETURN), EOF without it, or a TLS error.
                    ERR_clear_error();
                    return finish(e == SSL_ERROR_ZERO_RETURN);
                }
                r = reader_.feed({w_.buffer, static_cast<std::size_t>(n)});
            }
            if (r == http::request_reader::result::done) {
                https_detail::thread_counters::add(w_.counters.requests, std::uint64_t{1});
                auto req = reader_.take();
                http::response res;
                w_.server.handle_(req, res);
                res.keep_alive(req.keep_alive() && !w_.server.stopping());
                res.prepare_payload();
                respond(res);
            } else if (r == http::request_reader::result::too_large) {
                reply_error(boost::beast::http::status::payload_too_large, "request too large");
            } else {
                reply_error(boost::beast::http::status::bad_request, "malformed request");
            }
            return true;
        }

        void reply_error(boost::beast::http::status s, std::string_view what) {
            http::response res;
            res.result(s);
            res.set(boost::beast::http::field::content_type, "application/json");
            res.set(boost::beast::http::field::strict_transport_security, "max-age=31536000");
            res.body() = "{\"error\":\"" + std::string(what) + "\"}\n";
            res.keep_alive(false);
            res.prepare_payload();
            respond(res);
        }

        void respond(const http::response& res) {
            out_ = http::serialize(res);
            keep_alive_ = res.keep_alive();
            phase_ = phase::writing;
            deadline_ = clock::now() + w_.server.options_.timeout;
        }

        bool write() {
            // The last answer waits in the socket (MSG_MORE) for its close_notify and the FIN:
            // one segment, one wake-up of the client instead of three.
            io_.send_flags = keep_alive_ ? 0 : detail::socket_ops::more;
            // Retried with the same buffer after WANT_WRITE, as BoringSSL requires.
            int n = SSL_write(ssl_.get(), out_.data(), static_cast<int>(out_.size()));
            if (n <= 0) {
                int e = SSL_get_error(ssl_.get(), n);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return wait(e);
                ERR_clear_error();
                return finish(false);
            }
            std::string().swap(out_);
            if (!keep_alive_)
                return finish(true);
            begin_request();
            return true;
        }

        /// Waits for the socket; false (drive() returns).
        bool wait(int want) {
            waiting_ = true;
            auto kind = want == SSL_ERROR_WANT_WRITE ? boost::asio::socket_base::wait_write
                                                     : boost::asio::socket_base::wait_read;
            socket_.async_wait(kind, [this](boost::system::error_code ec) {
                waiting_ = false;
                if (ec || closing_)
                    return w_.destroy(this);
                drive();
            });
            return false;
        }

        /// Ends the connection; false (drive() returns). Graceful: close_notify, then FIN, and
        /// what the peer sent meanwhile is read away so the close does not turn into a reset
        /// that could destroy the answer in flight. The peer's close_notify is not awaited.
        bool finish(bool graceful) {
            if (graceful && !closing_) {
                w_.release_slot(*this); // before the peer can see close_notify or the FIN
                io_.send_flags = detail::socket_ops::more; // pushed by the FIN below
                SSL_shutdown(ssl_.get()); // sends close_notify (once; a full socket drops it)
                ERR_clear_error();
                const auto fd = socket_.native_handle();
                // The FIN, with whatever waits in the socket.
                detail::socket_ops::shutdown_write(fd);
                for (int i = 0; i < 4; ++i)
                    if (detail::socket_ops::recv_nowait(fd, w_.buffer,
                                                        static_cast<int>(sizeof w_.buffer)) <= 0)
                        break;
            }
            w_.destroy(this);
            return false;
        }

        worker& w_;
        boost::asio::ip::tcp::socket socket_;
        https_detail::socket_io io_; ///< the BIO's view of socket_ (declared before ssl_)
        bssl::UniquePtr<SSL> ssl_;
        http::request_reader reader_;
        std::string out_; ///< the answer being written (empty between requests)
        clock_time deadline_{};
        phase phase_ = phase::handshake;
        bool waiting_ = false;
        bool closing_ = false;
        bool keep_alive_ = true;
    };

    /// One I/O thread: its loop, listener, connections and counters.
    struct worker {
        explicit worker(https_server& s)
            : server(s)
            , ioc(1)
            , acceptor(ioc)
            , sweep_timer(ioc)
            , retry_timer(ioc) {}
        ~worker() {
            while (head)
                destroy(head);
        }
        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        /// Binds this thread's listener on `port` (0 for the first: an ephemeral port, which
        /// becomes everyone's).
        void listen(unsigned short& port) {
            boost::asio::ip::tcp::endpoint ep(server.address_, port);
            boost::system::error_code ec;
            acceptor.open(ep.protocol(), ec);
            if (!ec)
                detail::socket_ops::prepare_listener(acceptor, ec);
            if (!ec)
                acceptor.bind(ep, ec);
            if (!ec)
                acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
            if (!ec)
                acceptor.non_blocking(true, ec);
            if (ec)
                throw error(errc::io_failed, server.url_host() + ":" + std::to_string(port),
                            "listen", ec.message());
            port = acceptor.local_endpoint().port();
        }

        void start() {
            accept();
            sweep();
        }

        void run() {
            ioc.run();
        }

#ifdef _WIN32
        /// Windows: accepts through IOCP (AcceptEx), one connection per completion. A readiness
        /// wait on a listening socket is not usable there: Asio waits with a zero-byte receive,
        /// which a listening socket never completes (seen under Wine).
        void accept() {
            if (!acceptor.is_open())
                return;
            acceptor.async_accept(ioc, [this](boost::system::error_code ec,
                                              boost::asio::ip::tcp::socket s) {
                if (ec == boost::asio::error::operation_aborted || !acceptor.is_open())
                    return;
                if (ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory)
                    return starved(ec);
                if (!ec) {
                    server.accepting_again();
                    open(std::move(s));
                }
                accept();
            });
        }
#else
        /// Accepts every connection waiting, then waits for more. A burst is taken in slices
        /// so the connections already open get their turn.
        void accept() {
            for (int i = 0; i < 64; ++i) {
                if (!acceptor.is_open())
                    return;
                boost::system::error_code ec;
                boost::asio::ip::tcp::socket s(ioc);
                acceptor.accept(s, ec);
                if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                    acceptor.async_wait(boost::asio::socket_base::wait_read,
                                        [this](boost::system::error_code wec) {
                                            if (!wec)
                                                accept();
                                        });
                    return;
                }
                if (ec == boost::system::errc::too_many_files_open ||
                    ec == boost::system::errc::too_many_files_open_in_system ||
                    ec == boost::asio::error::no_buffer_space ||
                    ec == boost::asio::error::no_memory)
                    return starved(ec);
                if (ec) // the peer gave up before accept (ECONNABORTED) and the like
                    continue;
                server.accepting_again();
                open(std::move(s));
            }
            boost::asio::post(ioc, [this] { accept(); });
        }
#endif

        /// The connection stays in the listen queue: accepting again at once would fail again
        /// at once, a busy loop. Wait for descriptors to be freed.
        void starved(boost::system::error_code ec) {
            server.cannot_accept(ec);
            retry_timer.expires_after(accept_backoff);
            retry_timer.async_wait([this](boost::system::error_code wec) {
                if (!wec && !server.stopping())
                    accept();
            });
        }

        void open(boost::asio::ip::tcp::socket&& s) {
            boost::system::error_code ignored;
            // One slot of the cap, taken by all threads from one count: exact, whichever
            // thread accepts.
            if (server.open_.fetch_add(1, std::memory_order_relaxed) >=
                server.options_.max_connections) {
                server.open_.fetch_sub(1, std::memory_order_relaxed);
                https_detail::thread_counters::add(counters.rejected, std::uint64_t{1});
                s.close(ignored);
                return;
            }
            s.non_blocking(true, ignored);
            s.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
            auto* c = new connection(*this, std::move(s));
            link(c);
            if (!c->start())
                return destroy(c);
            c->drive();
        }

        void link(connection* c) noexcept {
            c->next = head;
            if (head)
                head->prev = c;
            head = c;
            https_detail::thread_counters::add(counters.active, std::int64_t{1});
        }

        void destroy(connection* c) noexcept {
            if (c->prev)
                c->prev->next = c->next;
            else
                head = c->next;
            if (c->next)
                c->next->prev = c->prev;
            release_slot(*c);
            delete c;
        }

        /// Gives the connection's slot back as soon as it ends (before its close is visible to
        /// the peer, so a peer that saw it may connect again at the cap), once.
        void release_slot(connection& c) noexcept {
            if (!c.holds_slot)
                return;
            c.holds_slot = false;
            server.open_.fetch_sub(1, std::memory_order_relaxed);
            https_detail::thread_counters::add(counters.active, std::int64_t{-1});
        }

        /// Closes the connections past their deadline; while stopping, the idle ones too and,
        /// after the grace period, all.
        void sweep() {
            const auto now = clock::now();
            const bool past_grace = stopping && now >= grace_end;
            for (connection* c = head; c; c = c->next)
                if (c->deadline() <= now || past_grace || (stopping && c->idle()))
                    c->expire(c->deadline() <= now);
            if (stopping && (!head || past_grace)) {
                ioc.stop();
                return;
            }
            auto period = stopping ? std::chrono::milliseconds(50)
                                   : std::clamp<std::chrono::milliseconds>(
                                         server.options_.timeout / 8,
                                         std::chrono::milliseconds(100), std::chrono::seconds(1));
            sweep_timer.expires_after(period);
            sweep_timer.async_wait([this](boost::system::error_code ec) {
                if (!ec)
                    sweep();
            });
        }

        void begin_stop(clock_time deadline) {
            stopping = true;
            grace_end = deadline;
            boost::system::error_code ignored;
            acceptor.close(ignored);
            retry_timer.cancel();
            sweep_timer.cancel();
            boost::asio::post(ioc, [this] { sweep(); });
        }

        https_server& server;
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::acceptor acceptor;
        boost::asio::steady_timer sweep_timer;
        boost::asio::steady_timer retry_timer; ///< after running out of descriptors
        connection* head = nullptr;            ///< the open connections
        bool stopping = false;
        clock_time grace_end{};
        https_detail::thread_counters counters;
        /// Where SSL_read puts a record's plaintext (the reader copies what it keeps).
        char buffer[http::request_reader::max_record];
    };

    /// Serves the listening socket `fd` (owned from here on, closed on a throw): each worker
    /// gets a descriptor of it; the address and port become the server's.
    void adopt(int fd) {
#ifdef _WIN32
        throw error(errc::invalid_argument, "descriptor " + std::to_string(fd),
                    "adopt the listening socket",
                    "socket activation is not supported on Windows; give bind and port");
#else
        auto refuse = [&](std::string why) {
            ::close(fd);
            throw error(errc::invalid_argument, "descriptor " + std::to_string(fd),
                        "adopt the listening socket", std::move(why));
        };
        int listening = 0, type = 0;
        socklen_t len = sizeof listening;
        sockaddr_storage ss{};
        socklen_t sslen = sizeof ss;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            refuse("not a listening socket");
        len = sizeof type;
        if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
            refuse("not a TCP socket (IPv4 or IPv6)");
        const auto protocol = ss.ss_family == AF_INET ? boost::asio::ip::tcp::v4()
                                                      : boost::asio::ip::tcp::v6();
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            int own = i == 0 ? fd : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
            boost::system::error_code ec;
            if (own < 0)
                ec.assign(errno, boost::system::system_category());
            else
                workers_[i]->acceptor.assign(protocol, own, ec);
            if (!ec)
                workers_[i]->acceptor.non_blocking(true, ec);
            if (ec) {
                if (i == 0 || own >= 0)
                    ::close(own);
                throw error(errc::io_failed, "descriptor " + std::to_string(fd),
                            "adopt the listening socket", ec.message());
            }
        }
        auto ep = workers_.front()->acceptor.local_endpoint();
        address_ = ep.address();
        options_.bind = address_.to_string();
        port_ = ep.port();
#endif
    }

    void stop_threads() {
        for (auto& t : threads_)
            if (t.joinable())
                t.join();
        threads_.clear();
    }

    std::string url_host() const {
        return options_.bind.find(':') != std::string::npos ? "[" + options_.bind + "]"
                                                           : options_.bind;
    }

    void log(policy::level l, std::string message) const {
        if (options_.log)
            options_.log(l, std::move(message));
    }

    /// Logged once per episode, whichever thread sees it first.
    void cannot_accept(boost::system::error_code ec) {
        if (!accept_starved_.exchange(true))
            log(policy::level::error, "cannot accept connections: " + ec.message() +
                                          "; retrying every " +
                                          std::to_string(accept_backoff.count()) +
                                          " ms (raise the descriptor limit, ulimit -n, or lower "
                                          "--max-connections)");
    }
    void accepting_again() {
        if (accept_starved_.load(std::memory_order_relaxed) && accept_starved_.exchange(false))
            log(policy::level::info, "accepting connections again");
    }

    /// A cap above what the descriptor limit allows would end in accept() failing (EMFILE)
    /// instead of the orderly refusal the cap gives: each connection takes one descriptor.
    void clamp_connection_cap() {
        const auto known = detail::socket_ops::descriptor_limit();
        if (!known)
            return;
        const auto limit = *known;
        const std::size_t reserved = reserved_descriptors;
        const std::size_t fits = limit > reserved + 1 ? limit - reserved : 1;
        if (options_.max_connections <= fits)
            return;
        log(policy::level::warning,
            "the connection cap " + std::to_string(options_.max_connections) +
                " is clamped to " + std::to_string(fits) + ": the descriptor limit (ulimit -n) is " +
                std::to_string(limit) + " and " + std::to_string(reserved) +
                " are kept for files, inotify and etcd");
        options_.max_connections = fits;
    }

    bssl::UniquePtr<SSL_CTX> ctx_; ///< a reference of ours (released on a constructor's throw too)
    https_options options_;
    handler handle_;
    boost::asio::ip::address address_;
    unsigned short port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> accept_starved_{false};
    /// Connections open, over all threads: the cap's one shared count (its own cache line:
    /// written once per accept and once per close).
    alignas(64) std::atomic<std::size_t> open_{0};
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
};

} // namespace fcs::tls

#endif // FCS_TLS_HTTPS_SERVER_HPP
