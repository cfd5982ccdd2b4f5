#ifndef FCS_STORAGE_ETCD_HTTP_CLIENT_HPP
#define FCS_STORAGE_ETCD_HTTP_CLIENT_HPP

// HTTP/1.1 to one etcd gateway endpoint, plain or TLS, over kept-alive connections (detail).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/detail/http_link.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/tls/client.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage::etcd_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using clock = std::chrono::steady_clock;

using fcs::detail::http_link::await;
using fcs::detail::http_link::connection;
using fcs::detail::http_link::endpoint;
using fcs::detail::http_link::transport_failure;

/// An etcd endpoint ("http(s)://HOST:PORT").
inline endpoint parse_endpoint(const std::string& url) {
    return fcs::detail::http_link::parse_endpoint(url, "configure etcd");
}

/// One HTTP answer.
struct http_answer {
    unsigned status = 0;
    std::string body;
    bool keep_alive = false; ///< the connection may carry another request
};

inline http::request<http::string_body> make_request(const endpoint& ep, std::string_view path,
                                                     std::string body, const std::string& token) {
    http::request<http::string_body> req{http::verb::post, std::string(path), 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "fcs-etcd");
    if (!token.empty())
        req.set(http::field::authorization, token);
    // Refuse to talk to a member that has lost its leader (watch and linearizable reads).
    req.set("Grpc-Metadata-hasleader", "true");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

/**
 * HTTP/1.1 POSTs to one endpoint over kept-alive connections: a request takes an idle
 * connection (or opens one), and gives it back when the answer allows (no "Connection:
 * close"). A kept connection the server closed meanwhile fails before any answer byte: the
 * request is then sent once more on a new connection (never more: a second failure is a
 * transport_failure, and the gateway tries the next endpoint). Thread-safe; each request
 * uses its connection alone.
 */
class http_client {
public:
    /// Idle connections kept per endpoint (more concurrent requests open more, then close).
    static constexpr std::size_t max_idle = 4;
    /// The body of an answer read at most.
    static constexpr std::size_t max_body = 8u << 20;

    http_client(endpoint ep, fcs::tls::client_context* tls)
        : ep_(std::move(ep))
        , tls_(tls) {}

    const endpoint& where() const noexcept { return ep_; }
    /// Connections opened so far (for tests: kept-alive requests open none).
    std::uint64_t connections_opened() const noexcept { return opened_.load(); }

    /**
     * POSTs `body` to `path` before `deadline`. With `secret`, the body (a password) is
     * cleansed as soon as it is sent or not sent.
     * @throws transport_failure (connect, TLS, send, receive).
     */
    http_answer post(std::string_view path, std::string body, const std::string& token,
                     clock::time_point deadline, bool secret = false) {
        struct cleanse_on_exit {
            std::string* s;
            ~cleanse_on_exit() {
                if (s)
                    fcs::detail::cleanse(s->data(), s->size());
            }
        };
        cleanse_on_exit body_guard{secret ? &body : nullptr};
        auto req = make_request(ep_, path, std::move(body), token);
        cleanse_on_exit req_guard{secret ? &req.body() : nullptr};
        for (int round = 0;; ++round) {
            auto s = take_idle();
            const bool reused = s != nullptr;
            if (!s) {
                s = std::make_unique<session>(tls_, ep_);
                opened_.fetch_add(1);
                s->conn.open(s->ioc, deadline);
            }
            http_answer a;
            bool answered_some = false;
            auto failure = exchange(*s, req, deadline, a, answered_some);
            if (failure.empty()) {
                if (a.keep_alive)
                    give_back(std::move(s));
                return a;
            }
            // A kept connection closed by the server while idle: once more, on a new one.
            if (reused && !answered_some && round == 0)
                continue;
            throw transport_failure{std::move(failure)};
        }
    }

private:
    struct session {
        session(fcs::tls::client_context* tls, const endpoint& ep)
            : conn(ioc, tls, ep) {}
        net::io_context ioc;
        connection conn;
    };

    /// One request and its answer on `s`; the failure text, empty on success.
    static std::string exchange(session& s, http::request<http::string_body>& req,
                                clock::time_point deadline, http_answer& out,
                                bool& out_answered_some) {
        s.conn.lowest().expires_at(deadline);
        auto ec = await(s.ioc, [&](auto h) {
            s.conn.with_stream([&](auto& st) { http::async_write(st, req, h); });
        });
        if (ec)
            return "send: " + ec.message();
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_body);
        parser.header_limit(16 * 1024);
        ec = await(s.ioc, [&](auto h) {
            s.conn.with_stream([&](auto& st) { http::async_read(st, buf, parser, h); });
        });
        out_answered_some = parser.got_some() || buf.size() > 0;
        if (ec)
            return "receive: " + ec.message();
        out.status = parser.get().result_int();
        out.keep_alive = parser.get().keep_alive() && buf.size() == 0;
        out.body = std::move(parser.get().body());
        return {};
    }

    std::unique_ptr<session> take_idle() {
        std::lock_guard lock(mutex_);
        if (idle_.empty())
            return nullptr;
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
    }
    void give_back(std::unique_ptr<session> s) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle)
            idle_.push_back(std::move(s));
    }

    endpoint ep_;
    fcs::tls::client_context* tls_;
    std::atomic<std::uint64_t> opened_{0};
    std::mutex mutex_;
    std::vector<std::unique_ptr<session>> idle_;
};

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_HTTP_CLIENT_HPP
