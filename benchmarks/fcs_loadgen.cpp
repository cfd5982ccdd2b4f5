// fcs_loadgen: a TLS handshake load generator over real sockets (BoringSSL client).
//
// Each of N workers (threads) connects, does a TLS 1.3 handshake (X25519, no certificate
// verification: the client's cost is not what is measured), sends one small HTTP/1.1 request
// with "Connection: close", reads the response to the end (which also delivers the session
// tickets), closes, and starts again until the duration is over. Only 127.0.0.1 / ::1.
//
//   fcs_loadgen --port P [--connections N] [--duration S] [--resume] [--path /health]
//       load: prints handshakes/s, failures, resumed share and handshake latency percentiles
//       (connect() to handshake done) as `key=value` words on the last line.
//   fcs_loadgen --port P --connections N --save-sessions FILE
//       N sequential full handshakes; the session ticket of each is written to FILE (hex).
//   fcs_loadgen --port P --load-sessions FILE
//       one handshake per saved session, offering it; prints how many resumed.
//   fcs_loadgen --port P --hold N [--hold-seconds S]
//       opens N connections (handshake only), prints "holding N", keeps them idle S seconds.
//   fcs_loadgen --port P --plain [--connections N] [--duration S]
//       the same load in plain HTTP (no TLS): what a connection costs a server without TLS.

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string host = "127.0.0.1";
    unsigned port = 0;
    unsigned connections = 8;
    double duration = 10;
    bool resume = false;
    std::string path = "/health";
    std::string save_sessions, load_sessions;
    unsigned hold = 0;
    double hold_seconds = 10;
    bool count_certs = false;
    bool plain = false; ///< plain HTTP over TCP: the per-connection cost without TLS
};

[[noreturn]] void usage(const std::string& msg) {
    std::cerr << "fcs_loadgen: " << msg
              << "\nusage: fcs_loadgen --port P [--host 127.0.0.1] [--connections N] "
                 "[--duration S] [--resume] [--path /health] [--count-certs]\n"
                 "       fcs_loadgen --port P --connections N --save-sessions FILE\n"
                 "       fcs_loadgen --port P --load-sessions FILE\n"
                 "       fcs_loadgen --port P --hold N [--hold-seconds S]\n";
    std::exit(2);
}

double number(const std::string& s, double lo, double hi, const std::string& what) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (!end || *end || v < lo || v > hi)
        usage(what + ": expected a number from " + std::to_string(lo) + " to " +
              std::to_string(hi));
    return v;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--host")
            o.host = value();
        else if (a == "--port")
            o.port = unsigned(number(value(), 1, 65535, a));
        else if (a == "--connections")
            o.connections = unsigned(number(value(), 1, 4096, a));
        else if (a == "--duration")
            o.duration = number(value(), 0.1, 3600, a);
        else if (a == "--resume")
            o.resume = true;
        else if (a == "--path")
            o.path = value();
        else if (a == "--save-sessions")
            o.save_sessions = value();
        else if (a == "--load-sessions")
            o.load_sessions = value();
        else if (a == "--hold")
            o.hold = unsigned(number(value(), 1, 20000, a));
        else if (a == "--hold-seconds")
            o.hold_seconds = number(value(), 0, 600, a);
        else if (a == "--count-certs")
            o.count_certs = true;
        else if (a == "--plain")
            o.plain = true;
        else
            usage("unknown option '" + a + "'");
    }
    if (!o.port)
        usage("--port is required");
    if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost")
        usage("load is only generated against the loopback address");
    if (o.host == "localhost")
        o.host = "127.0.0.1";
    return o;
}

/// The client context: TLS 1.3, X25519 only, no verification, sessions kept by the caller.
bssl::UniquePtr<SSL_CTX> make_client_ctx() {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) ||
        !SSL_CTX_set1_curves_list(ctx.get(), "X25519")) {
        std::cerr << "fcs_loadgen: cannot configure the client context\n";
        std::exit(1);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL* ssl, SSL_SESSION* s) -> int {
        auto* out = static_cast<bssl::UniquePtr<SSL_SESSION>*>(SSL_get_app_data(ssl));
        if (!out)
            return 0;
        out->reset(s);
        return 1;
    });
    return ctx;
}

