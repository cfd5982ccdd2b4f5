#ifndef FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP
#define FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP

// The REST-over-HTTPS server of fcs-failover-server: Boost.Beast/Asio on BoringSSL, the
// certificate from a FailoverCertService through fcs::tls::server_context, live reload through
// fcs::reloader (the storage's watch: inotify for a folder storage, etcd's watch stream; and
// SIGHUP), periodic expiry re-check, clean stop on SIGINT/SIGTERM.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include "json.hpp"

#include <fcs/failover_cert_service.hpp>
#include <fcs/reloader.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/tls/ticket_keys.hpp>
#include <fcs/types.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <sys/resource.h>

namespace fcs::storage {
class etcd;
} // namespace fcs::storage

namespace fcs_example {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

/// How the server runs. Every input is bounded.
struct server_config {
    std::string bind = "127.0.0.1";
    unsigned short port = 8443;
    unsigned threads = 2;
    std::size_t max_connections = 256;
    std::chrono::seconds timeout{10}; ///< handshake, idle and per-request I/O
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 4 * 1024;
    std::chrono::seconds recheck_interval{6 * 3600}; ///< expiry re-check (at least daily)
    /// Re-read of the shared session-ticket keys (another server may have rotated them) and
    /// rotation when due.
    std::chrono::seconds ticket_sync_interval{60};
    std::filesystem::path data_dir;
};

/// True for a storage kept in folders of the data folder (fcs::storage::directory).
template <class Storage>
inline constexpr bool watches_folders = false;
template <class Layout>
inline constexpr bool watches_folders<fcs::storage::directory<Layout>> = true;

/// The reason logged for a reload after the storage's watch saw a change.
template <class Storage>
std::string change_reason() {
    if constexpr (watches_folders<Storage>)
        return "a change in " + Storage::layout::folder(fcs::part::certificate) + "/";
    else if constexpr (std::is_same_v<Storage, fcs::storage::etcd>)
        return "a change in etcd";
    else
        return "a change in the storage";
}

/// Counters behind /metrics. Relaxed atomics: each is an independent count.
struct server_metrics {
    std::atomic<std::uint64_t> handshakes{0};
    std::atomic<std::uint64_t> handshake_failures{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> rejected_connections{0};
    std::atomic<std::int64_t> active_connections{0};
};

/// What a connection needs from its server: settings, counters and the request handler.
struct connection_env {
    const server_config& config;
    server_metrics& metrics;
    std::atomic<bool>& stopping;
    std::function<void(const http::request<http::string_body>&, http::response<http::string_body>&)>
        handle;
};

/// One TLS connection: handshake, then HTTP/1.1 requests until close, idle timeout or error.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(tcp::socket&& socket, ssl::context& ctx, connection_env& env)
        : stream_(std::move(socket), ctx)
        , buffer_(env.config.max_header_bytes + env.config.max_body_bytes)
        , env_(env) {
        env_.metrics.active_connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection() { env_.metrics.active_connections.fetch_sub(1, std::memory_order_relaxed); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void start() {
        net::dispatch(stream_.get_executor(),
                      beast::bind_front_handler(&connection::on_start, shared_from_this()));
    }

private:
    void on_start() {
        beast::get_lowest_layer(stream_).expires_after(env_.config.timeout);
        stream_.async_handshake(
            ssl::stream_base::server,
            beast::bind_front_handler(&connection::on_handshake, shared_from_this()));
    }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            // Plain HTTP, TLS 1.0/1.1, no common cipher, a port probe, a timeout: all refused here.
            env_.metrics.handshake_failures.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        env_.metrics.handshakes.fetch_add(1, std::memory_order_relaxed);
        read_request();
    }

    void read_request() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(env_.config.max_header_bytes));
        parser_->body_limit(env_.config.max_body_bytes);
        beast::get_lowest_layer(stream_).expires_after(env_.config.timeout);
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&connection::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == ssl::error::stream_truncated)
            return close();
        if (ec == http::error::body_limit || ec == http::error::header_limit ||
            ec == http::error::buffer_overflow)
            return reply_error(http::status::payload_too_large, "request too large");
        if (ec == beast::error::timeout || ec == net::error::operation_aborted)
            return; // idle for too long: the stream is closed already
        if (ec)
            return reply_error(http::status::bad_request, "malformed request");
        env_.metrics.requests.fetch_add(1, std::memory_order_relaxed);
        auto req = parser_->release();
        res_ = {};
        env_.handle(req, res_);
        res_.keep_alive(req.keep_alive() && !env_.stopping.load(std::memory_order_relaxed));
        res_.prepare_payload();
        write();
    }

    void reply_error(http::status s, std::string_view what) {
        res_ = {};
        res_.result(s);
        res_.set(http::field::content_type, "application/json");
        res_.set(http::field::strict_transport_security, "max-age=31536000");
        res_.body() = json_object().add("error", what).str() + "\n";
        res_.keep_alive(false);
        res_.prepare_payload();
        write();
    }

    void write() {
        beast::get_lowest_layer(stream_).expires_after(env_.config.timeout);
        http::async_write(stream_, res_,
                          beast::bind_front_handler(&connection::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec)
            return;
        if (!res_.keep_alive())
            return close();
        read_request();
    }

    void close() {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
        stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
    }

    beast::ssl_stream<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
    connection_env& env_;
};

