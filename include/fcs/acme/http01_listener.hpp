#ifndef FCS_ACME_HTTP01_LISTENER_HPP
#define FCS_ACME_HTTP01_LISTENER_HPP

// The plain-HTTP side of ACME's http-01 challenge (RFC 8555 8.3): GET
// /.well-known/acme-challenge/TOKEN answers the pending key authorization; everything else is
// 404. One thread, bounded: a request header of at most 8 KiB, no body, 10 s per connection,
// at most 64 connections at once.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/acme/challenges.hpp>
#include <fcs/error.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace fcs::acme {

/**
 * Serves http-01 answers from a challenge_responder on `address`:`port` (port 0: any free
 * one, see port()). Starts listening in the constructor, serves in its own thread, stops in
 * the destructor.
 * @throws fcs::error (invalid_argument: not an IP address; io_failed: cannot listen).
 */
class http01_listener {
public:
    static constexpr std::size_t max_connections = 64;
    static constexpr std::string_view prefix = "/.well-known/acme-challenge/";

    http01_listener(const std::string& address, unsigned short port,
                    std::shared_ptr<const challenge_responder> responder)
        : responder_(std::move(responder))
        , acceptor_(ioc_) {
        namespace net = boost::asio;
        boost::system::error_code ec;
        auto addr = net::ip::make_address(address, ec);
        if (ec)
            throw error(errc::invalid_argument, address, "listen for http-01",
                        "not an IP address");
        net::ip::tcp::endpoint ep(addr, port);
        const std::string where = address + ":" + std::to_string(port);
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw error(errc::io_failed, where, "listen for http-01", ec.message());
        port_ = acceptor_.local_endpoint().port();
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    http01_listener(const http01_listener&) = delete;
    http01_listener& operator=(const http01_listener&) = delete;

    ~http01_listener() {
        ioc_.stop();
        if (thread_.joinable())
            thread_.join();
    }

    unsigned short port() const noexcept { return port_; }
    /// Requests answered with a key authorization so far.
    std::uint64_t answered() const noexcept { return answered_.load(); }

private:
    using tcp = boost::asio::ip::tcp;

    struct session : std::enable_shared_from_this<session> {
        session(http01_listener& l, tcp::socket s)
            : owner(l)
            , stream(std::move(s)) {}
        http01_listener& owner;
        boost::beast::tcp_stream stream;
        boost::beast::flat_buffer buf{8192};
        boost::beast::http::request_parser<boost::beast::http::empty_body> parser;
        boost::beast::http::response<boost::beast::http::string_body> res;

        void start() {
            parser.header_limit(8192);
            stream.expires_after(std::chrono::seconds(10));
            boost::beast::http::async_read(
                stream, buf, parser,
                [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
                    self->on_read(ec);
                });
        }
        void on_read(boost::beast::error_code ec) {
            namespace http = boost::beast::http;
            if (ec) {
                close();
                return;
            }
            auto& req = parser.get();
            std::string_view target(req.target().data(), req.target().size());
            res.version(11);
            res.keep_alive(false);
            res.set(http::field::server, "fcs");
            std::optional<std::string> answer;
            if (req.method() == http::verb::get && target.starts_with(prefix))
                answer = owner.responder_->http_answer(target.substr(prefix.size()));
            if (answer) {
                owner.answered_.fetch_add(1);
                res.result(http::status::ok);
                res.set(http::field::content_type, "application/octet-stream");
                res.body() = *answer;
            } else {
                res.result(http::status::not_found);
                res.set(http::field::content_type, "text/plain");
                res.body() = "not found\n";
            }
            res.prepare_payload();
            http::async_write(stream, res,
                              [self = shared_from_this()](boost::beast::error_code, std::size_t) {
                                  self->close();
                              });
        }
        void close() {
            boost::beast::error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            stream.socket().close(ignored);
            owner.open_.fetch_sub(1);
        }
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec == boost::asio::error::operation_aborted)
                return;
            if (ec) {
                // Out of descriptors, or a connection reset before it was accepted: do not
                // spin on it.
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            } else {
                if (open_.load() >= max_connections) {
                    boost::system::error_code ignored;
                    s.close(ignored);
                } else {
                    open_.fetch_add(1);
                    std::make_shared<session>(*this, std::move(s))->start();
                }
            }
            accept();
        });
    }

    std::shared_ptr<const challenge_responder> responder_;
    boost::asio::io_context ioc_{1};
    tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> answered_{0};
    std::thread thread_;
};

} // namespace fcs::acme

#endif // FCS_ACME_HTTP01_LISTENER_HPP