int connect_to(const options& o) {
    bool v6 = o.host == "::1";
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0}; // a stuck server fails the handshake instead of hanging the worker
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(std::uint16_t(o.port));
        ::inet_pton(AF_INET6, "::1", &a.sin6_addr);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(o.port));
        ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// One connection's outcome.
struct attempt {
    bool ok = false;
    bool resumed = false;
    double handshake_us = 0;
    std::string failure;
    std::string leaf_sha256; ///< hex, with --count-certs
};

/// A TLS connection on a socket; closes both on destruction.
struct tls_conn {
    int fd = -1;
    bssl::UniquePtr<SSL> ssl;
    ~tls_conn() {
        ssl.reset();
        if (fd >= 0)
            ::close(fd);
    }
};

std::string error_text(SSL* ssl, int rc) {
    int e = SSL_get_error(ssl, rc);
    char buf[200] = {};
    std::uint32_t q = ERR_get_error();
    if (q)
        ERR_error_string_n(q, buf, sizeof buf);
    ERR_clear_error();
    if (e == SSL_ERROR_SYSCALL)
        return std::string("syscall: ") + (errno ? std::strerror(errno) : "connection closed");
    return "SSL error " + std::to_string(e) + (q ? std::string(" ") + buf : "");
}

/// Connects and handshakes (offering `offer`). The connection stays open in `out_conn`.
attempt open_tls(const options& o, SSL_CTX* ctx, SSL_SESSION* offer,
                 bssl::UniquePtr<SSL_SESSION>* ticket_slot, tls_conn& out_conn) {
    attempt a;
    auto t0 = clock_type::now();
    out_conn.fd = connect_to(o);
    if (out_conn.fd < 0) {
        a.failure = std::string("connect: ") + std::strerror(errno);
        return a;
    }
    out_conn.ssl.reset(SSL_new(ctx));
    SSL* ssl = out_conn.ssl.get();
    SSL_set_fd(ssl, out_conn.fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set_app_data(ssl, ticket_slot);
    if (offer)
        SSL_set_session(ssl, offer);
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        a.failure = "handshake: " + error_text(ssl, rc);
        return a;
    }
    a.handshake_us = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    a.resumed = SSL_session_reused(ssl) == 1;
    a.ok = true;
    return a;
}

/// Sends one request and reads the response until the server closes; checks for a 200.
bool request(tls_conn& c, const options& o, std::string& out_failure) {
    SSL* ssl = c.ssl.get();
    std::string req = "GET " + o.path +
                      " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: "
                      "fcs_loadgen\r\n\r\n";
    int rc = SSL_write(ssl, req.data(), int(req.size()));
    if (rc != int(req.size())) {
        out_failure = "write: " + error_text(ssl, rc);
        return false;
    }
    std::string resp;
    char buf[4096];
    for (;;) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
            resp.append(buf, std::size_t(n));
            if (resp.size() > (1u << 20)) {
                out_failure = "response too large";
                return false;
            }
            continue;
        }
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !resp.empty()))
            break; // close_notify, or a close without it after the response
        out_failure = "read: " + error_text(ssl, n);
        return false;
    }
    SSL_shutdown(ssl); // our close_notify: the server need not wait for it
    if (!resp.starts_with("HTTP/1.1 200")) {
        out_failure = "response: " + resp.substr(0, resp.find('\r'));
        return false;
    }
    return true;
}