/**
 * The server. Binds in the constructor (so the caller can print the port), serves in run()
 * until SIGINT/SIGTERM.
 *
 * Everything that reads or writes the storage after start-up (reloads on the storage's watch
 * or SIGHUP, session-ticket key sync, expiry re-checks) runs on fcs::reloader's worker thread,
 * in order: an etcd that does not answer blocks that thread for at most its operation timeout,
 * never the acceptor or the connections.
 * @tparam Service a FailoverCertService with the BoringSSL backend.
 */
template <class Service>
class https_server {
public:
    https_server(Service& service, server_config config)
        : service_(service)
        , config_(std::move(config))
        , env_{config_, metrics_, stopping_, [this](auto& req, auto& res) { handle(req, res); }}
        , asio_ctx_(share(tls_.native_handle()))
        , control_(net::make_strand(ioc_))
        , acceptor_(control_)
        , signals_(control_)
        , drain_timer_(control_)
        , accept_timer_(control_) {
        tls_.follow(service_);
        if (!tls_.current())
            throw std::runtime_error("the certificate in use could not be prepared for TLS: " +
                                     tls_.last_error());
        boost::system::error_code ec;
        auto address = net::ip::make_address(config_.bind, ec);
        if (ec)
            throw std::runtime_error("--bind " + config_.bind + ": not an IP address");
        tcp::endpoint ep(address, config_.port);
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error("cannot listen on " + url_host() + ":" +
                                     std::to_string(config_.port) + ": " + ec.message());
        port_ = acceptor_.local_endpoint().port();
        clamp_connection_cap();
        // Before the caller prints the URL: a SIGHUP or SIGTERM from then on is ours, and so
        // is a change in the storage (a script that waits for the URL and then replaces the
        // files must not race the watch set-up): start() returns with the watch in place and
        // the session-ticket keys synchronised.
        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.add(SIGHUP);
        reloader_.start();
        tls_.use_ticket_keys(reloader_.ticket_keys());
    }

    ~https_server() { reloader_.stop(); }
    https_server(const https_server&) = delete;
    https_server& operator=(const https_server&) = delete;

    unsigned short port() const noexcept { return port_; }
    std::string url() const { return "https://" + url_host() + ":" + std::to_string(port_); }
    const fcs::tls::server_context& tls() const noexcept { return tls_; }
    server_metrics& metrics() noexcept { return metrics_; }

    /// Serves until SIGINT or SIGTERM. SIGHUP reloads the certificate.
    void run() {
        wait_signal();
        accept();
        unsigned n = std::max(1u, config_.threads);
        std::vector<std::thread> pool;
        for (unsigned i = 1; i < n; ++i)
            pool.emplace_back([this] { ioc_.run(); });
        ioc_.run();
        for (auto& t : pool)
            t.join();
        reloader_.stop();
    }

    /// The reloads: request(why) from another source of changes, counters.
    fcs::reloader<Service>& reloads() noexcept { return reloader_; }

