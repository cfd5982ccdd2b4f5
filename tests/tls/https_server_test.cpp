// fcs/tls/https_server.hpp: the lean TLS connection layer, over real loopback sockets with a
// BoringSSL client: keep-alive and pipelining, the one-way close, the limits (request size,
// handshake and idle timeouts, the connection cap), several I/O threads on one port, stop().
// Included first: the header is self-contained.
#include <fcs/tls/https_server.hpp>

#include "support/support.hpp"

#include <fcs/crypto/boringssl.hpp>
#include <fcs/tls/server_context.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using fcs::crypto::boringssl;
using namespace std::chrono_literals;

/// A server context publishing one fresh self-signed P-256 pair.
struct tls_fixture {
    fcs::tls::server_context ctx;
    tls_fixture() {
        boringssl b;
        auto key = b.generate_key(fcs::key_type::ec_p256);
        boringssl::profile p;
        p.common_name = "localhost";
        p.dns_names = {"localhost"};
        auto now = std::chrono::system_clock::now();
        auto cert = b.self_sign(key, p, now - 1h, now + 24h);
        std::vector<boringssl::certificate> chain{cert};
        ctx.publish(fcs::tls::prepared_credential::make(chain, key, b.fingerprint(cert)));
    }
};

/// A server running on its own thread, answering every request with its target.
struct running_server {
    tls_fixture tls;
    fcs::tls::https_server server;
    std::thread thread;
    std::vector<std::string> log;

    explicit running_server(fcs::tls::https_options o = {})
        : server(tls.ctx.native_handle(), with_port0(std::move(o)),
                 [](const fcs::http::request& req, fcs::http::response& res) {
                     res.result(boost::beast::http::status::ok);
                     res.set(boost::beast::http::field::content_type, "text/plain");
                     res.body() = "you asked for " + std::string(req.target()) + "; " +
                                  std::to_string(req.body().size()) + " body bytes";
                 })
        , thread([this] { server.run(); }) {}
    ~running_server() {
        server.stop(0ms);
        thread.join();
    }
    static fcs::tls::https_options with_port0(fcs::tls::https_options o) {
        o.port = 0;
        return o;
    }
};

int tcp_connect(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0}; // no test waits forever on a server that does not answer
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("connect failed");
    }
    return fd;
}

/// True when the peer closes `fd` (EOF or reset) within `limit`.
bool closed_within(int fd, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    char b[4096];
    while (std::chrono::steady_clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0)
            continue;
        auto n = ::recv(fd, b, sizeof b, 0);
        if (n <= 0)
            return true;
    }
    return false;
}

/// A blocking BoringSSL client connection.
struct client {
    bssl::UniquePtr<SSL_CTX> ctx{SSL_CTX_new(TLS_method())};
    bssl::UniquePtr<SSL> ssl;
    int fd = -1;
    std::string held; ///< bytes read past the last answer

    explicit client(unsigned short port) {
        fd = tcp_connect(port);
        ssl.reset(SSL_new(ctx.get()));
        SSL_set_fd(ssl.get(), fd);
        if (SSL_connect(ssl.get()) != 1)
            throw std::runtime_error("handshake failed");
    }
    ~client() {
        ssl.reset();
        ::close(fd);
    }
    void send(std::string_view s) {
        if (SSL_write(ssl.get(), s.data(), static_cast<int>(s.size())) != static_cast<int>(s.size()))
            throw std::runtime_error("write failed");
    }
    /// One whole answer, or nullopt when the connection ends first.
    std::optional<fcs::http::response> answer() {
        boost::beast::http::response_parser<boost::beast::http::string_body> p;
        p.eager(true);
        std::string buf = std::move(held);
        held.clear();
        for (;;) {
            if (!buf.empty()) {
                boost::beast::error_code ec;
                auto used = p.put(boost::asio::buffer(buf), ec);
                if (ec && ec != boost::beast::http::error::need_more)
                    throw std::runtime_error("bad answer: " + ec.message());
                buf.erase(0, used);
                if (p.is_done()) {
                    held = std::move(buf);
                    return p.release();
                }
            }
            char b[16384];
            int n = SSL_read(ssl.get(), b, sizeof b);
            if (n <= 0)
                return std::nullopt;
            buf.append(b, static_cast<std::size_t>(n));
        }
    }
    /// After the server's close: true when it sent close_notify (a clean TLS close).
    bool clean_close() {
        char b[64];
        int n = SSL_read(ssl.get(), b, sizeof b);
        return n == 0 && SSL_get_error(ssl.get(), n) == SSL_ERROR_ZERO_RETURN;
    }
};

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f())
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_https_server)

