// fcs/acme/http01_listener.hpp on a real loopback socket, read with a plain POSIX client.
// Included first: the header is self-contained.
#include <fcs/acme/http01_listener.hpp>

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>
#include <string>

namespace {

using fcs::acme::challenge_responder;
using fcs::acme::http01_listener;

/// Sends `request` to 127.0.0.1:`port` and returns all the listener answers until it closes
/// (at most 5 s); `reset` says whether the connection ended with an error instead of EOF.
std::string talk(unsigned short port, const std::string& request, bool* reset = nullptr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    std::size_t sent = 0;
    while (sent < request.size()) {
        auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; // the listener closed on us: what it answered (if anything) is read below
        sent += static_cast<std::size_t>(n);
    }
    std::string got;
    char buf[4096];
    bool error = false;
    for (;;) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            got.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0) {
            error = true;
            BOOST_TEST(errno != EAGAIN, "the listener neither answered nor closed in 5 s");
        }
        break;
    }
    ::close(fd);
    if (reset)
        *reset = error;
    return got;
}

std::string get(unsigned short port, const std::string& target, const std::string& method = "GET") {
    return talk(port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

/// A connection to 127.0.0.1:`port` that sends nothing (closed by the destructor).
struct idle_connection {
    int fd = -1;
    explicit idle_connection(unsigned short port) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~idle_connection() { ::close(fd); }
    idle_connection(const idle_connection&) = delete;
    idle_connection& operator=(const idle_connection&) = delete;
};

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

std::string body_of(const std::string& answer) {
    auto at = answer.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : answer.substr(at + 4);
}

} // namespace

BOOST_AUTO_TEST_SUITE(acme_http01_listener)

BOOST_AUTO_TEST_CASE(answers_a_pending_token_with_its_key_authorization) {
    auto r = challenge_responder::make();
    http01_listener l("127.0.0.1", 0, r);
    BOOST_REQUIRE(l.port() != 0);
    r->add_http("tok-EN_1", "tok-EN_1.thumbprint");
    auto a = get(l.port(), "/.well-known/acme-challenge/tok-EN_1");
    BOOST_TEST(status_line(a) == "HTTP/1.1 200 OK");
    BOOST_TEST(body_of(a) == "tok-EN_1.thumbprint");
    BOOST_TEST(l.answered() == 1u);
}

BOOST_AUTO_TEST_CASE(anything_else_is_404) {
    auto r = challenge_responder::make();
    http01_listener l("127.0.0.1", 0, r);
    r->add_http("tok", "tok.thumbprint");
    for (const char* target :
         {"/.well-known/acme-challenge/other", "/.well-known/acme-challenge/TOK",
          "/.well-known/acme-challenge/", "/.well-known/acme-challenge/tok/x", "/", "/tok",
          "/.well-known/tok"}) {
        auto a = get(l.port(), target);
        BOOST_TEST(status_line(a) == "HTTP/1.1 404 Not Found", target);
        BOOST_TEST(a.find("tok.thumbprint") == std::string::npos, target);
    }
    // Only GET (and HEAD) read an answer.
    auto post = get(l.port(), "/.well-known/acme-challenge/tok", "POST");
    BOOST_TEST(status_line(post) == "HTTP/1.1 404 Not Found");
    BOOST_TEST(l.answered() == 0u);
    // The pending one is still answered.
    BOOST_TEST(status_line(get(l.port(), "/.well-known/acme-challenge/tok")) == "HTTP/1.1 200 OK");
}

BOOST_AUTO_TEST_CASE(a_removed_token_is_404) {
    auto r = challenge_responder::make();
    http01_listener l("127.0.0.1", 0, r);
    r->add_http("tok", "tok.thumbprint");
    BOOST_TEST(status_line(get(l.port(), "/.well-known/acme-challenge/tok")) == "HTTP/1.1 200 OK");
    r->remove_http("tok");
    auto a = get(l.port(), "/.well-known/acme-challenge/tok");
    BOOST_TEST(status_line(a) == "HTTP/1.1 404 Not Found");
    BOOST_TEST(a.find("tok.thumbprint") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_oversized_header_is_refused_and_the_listener_goes_on) {
    auto r = challenge_responder::make();
    http01_listener l("127.0.0.1", 0, r);
    r->add_http("tok", "tok.thumbprint");
    // A valid request for a pending token, but a header of more than 8 KiB.
    const std::string big = "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "X-Filler: " + std::string(9000, 'a') + "\r\n\r\n";
    auto a = talk(l.port(), big);
    BOOST_TEST(a.find("tok.thumbprint") == std::string::npos);
    BOOST_TEST(a.find("200 OK") == std::string::npos);
    BOOST_TEST(l.answered() == 0u);
    // Just under the limit is served, and so is the next client.
    const std::string fits = "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "X-Filler: " + std::string(7000, 'a') + "\r\n\r\n";
    BOOST_TEST(body_of(talk(l.port(), fits)) == "tok.thumbprint");
    BOOST_TEST(body_of(get(l.port(), "/.well-known/acme-challenge/tok")) == "tok.thumbprint");
    BOOST_TEST(l.answered() == 2u);
}

BOOST_AUTO_TEST_CASE(at_most_max_connections_at_once) {
    auto r = challenge_responder::make();
    http01_listener l("127.0.0.1", 0, r);
    r->add_http("tok", "tok.thumbprint");
    const std::string target = "/.well-known/acme-challenge/tok";
    {
        std::vector<std::unique_ptr<idle_connection>> idle;
        for (std::size_t i = 0; i < http01_listener::max_connections; ++i)
            idle.push_back(std::make_unique<idle_connection>(l.port()));
        // The listener accepts in connection order: this one comes after all the idle ones
        // are counted, and is closed unanswered.
        auto a = get(l.port(), target);
        BOOST_TEST(a.find("tok.thumbprint") == std::string::npos);
        BOOST_TEST(l.answered() == 0u);
    }
    // The idle connections closed: their sessions end at once (end of stream), and the
    // listener serves again.
    std::string a;
    for (int i = 0; i < 100 && body_of(a) != "tok.thumbprint"; ++i) {
        a = get(l.port(), target);
        if (body_of(a) != "tok.thumbprint")
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    BOOST_TEST(body_of(a) == "tok.thumbprint");
    BOOST_TEST(l.answered() == 1u);
}

BOOST_AUTO_TEST_CASE(refuses_an_address_that_is_not_an_ip) {
    auto r = challenge_responder::make();
    try {
        http01_listener l("localhost", 0, r);
        BOOST_ERROR("a host name was taken as a listening address");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::invalid_argument);
    }
}

BOOST_AUTO_TEST_SUITE_END()
