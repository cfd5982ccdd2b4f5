// fcs/tls/server_context.hpp: the handshake path, with real BoringSSL handshakes over real
// sockets (socketpair). Included first: the header is self-contained.
#include <fcs/tls/server_context.hpp>

#include <fcs/acme/challenges.hpp>

#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

#include <sys/socket.h>
#include <fcntl.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <thread>

namespace {

using fcs::crypto::boringssl;
using fcs::tls::prepared_credential;
using fcs::tls::server_context;

struct pair_t {
    boringssl::certificate cert;
    boringssl::private_key key;
    std::string fingerprint;
};

pair_t make_pair(const std::string& cn) {
    boringssl b;
    auto key = b.generate_key(fcs::key_type::ec_p256);
    boringssl::profile p;
    p.common_name = cn;
    p.dns_names = {"localhost"};
    auto now = std::chrono::system_clock::now();
    auto cert =
        b.self_sign(key, p, now - std::chrono::hours(1), now + std::chrono::hours(24 * 365));
    auto fp = b.fingerprint(cert);
    return {cert, key, fp};
}

std::shared_ptr<const prepared_credential> prepare(const pair_t& p) {
    std::vector<boringssl::certificate> chain{p.cert};
    return prepared_credential::make(chain, p.key, p.fingerprint);
}

/// Client settings for one handshake.
struct client_options {
    std::uint16_t min_version = TLS1_2_VERSION;
    std::uint16_t max_version = TLS1_3_VERSION;
    const char* ciphers = nullptr;
};

/// One TLS connection between a server SSL (from the context) and a BoringSSL client, over a
/// non-blocking socketpair, driven step by step in this thread.
struct connection {
    bssl::UniquePtr<SSL_CTX> client_ctx;
    bssl::UniquePtr<SSL> client, server;
    int fds[2] = {-1, -1};
    bool ok = false;

