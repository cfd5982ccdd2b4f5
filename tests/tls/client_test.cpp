// fcs/tls/client.hpp: the one client-TLS set-up (the etcd storage, fcs-adapter-check). The
// handshakes themselves (a wrong CA, a wrong host name, no client certificate) are proved
// against a real etcd in etcd_secure and against the failover server in tests/e2e_server.
#include "support/support.hpp"

#include <fcs/tls/client.hpp>

#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

namespace {
using namespace fcs;
using namespace fcs::test;

tls::client_options opts(std::filesystem::path ca, std::string purpose = {},
                         std::filesystem::path cert = {}) {
    tls::client_options o;
    o.ca_file = std::move(ca);
    o.purpose = std::move(purpose);
    o.cert_file = std::move(cert);
    return o;
}

fcs::error refusal(const tls::client_options& o) {
    try {
        tls::client_context c(o);
    } catch (const fcs::error& e) {
        return e;
    }
    BOOST_FAIL("accepted");
    throw std::logic_error("unreachable");
}
bool has(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}
} // namespace

BOOST_AUTO_TEST_SUITE(tls_client)

BOOST_AUTO_TEST_CASE(refusals_name_the_file_and_the_step) {
    temp_dir t;
    auto e = refusal(opts(t / "missing.pem", "etcd"));
    BOOST_TEST((e.fcs_code() == errc::io_failed));
    BOOST_TEST(e.file() == (t / "missing.pem").string());
    BOOST_TEST(has(e.what(), "load etcd CA certificates"), e.what());
    write_text(t / "garbage.pem", "not a certificate\n");
    e = refusal(opts(t / "garbage.pem"));
    BOOST_TEST(has(e.what(), "load CA certificates: no PEM certificate"), e.what());
    e = refusal(opts({}, "etcd", t / "client.crt"));
    BOOST_TEST((e.fcs_code() == errc::invalid_argument));
    BOOST_TEST(has(e.what(), "give both or neither"), e.what());
}

BOOST_AUTO_TEST_CASE(validation_can_be_turned_off_and_says_what_it_trusts) {
    auto no_check = opts({});
    no_check.validate_endpoint_certificate = false;
    tls::client_context off(no_check);
    BOOST_TEST(SSL_CTX_get_verify_mode(off.asio().native_handle()) == SSL_VERIFY_NONE);
    BOOST_TEST(off.trusted_by().empty());
    tls::client_context on(opts({}));
    BOOST_TEST(SSL_CTX_get_verify_mode(on.asio().native_handle()) == SSL_VERIFY_PEER);
    BOOST_TEST(has(on.trusted_by(), "system trust store"), on.trusted_by());
    BOOST_TEST(SSL_CTX_get_min_proto_version(on.asio().native_handle()) == TLS1_2_VERSION);
}

BOOST_AUTO_TEST_CASE(a_connection_names_its_host_by_sni_only_for_names) {
    tls::client_context c(opts({}));
    bssl::UniquePtr<SSL> named(SSL_new(c.asio().native_handle()));
    c.prepare(named.get(), "etcd1.example");
    const char* sni = SSL_get_servername(named.get(), TLSEXT_NAMETYPE_host_name);
    BOOST_TEST((sni && std::string(sni) == "etcd1.example"));
    bssl::UniquePtr<SSL> by_ip(SSL_new(c.asio().native_handle()));
    c.prepare(by_ip.get(), "127.0.0.1"); // RFC 6066: no IP addresses in SNI
    BOOST_TEST(SSL_get_servername(by_ip.get(), TLSEXT_NAMETYPE_host_name) == nullptr);
    BOOST_CHECK_EXCEPTION(c.prepare(by_ip.get(), std::string("bad\0name", 8)), fcs::error,
                          [](const fcs::error& e) {
                              // The file is the host as given (what() stops at its NUL).
                              return e.fcs_code() == errc::invalid_argument &&
                                     e.file() == std::string("bad\0name", 8);
                          });
}

BOOST_AUTO_TEST_SUITE_END()