    /// /health, /certificate, /metrics; JSON 404 otherwise.
    void handle(const http::request<http::string_body>& req,
                http::response<http::string_body>& res) {
        res.version(11);
        res.set(http::field::server, "fcs-failover-server");
        res.set(http::field::strict_transport_security, "max-age=31536000");
        res.set(http::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        std::string_view target(req.target().data(), req.target().size());
        target = target.substr(0, target.find('?'));
        auto json = [&](http::status s, std::string body) {
            res.result(s);
            res.set(http::field::content_type, "application/json");
            res.body() = std::move(body) + "\n";
        };
        const bool known = target == "/health" || target == "/certificate" || target == "/metrics";
        if (known && req.method() != http::verb::get) {
            res.set(http::field::allow, "GET");
            return json(http::status::method_not_allowed,
                        json_object().add("error", "method not allowed").str());
        }
        if (target == "/health") {
            auto s = service_.status();
            const char* status = s.state == fcs::cert_state::valid      ? "ok"
                                 : s.state == fcs::cert_state::expiring ? "warning"
                                                                        : "error";
            return json(http::status::ok, json_object()
                                              .add("status", status)
                                              .add("state", fcs::to_string(s.state))
                                              .add("days_remaining", s.days_remaining)
                                              .add("sha256_fingerprint", s.info.sha256_fingerprint)
                                              .str());
        }
        if (target == "/certificate")
            return json(http::status::ok, certificate_json(service_.status()));
        if (target == "/metrics") {
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
            res.body() = metrics_text();
            return;
        }
        json(http::status::not_found,
             json_object().add("error", "not found").add("path", target).str());
    }

    /// The Prometheus text exposition.
    std::string metrics_text() const {
        auto s = service_.status();
        std::string out;
        auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                          auto value) {
            out += "# HELP ";
            out += name;
            out += ' ';
            out += help;
            out += "\n# TYPE ";
            out += name;
            out += ' ';
            out += type;
            out += '\n';
            out += name;
            out += ' ';
            out += std::to_string(value);
            out += '\n';
        };
        auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
        const bool usable =
            s.state == fcs::cert_state::valid || s.state == fcs::cert_state::expiring;
        metric("fcs_certificate_expiration_timestamp_seconds", "gauge",
               "notAfter of the certificate in use, in seconds since the Unix epoch.",
               unix_seconds(s.info.not_after));
        metric("fcs_certificate_not_before_timestamp_seconds", "gauge",
               "notBefore of the certificate in use, in seconds since the Unix epoch.",
               unix_seconds(s.info.not_before));
        metric("fcs_certificate_valid", "gauge",
               "1 when the certificate in use is within its validity period, else 0.",
               usable ? 1 : 0);
        metric("fcs_certificate_reloads_total", "counter",
               "Certificate reloads run after a file change or SIGHUP (failed ones included).",
               reloader_.reloads());
        metric("fcs_certificate_reload_failures_total", "counter",
               "Reloads that found an invalid certificate or key; the certificate in use was kept.",
               reloader_.reload_failures());
        metric("fcs_tls_handshakes_total", "counter", "Completed TLS handshakes.",
               load(metrics_.handshakes));
        metric("fcs_tls_handshake_failures_total", "counter",
               "Failed TLS handshakes (refused protocol versions, plain HTTP, timeouts).",
               load(metrics_.handshake_failures));
        metric("fcs_http_requests_total", "counter", "HTTP requests answered.",
               load(metrics_.requests));
        metric("fcs_connections_active", "gauge", "Open client connections.",
               load(metrics_.active_connections));
        metric("fcs_connections_rejected_total", "counter",
               "Connections closed at once because of the connection cap.",
               load(metrics_.rejected_connections));
        return out;
    }

    /// Wait after accept() ran out of descriptors (or memory) before trying again.
    static constexpr std::chrono::milliseconds accept_backoff{100};
    /// Descriptors kept out of the connection cap: the standard streams, the listener, epoll,
    /// inotify, the signal pipe, the message log, the files read on a reload, etcd's sockets.
    static constexpr std::size_t reserved_descriptors = 64;

    /// The connection cap in effect (--max-connections, clamped to the descriptor limit).
    std::size_t max_connections() const noexcept { return config_.max_connections; }

private:
    static SSL_CTX* share(SSL_CTX* h) {
        SSL_CTX_up_ref(h);
        return h;
    }

