#ifndef FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP
#define FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP

// The REST-over-HTTPS server of fcs-failover-server, as wiring: fcs::tls::https_server (the lean
// TLS connection layer) with the certificate of a FailoverCertService through
// fcs::tls::server_context, live reload through fcs::reloader (the storage's watch: inotify for a
// folder storage, etcd's watch stream; and SIGHUP), periodic expiry re-check, the routes
// /health, /certificate and /metrics, clean stop on SIGINT/SIGTERM, and systemd's notification
// protocol (fcs::systemd::notifier: READY/RELOADING/STOPPING/STATUS, WATCHDOG pings).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include "json.hpp"

#include <fcs/acme/http01_listener.hpp>
#include <fcs/acme/renewer.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/reloader.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/systemd/notify.hpp>
#include <fcs/tls/https_server.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/tls/ticket_keys.hpp>
#include <fcs/types.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>

// The program's version for fcs_build_info (CMake sets it from the project's version).
#ifndef FCS_SERVER_VERSION
#define FCS_SERVER_VERSION "unknown"
#endif

namespace fcs::storage {
class etcd;
} // namespace fcs::storage

namespace fcs_example {

namespace net = boost::asio;
namespace http = boost::beast::http;

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
    /// A listening socket to serve instead of binding (systemd socket activation); -1: bind.
    int listen_fd = -1;
    /// Automatic renewal from an ACME CA (off when unset), and for http-01 the plain-HTTP
    /// port its answers are served on (on `bind`).
    std::optional<fcs::acme::renewal_options> acme;
    unsigned short acme_http_port = 80;
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
        , ready_(follow(tls_, service_))
        , server_(tls_.native_handle(), listen_options(),
                  [this](const fcs::http::request& req, fcs::http::response& res) {
                      handle(req, res);
                  })
        , signals_(server_.control_executor()) {
        // Before the caller prints the URL: a SIGHUP or SIGTERM from then on is ours, and so
        // is a change in the storage (a script that waits for the URL and then replaces the
        // files must not race the watch set-up): start() returns with the watch in place and
        // the session-ticket keys synchronised.
        signals_.add(SIGINT);
        signals_.add(SIGTERM);
        signals_.add(SIGHUP);
        reloader_.start();
        tls_.use_ticket_keys(reloader_.ticket_keys());
        if (config_.acme) {
            // Before serving: tls-alpn-01 is answered on this port, http-01 on its own.
            acme_responder_ = fcs::acme::challenge_responder::make();
            acme_responder_->serve_on(tls_);
            if (config_.acme->challenge == fcs::acme::challenge_type::http_01)
                http01_ = std::make_unique<fcs::acme::http01_listener>(
                    config_.bind, config_.acme_http_port, acme_responder_);
            renewer_ = std::make_unique<fcs::acme::renewer<Service>>(service_, *config_.acme,
                                                                      acme_responder_);
        }
    }

    ~https_server() {
        renewer_.reset();
        reloader_.stop();
    }
    https_server(const https_server&) = delete;
    https_server& operator=(const https_server&) = delete;

    unsigned short port() const noexcept { return server_.port(); }
    std::string url() const { return server_.url(); }
    const fcs::tls::server_context& tls() const noexcept { return tls_; }

    /**
     * Serves until SIGINT or SIGTERM. SIGHUP reloads the certificate. Under systemd
     * (NOTIFY_SOCKET) READY=1 goes out here: the pair is loaded and prepared and the socket
     * listens (both in the constructor); WATCHDOG=1 at half of WatchdogSec from the first
     * I/O loop, so a hung loop stops the pings.
     */
    void run() {
        wait_signal();
        notify_.ready(status_line());
        if (auto every = notify_.watchdog_interval())
            ping_watchdog(
                std::max<std::chrono::microseconds>(*every / 2, std::chrono::milliseconds(1)));
        if (renewer_) // the CA validates against this server: it serves from now on
            renewer_->start();
        server_.run();
        renewer_.reset();
        reloader_.stop();
    }

    /// The STATUS= line systemd shows: what is served, until when, where.
    std::string status_line() const {
        auto s = service_.status();
        auto in_use = tls_.current();
        return "serving SHA-256 " +
               (in_use ? in_use->sha256_fingerprint() : s.info.sha256_fingerprint) + ", " +
               std::string(fcs::to_string(s.state)) + ", " + std::to_string(s.days_remaining) +
               " days left (until " + iso8601(s.info.not_after) + "), on " + server_.url();
    }

    /// The reloads: request(why) from another source of changes, counters.
    fcs::reloader<Service>& reloads() noexcept { return reloader_; }