std::string leaf_hash(SSL* ssl) {
    const STACK_OF(CRYPTO_BUFFER)* chain = SSL_get0_peer_certificates(ssl);
    if (!chain || sk_CRYPTO_BUFFER_num(chain) == 0)
        return {};
    const CRYPTO_BUFFER* leaf = sk_CRYPTO_BUFFER_value(chain, 0);
    std::uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(CRYPTO_BUFFER_data(leaf), CRYPTO_BUFFER_len(leaf), md);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (auto b : md) {
        s += hex[b >> 4];
        s += hex[b & 15];
    }
    return s;
}

/// Plain HTTP: connect, one request, read to the end, close ("handshake" = connect).
attempt plain_connection(const options& o) {
    attempt a;
    auto t0 = clock_type::now();
    int fd = connect_to(o);
    if (fd < 0) {
        a.failure = std::string("connect: ") + std::strerror(errno);
        return a;
    }
    a.handshake_us = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    std::string req = "GET " + o.path +
                      " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: "
                      "fcs_loadgen\r\n\r\n";
    std::string resp;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size())) {
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            resp.append(buf, std::size_t(n));
        }
    }
    ::close(fd);
    a.ok = resp.starts_with("HTTP/1.1 200");
    if (!a.ok)
        a.failure = "response: " + resp.substr(0, resp.find('\r'));
    return a;
}

/// A full connection: handshake, one request, close.
attempt one_connection(const options& o, SSL_CTX* ctx, SSL_SESSION* offer,
                       bssl::UniquePtr<SSL_SESSION>* ticket_slot) {
    if (o.plain)
        return plain_connection(o);
    tls_conn c;
    attempt a = open_tls(o, ctx, offer, ticket_slot, c);
    if (!a.ok)
        return a;
    if (o.count_certs)
        a.leaf_sha256 = leaf_hash(c.ssl.get());
    std::string why;
    if (!request(c, o, why)) {
        a.ok = false;
        a.failure = why;
    }
    SSL_set_app_data(c.ssl.get(), nullptr);
    return a;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty())
        return 0;
    std::size_t i = std::min(v.size() - 1, std::size_t(p / 100.0 * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(i), v.end());
    return v[i];
}

int run_load(const options& o) {
    auto ctx = make_client_ctx();
    std::atomic<bool> stop{false};
    std::mutex m;
    std::vector<double> latencies;
    std::uint64_t ok = 0, failed = 0, resumed = 0;
    std::map<std::string, std::uint64_t> failures;
    std::set<std::string> certs;
    auto deadline = clock_type::now() + std::chrono::duration<double>(o.duration);

    auto worker = [&] {
        std::vector<double> lat;
        lat.reserve(65536);
        std::uint64_t w_ok = 0, w_failed = 0, w_resumed = 0;
        std::map<std::string, std::uint64_t> w_fail;
        std::set<std::string> w_certs;
        bssl::UniquePtr<SSL_SESSION> session, fresh;
        while (!stop.load(std::memory_order_relaxed) && clock_type::now() < deadline) {
            attempt a = one_connection(o, ctx.get(), o.resume ? session.get() : nullptr,
                                       o.resume ? &fresh : nullptr);
            if (a.ok) {
                ++w_ok;
                lat.push_back(a.handshake_us);
                w_resumed += a.resumed;
                if (!a.leaf_sha256.empty())
                    w_certs.insert(a.leaf_sha256);
            } else {
                ++w_failed;
                ++w_fail[a.failure];
            }
            if (o.resume && fresh)
                session = std::move(fresh); // the newest ticket (tickets are renewed)
        }
        std::lock_guard lock(m);
        latencies.insert(latencies.end(), lat.begin(), lat.end());
        ok += w_ok;
        failed += w_failed;
        resumed += w_resumed;
        for (auto& [k, v] : w_fail)
            failures[k] += v;
        certs.insert(w_certs.begin(), w_certs.end());
    };
    auto t0 = clock_type::now();
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < o.connections; ++i)
        pool.emplace_back(worker);
    for (auto& t : pool)
        t.join();
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    for (auto& [k, v] : failures)
        std::cerr << "fcs_loadgen: " << v << " x " << k << "\n";
    double p50 = percentile(latencies, 50), p90 = percentile(latencies, 90),
           p99 = percentile(latencies, 99), pmax = percentile(latencies, 100);
    std::printf("handshakes=%llu failures=%llu resumed=%llu seconds=%.3f rate=%.1f "
                "p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f connections=%u mode=%s",
                (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)resumed,
                secs, double(ok) / secs, p50, p90, p99, pmax, o.connections,
                o.plain    ? "plain"
                : o.resume ? "resumed"
                           : "full");
    if (o.count_certs)
        std::printf(" distinct_certs=%zu", certs.size());
    std::printf("\n");
    return failed == 0 ? 0 : 3;
}