BOOST_AUTO_TEST_CASE(keep_alive_pipelining_and_a_clean_one_way_close) {
    running_server s;
    client c(s.server.port());
    c.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.answer();
    BOOST_REQUIRE(a);
    BOOST_TEST(a->body() == "you asked for /one; 0 body bytes");
    BOOST_TEST(a->keep_alive());
    // Two requests in one write; the second with a body and asking to close.
    c.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\nPOST /three HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 4\r\nConnection: close\r\n\r\nabcd");
    a = c.answer();
    BOOST_REQUIRE(a);
    BOOST_TEST(a->body() == "you asked for /two; 0 body bytes");
    a = c.answer();
    BOOST_REQUIRE(a);
    BOOST_TEST(a->body() == "you asked for /three; 4 body bytes");
    BOOST_TEST(!a->keep_alive());
    BOOST_TEST(c.clean_close()); // close_notify after the last answer
    BOOST_TEST(eventually([&] { return s.server.counters().active_connections == 0; }));
    auto n = s.server.counters();
    BOOST_TEST(n.handshakes == 1u);
    BOOST_TEST(n.requests == 3u);
    BOOST_TEST(n.handshake_failures == 0u);
}

BOOST_AUTO_TEST_CASE(too_large_and_malformed_requests_are_answered_and_closed) {
    fcs::tls::https_options o;
    o.limits = {256, 16};
    running_server s(o);
    {
        client c(s.server.port());
        c.send("GET /" + std::string(400, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto a = c.answer();
        BOOST_REQUIRE(a);
        BOOST_TEST(a->result_int() == 413u);
        BOOST_TEST(!a->keep_alive());
        BOOST_TEST(c.clean_close());
    }
    {
        client c(s.server.port());
        c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
        auto a = c.answer();
        BOOST_REQUIRE(a);
        BOOST_TEST(a->result_int() == 413u);
    }
    {
        client c(s.server.port());
        c.send("NOT HTTP AT ALL\r\n\r\n");
        auto a = c.answer();
        BOOST_REQUIRE(a);
        BOOST_TEST(a->result_int() == 400u);
        BOOST_TEST(a->body() == "{\"error\":\"malformed request\"}\n");
    }
}

BOOST_AUTO_TEST_CASE(plain_http_and_silent_clients_fail_the_handshake_and_are_closed) {
    fcs::tls::https_options o;
    o.timeout = 1s;
    running_server s(o);
    int plain = tcp_connect(s.server.port());
    std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    BOOST_TEST(::send(plain, get.data(), get.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(get.size()));
    BOOST_TEST(closed_within(plain, 5s));
    ::close(plain);
    int silent = tcp_connect(s.server.port());
    BOOST_TEST(!closed_within(silent, 300ms)); // not before the handshake timeout...
    BOOST_TEST(closed_within(silent, 5s));     // ...but by it
    ::close(silent);
    BOOST_TEST(eventually([&] { return s.server.counters().handshake_failures == 2u; }));
    BOOST_TEST(s.server.counters().handshakes == 0u);
}

BOOST_AUTO_TEST_CASE(an_idle_keep_alive_connection_is_closed_after_the_timeout) {
    fcs::tls::https_options o;
    o.timeout = 1s;
    running_server s(o);
    client c(s.server.port());
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_REQUIRE(c.answer());
    BOOST_TEST(s.server.counters().active_connections == 1);
    BOOST_TEST(eventually([&] { return s.server.counters().active_connections == 0; }, 5s));
    BOOST_TEST(!c.answer()); // the server closed it
}

BOOST_AUTO_TEST_CASE(the_connection_cap_closes_the_connections_over_it) {
    fcs::tls::https_options o;
    o.max_connections = 2;
    running_server s(o);
    client a(s.server.port()), b(s.server.port());
    BOOST_TEST(eventually([&] { return s.server.counters().active_connections == 2; }));
    int third = tcp_connect(s.server.port());
    BOOST_TEST(closed_within(third, 5s));
    ::close(third);
    BOOST_TEST(s.server.counters().rejected_connections == 1u);
    a.send("GET /still HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = a.answer();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == "you asked for /still; 0 body bytes");
}

BOOST_AUTO_TEST_CASE(the_cap_is_exact_over_several_io_threads) {
    // Many connections at once, spread by the kernel over four threads: exactly the cap's
    // number stay open, whichever threads accept them.
    fcs::tls::https_options o;
    o.threads = 4;
    o.max_connections = 8;
    running_server s(o);
    std::vector<int> fds;
    for (int i = 0; i < 40; ++i)
        fds.push_back(tcp_connect(s.server.port()));
    BOOST_TEST(eventually([&] { return s.server.counters().rejected_connections == 32u; }));
    int closed = 0;
    for (int fd : fds)
        closed += closed_within(fd, 50ms) ? 1 : 0;
    BOOST_TEST(closed == 32);
    BOOST_TEST(s.server.counters().active_connections == 8);
    for (int fd : fds)
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_closed_connection_frees_its_slot_before_the_peer_sees_the_close) {
    // Cap 1, two threads: a client that saw the server close its connection may connect at
    // once and is served, whichever thread accepts it.
    fcs::tls::https_options o;
    o.threads = 2;
    o.max_connections = 1;
    running_server s(o);
    for (int i = 0; i < 50; ++i) {
        client c(s.server.port());
        c.send("GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        auto a = c.answer();
        BOOST_REQUIRE(a);
        BOOST_REQUIRE(c.clean_close());
    }
    BOOST_TEST(s.server.counters().rejected_connections == 0u);
}

BOOST_AUTO_TEST_CASE(several_io_threads_serve_one_port) {
    fcs::tls::https_options o;
    o.threads = 3;
    running_server s(o);
    std::vector<std::thread> clients;
    std::atomic<int> answered{0};
    for (int t = 0; t < 4; ++t)
        clients.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                client c(s.server.port());
                c.send("GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                if (auto a = c.answer(); a && a->body() == "you asked for /t; 0 body bytes")
                    ++answered;
            }
        });
    for (auto& t : clients)
        t.join();
    BOOST_TEST(answered.load() == 40);
    BOOST_TEST(eventually([&] { return s.server.counters().requests == 40u; }));
    BOOST_TEST(s.server.counters().handshakes == 40u);
}

BOOST_AUTO_TEST_CASE(stop_closes_idle_connections_and_ends_run) {
    running_server s;
    client c(s.server.port());
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_REQUIRE(c.answer());
    auto t0 = std::chrono::steady_clock::now();
    s.server.stop(5s);
    s.thread.join();
    s.thread = std::thread([] {}); // the fixture joins it again
    // An idle connection does not hold the stop for the grace period.
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s));
    BOOST_TEST(!c.answer());
    BOOST_CHECK_THROW(client(s.server.port()), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(an_adopted_listening_socket_is_served_by_every_thread) {
    // Socket activation: the caller (systemd) made the listener.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    fcs::tls::https_options o;
    o.threads = 2;
    o.bind = "::1"; // ignored: the adopted socket's address counts
    o.adopt_listener = fd;
    tls_fixture tls;
    fcs::tls::https_server server(tls.ctx.native_handle(), o,
                                  [](const fcs::http::request&, fcs::http::response& res) {
                                      res.body() = "adopted";
                                  });
    BOOST_TEST(server.port() == ntohs(a.sin_port));
    BOOST_TEST(server.url() == "https://127.0.0.1:" + std::to_string(server.port()));
    std::thread t([&] { server.run(); });
    for (int i = 0; i < 8; ++i) {
        client c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        auto r = c.answer();
        BOOST_REQUIRE(r);
        BOOST_TEST(r->body() == "adopted");
    }
    server.stop(0ms);
    t.join();
}

BOOST_AUTO_TEST_CASE(an_adopted_descriptor_that_does_not_listen_is_refused) {
    tls_fixture tls;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); // not listening
    fcs::tls::https_options o;
    o.adopt_listener = fd;
    try {
        fcs::tls::https_server s(tls.ctx.native_handle(), o,
                                 [](const fcs::http::request&, fcs::http::response&) {});
        BOOST_FAIL("adopted a socket that does not listen");
    } catch (const fcs::error& e) {
        BOOST_TEST(std::string(e.what()) == "descriptor " + std::to_string(fd) +
                                                ": adopt the listening socket: not a listening socket");
    }
    // The server owned it from the start: closed on the refusal.
    BOOST_TEST(::fcntl(fd, F_GETFD) == -1);
}

BOOST_AUTO_TEST_CASE(a_bad_address_or_a_taken_port_is_an_error_naming_it) {
    tls_fixture tls;
    auto ok = [](const fcs::http::request&, fcs::http::response&) {};
    fcs::tls::https_options o;
    o.bind = "not-an-address";
    try {
        fcs::tls::https_server bad(tls.ctx.native_handle(), o, ok);
        BOOST_FAIL("accepted");
    } catch (const fcs::error& e) {
        BOOST_TEST(std::string(e.what()).find("not-an-address") != std::string::npos, e.what());
    }
    o.bind = "127.0.0.1";
    o.port = 0;
    fcs::tls::https_server first(tls.ctx.native_handle(), o, ok);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0); // a listener of someone else on that port
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<unsigned short>(first.port() + 1));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0) {
        o.port = static_cast<unsigned short>(first.port() + 1);
        try {
            fcs::tls::https_server taken(tls.ctx.native_handle(), o, ok);
            BOOST_FAIL("bound a taken port");
        } catch (const fcs::error& e) {
            BOOST_TEST(std::string(e.what()).find(":" + std::to_string(o.port) + ": listen") !=
                           std::string::npos,
                       e.what());
        }
    } else {
        BOOST_TEST_MESSAGE("port " << first.port() + 1 << " busy; the taken-port case is covered "
                                                          "by the e2e descriptor tests");
    }
    ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
