#ifndef FCS_STORAGE_ETCD_HTTP_CLIENT_HPP
#define FCS_STORAGE_ETCD_HTTP_CLIENT_HPP

// HTTP/1.1 to one etcd gateway endpoint, plain or TLS (detail).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/error.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/x509v3.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace fcs::storage::etcd_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using clock = std::chrono::steady_clock;

/// An endpoint split into its parts.
struct endpoint {
    std::string url, host, port;
    bool tls = false;
};

inline endpoint parse_endpoint(const std::string& url) {
    endpoint e;
    e.url = url;
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        e.tls = true;
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        throw error(errc::invalid_argument, url, "configure etcd",
                    "endpoints must be http:// or https://");
    }
    if (auto slash = rest.find('/'); slash != std::string_view::npos)
        rest = rest.substr(0, slash);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw error(errc::invalid_argument, url, "configure etcd",
                    "an endpoint must name HOST:PORT");
    e.host = std::string(rest.substr(0, colon));
    e.port = std::string(rest.substr(colon + 1));
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
        e.host = e.host.substr(1, e.host.size() - 2);
    e.url = (e.tls ? "https://" : "http://") + std::string(rest);
    return e;
}

/// Runs one asynchronous operation to completion on an io_context that has no other work.
/// With `stop`, a concurrent stop (see gateway::stoppable) ends it with operation_aborted.
template <class Init>
beast::error_code await(net::io_context& ioc, Init&& init, std::mutex* stop_mutex = nullptr,
                        const bool* stopping = nullptr) {
    beast::error_code result = net::error::operation_aborted;
    bool done = false;
    init([&](beast::error_code ec, auto&&...) {
        result = ec;
        done = true;
    });
    {
        std::unique_lock<std::mutex> lock;
        if (stop_mutex) {
            lock = std::unique_lock(*stop_mutex);
            if (*stopping)
                return net::error::operation_aborted;
        }
        ioc.restart();
    }
    ioc.run();
    return done ? result : beast::error_code(net::error::operation_aborted);
}

/// One HTTP answer.
struct http_answer {
    unsigned status = 0;
    std::string body;
};

/// A transport failure (connect, TLS, send, receive): try another endpoint.
struct transport_failure {
    std::string what;
};

/// A stream to one endpoint, plain or TLS.
class connection {
public:
    connection(net::io_context& ioc, net::ssl::context* tls_ctx, const endpoint& ep)
        : ep_(ep)
        , tcp_(ioc) {
        if (ep.tls) {
            if (!tls_ctx)
                throw transport_failure{"TLS is not configured"};
            tls_.emplace(ioc, *tls_ctx);
        }
    }

    void open(net::io_context& ioc, clock::time_point deadline, std::mutex* m = nullptr,
              const bool* stop = nullptr) {
        tcp::resolver resolver(ioc);
        tcp::resolver::results_type results;
        auto ec = await(
            ioc,
            [&](auto h) {
                resolver.async_resolve(
                    ep_.host, ep_.port,
                    [&results, h](beast::error_code e, tcp::resolver::results_type r) mutable {
                        results = std::move(r);
                        h(e);
                    });
            },
            m, stop);
        if (ec)
            throw transport_failure{"resolve " + ep_.host + ": " + ec.message()};
        lowest().expires_at(deadline);
        ec = await(
            ioc, [&](auto h) { lowest().async_connect(results, h); }, m, stop);
        if (ec)
            throw transport_failure{"connect: " + ec.message()};
        if (tls_) {
            // The peer must be the host we asked for: its name (also sent as SNI, RFC 6066
            // allows names only) or its IP address in the certificate's subjectAltName.
            SSL* ssl = tls_->native_handle();
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            beast::error_code ip_ec;
            net::ip::make_address(ep_.host, ip_ec);
            if (ip_ec) {
                SSL_set_tlsext_host_name(ssl, ep_.host.c_str());
                X509_VERIFY_PARAM_set1_host(param, ep_.host.data(), ep_.host.size());
            } else {
                X509_VERIFY_PARAM_set1_ip_asc(param, ep_.host.c_str());
            }
            lowest().expires_at(deadline);
            ec = await(
                ioc, [&](auto h) { tls_->async_handshake(net::ssl::stream_base::client, h); }, m,
                stop);
            if (ec)
                throw transport_failure{"TLS handshake: " + ec.message()};
        }
    }

    beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : tcp_; }

    template <class F>
    auto with_stream(F&& f) {
        if (tls_)
            return f(*tls_);
        return f(tcp_);
    }

private:
    endpoint ep_;
    beast::tcp_stream tcp_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
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

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_HTTP_CLIENT_HPP