std::string to_hex(const std::uint8_t* p, std::size_t n) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += hex[p[i] >> 4];
        s += hex[p[i] & 15];
    }
    return s;
}

std::vector<std::uint8_t> from_hex(std::string_view s) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        unsigned v = 0;
        std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
        out.push_back(std::uint8_t(v));
    }
    return out;
}

int run_save(const options& o) {
    auto ctx = make_client_ctx();
    std::ofstream out(o.save_sessions, std::ios::trunc);
    unsigned saved = 0, failed = 0;
    for (unsigned i = 0; i < o.connections; ++i) {
        bssl::UniquePtr<SSL_SESSION> ticket;
        attempt a = one_connection(o, ctx.get(), nullptr, &ticket);
        if (!a.ok || !ticket) {
            ++failed;
            continue;
        }
        std::uint8_t* der = nullptr;
        std::size_t len = 0;
        if (!SSL_SESSION_to_bytes(ticket.get(), &der, &len)) {
            ++failed;
            continue;
        }
        out << to_hex(der, len) << "\n";
        OPENSSL_free(der);
        ++saved;
    }
    std::printf("saved=%u failures=%u\n", saved, failed);
    return failed == 0 ? 0 : 3;
}

int run_load_sessions(const options& o) {
    auto ctx = make_client_ctx();
    std::ifstream in(o.load_sessions);
    std::string line;
    unsigned offered = 0, resumed = 0, failed = 0;
    while (std::getline(in, line)) {
        auto der = from_hex(line);
        bssl::UniquePtr<SSL_SESSION> s(SSL_SESSION_from_bytes(der.data(), der.size(), ctx.get()));
        if (!s)
            continue;
        ++offered;
        attempt a = one_connection(o, ctx.get(), s.get(), nullptr);
        if (!a.ok)
            ++failed;
        else if (a.resumed)
            ++resumed;
    }
    std::printf("offered=%u resumed=%u failures=%u share=%.2f%%\n", offered, resumed, failed,
                offered ? 100.0 * resumed / offered : 0.0);
    return failed == 0 ? 0 : 3;
}

int run_hold(const options& o) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < o.hold + 64) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, o.hold + 64);
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    auto ctx = make_client_ctx();
    std::vector<std::unique_ptr<tls_conn>> conns;
    unsigned failed = 0;
    std::string first_failure;
    for (unsigned i = 0; i < o.hold; ++i) {
        auto c = std::make_unique<tls_conn>();
        attempt a = open_tls(o, ctx.get(), nullptr, nullptr, *c);
        if (!a.ok) {
            if (first_failure.empty())
                first_failure = a.failure;
            ++failed;
            continue;
        }
        conns.push_back(std::move(c));
    }
    if (failed)
        std::cerr << "fcs_loadgen: " << failed << " failed, first: " << first_failure << "\n";
    std::printf("holding %zu failures=%u\n", conns.size(), failed);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(o.hold_seconds));
    return failed == 0 ? 0 : 3;
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    options o = parse(argc, argv);
    if (!o.save_sessions.empty())
        return run_save(o);
    if (!o.load_sessions.empty())
        return run_load_sessions(o);
    if (o.hold)
        return run_hold(o);
    return run_load(o);
}
