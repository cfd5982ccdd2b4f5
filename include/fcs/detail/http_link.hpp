#ifndef FCS_DETAIL_HTTP_LINK_HPP
#define FCS_DETAIL_HTTP_LINK_HPP

// One HTTP/1.1 connection to an endpoint, plain or TLS, each step bounded by a deadline, for
// fcs's clients (the etcd storage, the ACME client) (detail).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/error.hpp>
#include <fcs/tls/client.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace fcs::detail::http_link {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
using clock = std::chrono::steady_clock;

/// An endpoint split into its parts.
struct endpoint {
    std::string url, host, port;
    bool tls = false;
};

/// `url` (http:// or https://, HOST:PORT, any path ignored); `step` names the caller in errors.
inline endpoint parse_endpoint(const std::string& url, const std::string& step) {
    endpoint e;
    e.url = url;
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        e.tls = true;
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        throw error(errc::invalid_argument, url, step,
                    "endpoints must be http:// or https://");
    }
    if (auto slash = rest.find('/'); slash != std::string_view::npos)
        rest = rest.substr(0, slash);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw error(errc::invalid_argument, url, step,
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

/// A transport failure (resolve, connect, TLS, send, receive).
struct transport_failure {
    std::string what;
};

/// A stream to one endpoint, plain or TLS.
class connection {
public:
    connection(net::io_context& ioc, fcs::tls::client_context* tls_ctx, const endpoint& ep)
        : ep_(ep)
        , tcp_(ioc)
        , tls_ctx_(tls_ctx) {
        if (ep.tls) {
            if (!tls_ctx)
                throw transport_failure{"TLS is not configured"};
            tls_.emplace(ioc, tls_ctx->asio());
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
            // The peer must be the host we asked for: its name (also sent as SNI) or its IP
            // address in the certificate's subjectAltName.
            try {
                tls_ctx_->prepare(tls_->native_handle(), ep_.host);
            } catch (const error& e) {
                throw transport_failure{e.what()};
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
    fcs::tls::client_context* tls_ctx_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

} // namespace fcs::detail::http_link

#endif // FCS_DETAIL_HTTP_LINK_HPP