    /// /health, /certificate, /metrics; JSON 404 otherwise.
    void handle(const fcs::http::request& req, fcs::http::response& res) {
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
        const auto c = server_.counters();
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
               c.handshakes);
        metric("fcs_tls_handshake_failures_total", "counter",
               "Failed TLS handshakes (refused protocol versions, plain HTTP, timeouts).",
               c.handshake_failures);
        metric("fcs_http_requests_total", "counter", "HTTP requests answered.",
               c.requests);
        metric("fcs_connections_active", "gauge", "Open client connections.",
               c.active_connections);
        metric("fcs_connections_rejected_total", "counter",
               "Connections closed at once because of the connection cap.",
               c.rejected_connections);
        if (renewer_) {
            const auto r = renewer_->stats();
            metric("fcs_acme_renewals_total", "counter",
                   "Certificates obtained from the ACME CA and installed.", r.renewals);
            metric("fcs_acme_renewal_failures_total", "counter",
                   "ACME renewal attempts that failed (the certificate in use was kept).",
                   r.failures);
            metric("fcs_acme_bad_nonce_retries_total", "counter",
                   "Requests the ACME CA refused with badNonce and that were sent again.",
                   r.bad_nonces);
            metric("fcs_acme_next_renewal_timestamp_seconds", "gauge",
                   "When the ACME renewal looks next, in seconds since the Unix epoch.",
                   unix_seconds(r.next_try));
        }
        // The info-metric convention (a gauge of 1 whose labels carry the facts), so a
        // dashboard can join on the version; the label value needs no escaping (digits, dots).
        out += "# HELP fcs_build_info The version of fcs-failover-server running, as a label.\n"
               "# TYPE fcs_build_info gauge\n"
               "fcs_build_info{version=\"" FCS_SERVER_VERSION "\"} 1\n";
        return out;
    }

    /// The connection cap in effect (--max-connections, clamped to the descriptor limit).
    std::size_t max_connections() const noexcept { return server_.max_connections(); }

private:
    /// Publishes the service's pair (and every later one) into `tls`; true, or throws.
    static bool follow(fcs::tls::server_context& tls, Service& service) {
        tls.follow(service);
        if (!tls.current())
            throw std::runtime_error("the certificate in use could not be prepared for TLS: " +
                                     tls.last_error());
        return true;
    }

    fcs::tls::https_options listen_options() const {
        fcs::tls::https_options o;
        o.bind = config_.bind;
        o.port = config_.port;
        o.threads = config_.threads;
        o.max_connections = config_.max_connections;
        o.adopt_listener = config_.listen_fd;
        o.timeout = config_.timeout;
        o.limits.max_header_bytes = config_.max_header_bytes;
        o.limits.max_body_bytes = config_.max_body_bytes;
        o.log = [this](fcs::policy::level l, std::string m) {
            service_.log().write(l, std::move(m));
        };
        return o;
    }

    fcs::reloader_options reload_options() const {
        fcs::reloader_options o;
        o.recheck_interval = config_.recheck_interval;
        o.ticket_sync_interval = config_.ticket_sync_interval;
        o.change_reason = change_reason<typename Service::storage_type>();
        o.storage_name =
            watches_folders<typename Service::storage_type> ? "the data folder" : "the storage";
        // systemd: RELOADING=1 ... READY=1 around every reload (a SIGHUP, ExecReload=, or a
        // change the storage's watch saw).
        o.before_reload = [this](const std::string& why) {
            notify_.reloading("reloading after " + why);
        };
        o.after_reload = [this](bool failed) {
            notify_.ready((failed ? "reload failed, kept the pair in use; " : "") + status_line());
        };
        return o;
    }

    void wait_signal() {
        signals_.async_wait([this](boost::system::error_code ec, int sig) {
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

    /// Stops accepting, lets requests in flight finish (at most 2 s), then ends run().
    void stop(std::string_view why) {
        service_.log().write(fcs::policy::level::info, "stopping on " + std::string(why));
        notify_.stopping("stopping on " + std::string(why));
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        watchdog_.cancel();
        server_.stop(std::chrono::seconds(2));
    }

    /// WATCHDOG=1 now and every `every` until stop().
    void ping_watchdog(std::chrono::microseconds every) {
        notify_.watchdog();
        watchdog_.expires_after(every);
        watchdog_.async_wait([this, every](boost::system::error_code ec) {
            if (!ec && !server_.stopping())
                ping_watchdog(every);
        });
    }

    Service& service_;
    server_config config_;
    fcs::systemd::notifier notify_;
    fcs::tls::server_context tls_;
    bool ready_; ///< tls_ follows the service (set before server_ uses tls_)
    // Declared after everything a connection uses: destroyed first, with its connections.
    fcs::tls::https_server server_;
    net::signal_set signals_;
    net::steady_timer watchdog_{server_.control_executor()};
    // The storage work (its worker thread and the storage's watch): stopped before everything
    // it uses goes.
    fcs::reloader<Service> reloader_{service_, &tls_, reload_options()};
    // ACME renewal (when configured): its thread installs into the service; stopped first.
    std::shared_ptr<fcs::acme::challenge_responder> acme_responder_;
    std::unique_ptr<fcs::acme::http01_listener> http01_;
    std::unique_ptr<fcs::acme::renewer<Service>> renewer_;
};

} // namespace fcs_example

#endif // FCS_EXAMPLES_FAILOVER_HTTPS_SERVER_HPP