    /// `prepare_client` sets up the client SSL before the handshake (SNI, ALPN).
    connection(SSL_CTX* server_ctx, const client_options& o = {},
               const std::function<void(SSL*)>& prepare_client = {}) {
        // No Boost.Test assertions here: connections are also made on client threads.
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
            throw std::runtime_error("socketpair failed");
        for (int fd : fds)
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        client_ctx.reset(SSL_CTX_new(TLS_method()));
        SSL_CTX_set_min_proto_version(client_ctx.get(), o.min_version);
        SSL_CTX_set_max_proto_version(client_ctx.get(), o.max_version);
        if (o.ciphers && !SSL_CTX_set_strict_cipher_list(client_ctx.get(), o.ciphers))
            throw std::runtime_error("bad client cipher list");
        client.reset(SSL_new(client_ctx.get()));
        server.reset(SSL_new(server_ctx));
        SSL_set_fd(client.get(), fds[0]);
        SSL_set_fd(server.get(), fds[1]);
        SSL_set_connect_state(client.get());
        SSL_set_accept_state(server.get());
        if (prepare_client)
            prepare_client(client.get());
        ok = drive([&] { return progress_of(client.get(), SSL_do_handshake(client.get())); },
                   [&] { return progress_of(server.get(), SSL_do_handshake(server.get())); });
        ERR_clear_error();
    }
    ~connection() {
        client.reset();
        server.reset();
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    enum class progress { done, more, failed };
    static progress progress_of(SSL* s, int r) {
        if (r > 0)
            return progress::done;
        int e = SSL_get_error(s, r);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? progress::more
                                                                     : progress::failed;
    }

    /// Steps both sides until both are done; false when either fails.
    template <class A, class B>
    bool drive(A a, B b) {
        bool a_done = false, b_done = false;
        for (int i = 0; i < 1000 && !(a_done && b_done); ++i) {
            for (auto [f, done] :
                 {std::pair<std::function<progress()>, bool*>{a, &a_done}, {b, &b_done}}) {
                if (*done)
                    continue;
                auto p = f();
                if (p == progress::failed)
                    return false;
                *done = p == progress::done;
            }
        }
        return a_done && b_done;
    }

    std::string peer_fingerprint() const {
        bssl::UniquePtr<X509> x(SSL_get_peer_certificate(client.get()));
        if (!x)
            return {};
        return boringssl().fingerprint(boringssl::certificate(std::move(x)));
    }

    /// Sends `msg` from the client and reads it on the server: the connection still works.
    bool echo(const std::string& msg) {
        std::string got(msg.size(), '\0');
        int read_total = 0;
        bool sent = false;
        return drive(
                   [&] {
                       if (sent)
                           return progress::done;
                       int r = SSL_write(client.get(), msg.data(), static_cast<int>(msg.size()));
                       sent = r > 0;
                       return progress_of(client.get(), r);
                   },
                   [&] {
                       int r = SSL_read(server.get(), got.data() + read_total,
                                        static_cast<int>(msg.size()) - read_total);
                       if (r <= 0)
                           return progress_of(server.get(), r);
                       read_total += r;
                       return read_total == static_cast<int>(msg.size()) ? progress::done
                                                                         : progress::more;
                   }) &&
               got == msg;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(tls_server_context)

BOOST_AUTO_TEST_CASE(serves_the_published_credential) {
    server_context tls;
    auto a = make_pair("a.example");
    tls.publish(prepare(a));
    BOOST_TEST(tls.current()->sha256_fingerprint() == a.fingerprint);
    connection c(tls.native_handle());
    BOOST_TEST(c.ok);
    BOOST_TEST(c.peer_fingerprint() == a.fingerprint);
    BOOST_TEST(c.echo("ping"));
}

BOOST_AUTO_TEST_CASE(handshakes_fail_before_anything_is_published) {
    server_context tls;
    BOOST_TEST(!tls.current());
    connection c(tls.native_handle());
    BOOST_TEST(!c.ok);
}

BOOST_AUTO_TEST_CASE(new_handshakes_get_the_new_credential_and_open_connections_keep_theirs) {
    server_context tls;
    auto a = make_pair("a.example"), b = make_pair("b.example");
    tls.publish(prepare(a));
    connection before(tls.native_handle());
    BOOST_REQUIRE(before.ok);
    tls.publish(prepare(b)); // the only reference to A's prepared credential goes away here
    connection after(tls.native_handle());
    BOOST_REQUIRE(after.ok);
    BOOST_TEST(after.peer_fingerprint() == b.fingerprint);
    BOOST_TEST(before.peer_fingerprint() == a.fingerprint);
    BOOST_TEST(before.echo("still here"));
    BOOST_TEST(after.echo("new one"));
}

BOOST_AUTO_TEST_CASE(a_mismatched_pair_is_refused_and_the_credential_in_use_stays) {
    server_context tls;
    auto a = make_pair("a.example"), b = make_pair("b.example");
    tls.publish(prepare(a));
    std::vector<boringssl::certificate> chain{a.cert};
    try {
        tls.publish(prepared_credential::make(chain, b.key, a.fingerprint, "Certificates/x.crt"));
        BOOST_FAIL("a key that does not match was accepted");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::key_mismatch);
        BOOST_TEST(e.file() == "Certificates/x.crt");
    }
    connection c(tls.native_handle());
    BOOST_TEST(c.ok);
    BOOST_TEST(c.peer_fingerprint() == a.fingerprint);
}

BOOST_AUTO_TEST_CASE(only_tls12_and_tls13_with_ecdhe_aead_and_x25519_first) {
    server_context tls;
    tls.publish(prepare(make_pair("a.example")));
    {
        connection c(tls.native_handle(), {TLS1_1_VERSION, TLS1_1_VERSION, nullptr});
        BOOST_TEST(!c.ok);
    }
    {
        connection c(tls.native_handle(), {TLS1_VERSION, TLS1_VERSION, nullptr});
        BOOST_TEST(!c.ok);
    }
    {
        // CBC suites are not offered by the server.
        connection c(tls.native_handle(),
                     {TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"});
        BOOST_TEST(!c.ok);
    }
    {
        connection c(tls.native_handle(), {TLS1_2_VERSION, TLS1_2_VERSION, nullptr});
        BOOST_REQUIRE(c.ok);
        const SSL_CIPHER* cipher = SSL_get_current_cipher(c.server.get());
        BOOST_TEST(SSL_CIPHER_is_aead(cipher));
        BOOST_TEST(SSL_CIPHER_get_kx_nid(cipher) == NID_kx_ecdhe);
        BOOST_TEST(SSL_get_curve_id(c.server.get()) == SSL_CURVE_X25519);
    }
    {
        connection c(tls.native_handle());
        BOOST_REQUIRE(c.ok);
        BOOST_TEST(SSL_version(c.server.get()) == TLS1_3_VERSION);
        BOOST_TEST(SSL_get_curve_id(c.server.get()) == SSL_CURVE_X25519);
    }
}

BOOST_AUTO_TEST_CASE(follows_the_service_which_may_outlive_it) {
    using service_t =
        fcs::FailoverCertService<fcs::storage::directory<fcs::storage::failover_layout>,
                                 fcs::log::memory>;
    fcs::test::temp_dir dir;
    service_t svc({}, fcs::storage::directory<fcs::storage::failover_layout>(dir.path()),
                  fcs::log::memory{});
    svc.start();
    auto tls = std::make_unique<server_context>();
    tls->follow(svc);
    {
        connection c(tls->native_handle());
        BOOST_REQUIRE(c.ok);
        BOOST_TEST(c.peer_fingerprint() == svc.status().info.sha256_fingerprint);
    }
    auto pair = fcs::test::openssl_ca_issued(dir / "work");
    auto st = svc.install(fcs::test::as_bytes(pair.cert), fcs::test::as_bytes(pair.key));
    {
        connection c(tls->native_handle());
        BOOST_REQUIRE(c.ok);
        BOOST_TEST(c.peer_fingerprint() == st.info.sha256_fingerprint);
    }
    BOOST_TEST(tls->publish_failures() == 0u);
    // The context goes first: the service's listener must notice and do nothing.
    tls.reset();
    auto pair2 = fcs::test::openssl_ca_issued(dir / "work2");
    BOOST_CHECK_NO_THROW(
        svc.install(fcs::test::as_bytes(pair2.cert), fcs::test::as_bytes(pair2.key)));
}

BOOST_AUTO_TEST_CASE(handshakes_never_fail_while_credentials_are_swapped) {
    server_context tls;
    auto a = make_pair("a.example"), b = make_pair("b.example");
    auto pa = prepare(a), pb = prepare(b);
    tls.publish(pa);
    std::atomic<bool> stop{false};
    std::thread swapper([&] {
        for (int i = 0; !stop.load(); ++i)
            tls.publish(i % 2 ? pa : pb);
    });
    std::atomic<int> failures{0}, seen_a{0}, seen_b{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 3; ++t)
        clients.emplace_back([&] {
            for (int i = 0; i < 40; ++i) {
                connection c(tls.native_handle());
                auto fp = c.ok ? c.peer_fingerprint() : std::string();
                if (fp == a.fingerprint)
                    ++seen_a;
                else if (fp == b.fingerprint)
                    ++seen_b;
                else
                    ++failures;
            }
        });
    for (auto& c : clients)
        c.join();
    stop = true;
    swapper.join();
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(seen_a.load() + seen_b.load() == 120);
}

BOOST_AUTO_TEST_SUITE_END()

// tls-alpn-01 on the server's own port (RFC 8737): server_context::answer_alpn with an
// acme::challenge_responder serving on it, against a BoringSSL client offering ALPN and SNI.
namespace {

using fcs::acme::challenge_responder;
using fcs::acme::identifier;

/// A client set-up: SNI `name` (none when empty) and the ALPN protocols `protocols`.
std::function<void(SSL*)> offer(std::string name, std::vector<std::string> protocols) {
    return [name = std::move(name), protocols = std::move(protocols)](SSL* ssl) {
        if (!name.empty() && !SSL_set_tlsext_host_name(ssl, name.c_str()))
            throw std::runtime_error("SSL_set_tlsext_host_name failed");
        if (protocols.empty())
            return;
        std::string wire;
        for (auto& p : protocols)
            wire += static_cast<char>(p.size()) + p;
        // SSL_set_alpn_protos returns 0 on success.
        if (SSL_set_alpn_protos(ssl, reinterpret_cast<const std::uint8_t*>(wire.data()),
                                wire.size()) != 0)
            throw std::runtime_error("SSL_set_alpn_protos failed");
    };
}

/// The protocol the client negotiated ("" for none).
std::string negotiated(const connection& c) {
    const std::uint8_t* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(c.client.get(), &p, &len);
    return std::string(reinterpret_cast<const char*>(p), len);
}

/// Whether the certificate the client received has the acmeIdentifier extension.
bool peer_has_acme_identifier(const connection& c) {
    bssl::UniquePtr<X509> x(SSL_get_peer_certificate(c.client.get()));
    bssl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    return x && oid && X509_get_ext_by_OBJ(x.get(), oid.get(), -1) >= 0;
}

/// A context serving the pair `normal`, answering acme-tls/1 from `responder`.
struct alpn_setup {
    server_context tls;
    pair_t normal = make_pair("normal.example");
    std::shared_ptr<challenge_responder> responder = challenge_responder::make();
    alpn_setup() {
        tls.publish(prepare(normal));
        responder->serve_on(tls);
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(tls_server_context_alpn)

BOOST_AUTO_TEST_CASE(acme_tls_for_a_pending_name_gets_the_challenge_certificate) {
    alpn_setup s;
    s.responder->add_tls_alpn({identifier::kind::dns, "svc.example"}, "tok.thumb");
    auto challenge = s.responder->alpn_certificate("svc.example");
    BOOST_REQUIRE(challenge);
    for (auto max : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        connection c(s.tls.native_handle(), {TLS1_2_VERSION, static_cast<std::uint16_t>(max), nullptr},
                     offer("svc.example", {"acme-tls/1"}));
        BOOST_REQUIRE_MESSAGE(c.ok, "handshake failed, max version " << max);
        BOOST_TEST(negotiated(c) == "acme-tls/1");
        BOOST_TEST(c.peer_fingerprint() == challenge->sha256_fingerprint());
        BOOST_TEST(c.peer_fingerprint() != s.normal.fingerprint);
        BOOST_TEST(peer_has_acme_identifier(c));
    }
    // SNI is compared in lower case.
    connection upper(s.tls.native_handle(), {}, offer("SVC.Example", {"acme-tls/1"}));
    BOOST_REQUIRE(upper.ok);
    BOOST_TEST(upper.peer_fingerprint() == challenge->sha256_fingerprint());
}

BOOST_AUTO_TEST_CASE(acme_tls_for_an_ip_address_uses_its_reverse_dns_sni) {
    alpn_setup s;
    s.responder->add_tls_alpn({identifier::kind::ip, "127.0.0.1"}, "tok.thumb");
    auto challenge = s.responder->alpn_certificate("1.0.0.127.in-addr.arpa");
    BOOST_REQUIRE(challenge);
    connection c(s.tls.native_handle(), {}, offer("1.0.0.127.in-addr.arpa", {"acme-tls/1"}));
    BOOST_REQUIRE(c.ok);
    BOOST_TEST(negotiated(c) == "acme-tls/1");
    BOOST_TEST(c.peer_fingerprint() == challenge->sha256_fingerprint());
    // A CA that sends no SNI gets the one pending certificate.
    connection none(s.tls.native_handle(), {}, offer("", {"acme-tls/1"}));
    BOOST_REQUIRE(none.ok);
    BOOST_TEST(negotiated(none) == "acme-tls/1");
    BOOST_TEST(none.peer_fingerprint() == challenge->sha256_fingerprint());
}

BOOST_AUTO_TEST_CASE(other_protocols_or_no_alpn_get_the_published_certificate_and_no_alpn) {
    alpn_setup s;
    s.responder->add_tls_alpn({identifier::kind::dns, "svc.example"}, "tok.thumb");
    for (auto& protocols : std::vector<std::vector<std::string>>{{"http/1.1"}, {}, {"h2", "http/1.1"}}) {
        connection c(s.tls.native_handle(), {}, offer("svc.example", protocols));
        BOOST_REQUIRE(c.ok);
        BOOST_TEST(negotiated(c) == "");
        BOOST_TEST(c.peer_fingerprint() == s.normal.fingerprint);
        BOOST_TEST(!peer_has_acme_identifier(c));
        BOOST_TEST(c.echo("ping"));
    }
}

BOOST_AUTO_TEST_CASE(acme_tls_for_a_name_without_a_pending_challenge_is_an_ordinary_handshake) {
    alpn_setup s;
    s.responder->add_tls_alpn({identifier::kind::dns, "svc.example"}, "tok.thumb");
    connection c(s.tls.native_handle(), {}, offer("other.example", {"acme-tls/1"}));
    BOOST_REQUIRE(c.ok);
    BOOST_TEST(negotiated(c) == "");
    BOOST_TEST(c.peer_fingerprint() == s.normal.fingerprint);

    // Once the challenge is removed, its name too.
    s.responder->remove_tls_alpn({identifier::kind::dns, "svc.example"});
    connection after(s.tls.native_handle(), {}, offer("svc.example", {"acme-tls/1"}));
    BOOST_REQUIRE(after.ok);
    BOOST_TEST(negotiated(after) == "");
    BOOST_TEST(after.peer_fingerprint() == s.normal.fingerprint);
}

BOOST_AUTO_TEST_CASE(a_gone_responder_answers_nothing) {
    alpn_setup s;
    s.responder->add_tls_alpn({identifier::kind::dns, "svc.example"}, "tok.thumb");
    s.responder.reset(); // serve_on holds it weakly
    connection c(s.tls.native_handle(), {}, offer("svc.example", {"acme-tls/1"}));
    BOOST_REQUIRE(c.ok);
    BOOST_TEST(negotiated(c) == "");
    BOOST_TEST(c.peer_fingerprint() == s.normal.fingerprint);
}

BOOST_AUTO_TEST_CASE(the_challenge_is_answered_before_any_pair_is_published) {
    server_context tls;
    auto responder = challenge_responder::make();
    responder->serve_on(tls);
    responder->add_tls_alpn({identifier::kind::dns, "svc.example"}, "tok.thumb");
    connection c(tls.native_handle(), {}, offer("svc.example", {"acme-tls/1"}));
    BOOST_REQUIRE(c.ok);
    BOOST_TEST(negotiated(c) == "acme-tls/1");
    BOOST_TEST(c.peer_fingerprint() == responder->alpn_certificate("svc.example")->sha256_fingerprint());
    // Everything else still fails, as before anything is published.
    connection plain(tls.native_handle(), {}, offer("svc.example", {"http/1.1"}));
    BOOST_TEST(!plain.ok);
}

BOOST_AUTO_TEST_CASE(a_provider_that_throws_fails_only_that_handshake) {
    server_context tls;
    auto normal = make_pair("normal.example");
    tls.publish(prepare(normal));
    tls.answer_alpn("acme-tls/1", [](std::string_view) -> fcs::tls::prepared_ptr {
        throw std::runtime_error("provider failed");
    });
    connection c(tls.native_handle(), {}, offer("svc.example", {"acme-tls/1"}));
    BOOST_TEST(!c.ok);
    connection plain(tls.native_handle(), {}, offer("svc.example", {"http/1.1"}));
    BOOST_REQUIRE(plain.ok);
    BOOST_TEST(plain.peer_fingerprint() == normal.fingerprint);
}

BOOST_AUTO_TEST_CASE(the_provider_sees_the_server_name) {
    server_context tls;
    auto normal = make_pair("normal.example"), other = make_pair("other.example");
    tls.publish(prepare(normal));
    auto po = prepare(other);
    std::vector<std::string> seen;
    tls.answer_alpn("x-proto/2", [&](std::string_view sni) -> fcs::tls::prepared_ptr {
        seen.emplace_back(sni);
        return sni == "a.example" ? po : nullptr;
    });
    connection a(tls.native_handle(), {}, offer("a.example", {"http/1.1", "x-proto/2"}));
    BOOST_REQUIRE(a.ok);
    BOOST_TEST(negotiated(a) == "x-proto/2");
    BOOST_TEST(a.peer_fingerprint() == other.fingerprint);
    connection none(tls.native_handle(), {}, offer("", {"x-proto/2"}));
    BOOST_REQUIRE(none.ok);
    BOOST_TEST(negotiated(none) == "");
    BOOST_TEST(none.peer_fingerprint() == normal.fingerprint);
    BOOST_TEST(seen == (std::vector<std::string>{"a.example", ""}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(answer_alpn_is_set_once_with_a_valid_name) {
    server_context tls;
    auto nothing = [](std::string_view) -> fcs::tls::prepared_ptr { return nullptr; };
    BOOST_CHECK_THROW(tls.answer_alpn("", nothing), fcs::error);
    BOOST_CHECK_THROW(tls.answer_alpn(std::string(256, 'a'), nothing), fcs::error);
    BOOST_CHECK_NO_THROW(tls.answer_alpn(std::string(255, 'a'), nothing));
    try {
        tls.answer_alpn("acme-tls/1", nothing);
        BOOST_ERROR("a second answer_alpn was accepted");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::invalid_argument);
    }
    server_context other;
    auto responder = challenge_responder::make();
    responder->serve_on(other);
    BOOST_CHECK_THROW(responder->serve_on(other), fcs::error);
}

BOOST_AUTO_TEST_SUITE_END()