    /// A cap above what the descriptor limit allows would end in accept() failing (EMFILE)
    /// instead of the orderly refusal the cap gives: each connection takes one descriptor.
    void clamp_connection_cap() {
        rlimit nofile{};
        if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY)
            return;
        const auto limit = static_cast<std::size_t>(nofile.rlim_cur);
        const std::size_t fits =
            limit > reserved_descriptors + 1 ? limit - reserved_descriptors : 1;
        if (config_.max_connections <= fits)
            return;
        service_.log().write(fcs::policy::level::warning,
                             "the connection cap " + std::to_string(config_.max_connections) +
                                 " is clamped to " + std::to_string(fits) +
                                 ": the descriptor limit (ulimit -n) is " + std::to_string(limit) +
                                 " and " + std::to_string(reserved_descriptors) +
                                 " are kept for files, inotify and etcd");
        config_.max_connections = fits;
    }

    fcs::reloader_options reload_options() const {
        fcs::reloader_options o;
        o.recheck_interval = config_.recheck_interval;
        o.ticket_sync_interval = config_.ticket_sync_interval;
        o.change_reason = change_reason<typename Service::storage_type>();
        o.storage_name =
            watches_folders<typename Service::storage_type> ? "the data folder" : "the storage";
        return o;
    }

    std::string url_host() const {
        return config_.bind.find(':') != std::string::npos ? "[" + config_.bind + "]"
                                                           : config_.bind;
    }

    void accept() {
        // The acceptor lives on the control strand (stop() closes it); connections get their own.
        acceptor_.async_accept(
            net::make_strand(ioc_),
            [this](beast::error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
    }

    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open())
            return;
        if (ec == boost::system::errc::too_many_files_open ||
            ec == boost::system::errc::too_many_files_open_in_system ||
            ec == net::error::no_buffer_space || ec == net::error::no_memory) {
            // The connection stays in the listen queue: accepting again at once would fail
            // again at once, a busy loop. Wait for descriptors to be freed; log it once.
            if (!accept_starved_) {
                accept_starved_ = true;
                service_.log().write(fcs::policy::level::error,
                                     "cannot accept connections: " + ec.message() +
                                         "; retrying every " +
                                         std::to_string(accept_backoff.count()) +
                                         " ms (raise the descriptor limit, ulimit -n, or "
                                         "lower --max-connections)");
            }
            accept_timer_.expires_after(accept_backoff);
            accept_timer_.async_wait([this](beast::error_code wait_ec) {
                if (!wait_ec && !stopping_.load())
                    accept();
            });
            return;
        }
        if (!ec) {
            if (accept_starved_) {
                accept_starved_ = false;
                service_.log().write(fcs::policy::level::info, "accepting connections again");
            }
            beast::error_code ignored;
            if (static_cast<std::size_t>(metrics_.active_connections.load(
                    std::memory_order_relaxed)) >= config_.max_connections) {
                metrics_.rejected_connections.fetch_add(1, std::memory_order_relaxed);
                socket.close(ignored);
            } else {
                socket.set_option(tcp::no_delay(true), ignored);
                std::make_shared<connection>(std::move(socket), asio_ctx_, env_)->start();
            }
        }
        accept();
    }

    void wait_signal() {
        signals_.async_wait([this](beast::error_code ec, int sig) {
            if (ec)
                return;
            if (sig == SIGHUP) {
                reloader_.request("SIGHUP");
                wait_signal();
                return;
            }
            stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
        });
    }

    /// Stops accepting, lets requests in flight finish (at most 2 s), then stops the loop.
    void stop(std::string_view why) {
        stopping_.store(true);
        service_.log().write(fcs::policy::level::info, "stopping on " + std::string(why));
        beast::error_code ignored;
        acceptor_.close(ignored);
        accept_timer_.cancel();
        signals_.cancel(ignored);
        drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        drain();
    }

    void drain() {
        if (metrics_.active_connections.load() == 0 ||
            std::chrono::steady_clock::now() >= drain_deadline_) {
            ioc_.stop();
            return;
        }
        drain_timer_.expires_after(std::chrono::milliseconds(50));
        drain_timer_.async_wait([this](beast::error_code) { drain(); });
    }

    Service& service_;
    server_config config_;
    server_metrics metrics_;
    std::atomic<bool> stopping_{false};
    connection_env env_;
    fcs::tls::server_context tls_;
    ssl::context asio_ctx_;
    // Declared after everything a connection uses: destroyed first, with its handlers.
    net::io_context ioc_;
    net::strand<net::io_context::executor_type> control_;
    tcp::acceptor acceptor_;
    net::signal_set signals_;
    net::steady_timer drain_timer_;
    net::steady_timer accept_timer_; ///< the retry after running out of descriptors
    bool accept_starved_ = false;    ///< logged that accepting failed (control strand only)
    // The storage work (its worker thread and the storage's watch): stopped before everything
    // it uses goes.
    fcs::reloader<Service> reloader_{service_, &tls_, reload_options()};
    unsigned short port_ = 0;
    std::chrono::steady_clock::time_point drain_deadline_;
};

} // namespace fcs_example

#endif // FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP
