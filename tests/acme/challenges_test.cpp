// fcs/acme/challenges.hpp: the SNI a validating CA sends (RFC 8737, RFC 8738), the
// tls-alpn-01 certificate read back with BoringSSL, and the challenge_responder's book-keeping.
// Included first: the header is self-contained.
#include <fcs/acme/challenges.hpp>

#include <boost/test/unit_test.hpp>

#include <openssl/bytestring.h>
#include <openssl/obj.h>
#include <openssl/pool.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using fcs::acme::challenge_responder;
using fcs::acme::identifier;
using fcs::acme::sni_of;

identifier dns(std::string v) { return {identifier::kind::dns, std::move(v)}; }
identifier ip(std::string v) { return {identifier::kind::ip, std::move(v)}; }

bssl::UniquePtr<X509> leaf_of(const fcs::tls::prepared_ptr& p) {
    BOOST_REQUIRE(p);
    BOOST_REQUIRE(!p->chain().empty());
    CRYPTO_BUFFER* b = p->chain()[0];
    const std::uint8_t* der = CRYPTO_BUFFER_data(b);
    bssl::UniquePtr<X509> x(d2i_X509(nullptr, &der, static_cast<long>(CRYPTO_BUFFER_len(b))));
    BOOST_REQUIRE(x);
    return x;
}

/// The subjectAltName entries of `x` as "DNS:name" / "IP:<raw octets as text>".
std::vector<std::string> sans_of(X509* x) {
    std::vector<std::string> out;
    bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    if (!names)
        return out;
    for (std::size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
        if (n->type == GEN_DNS)
            out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(
                                                   ASN1_STRING_get0_data(n->d.dNSName)),
                                               ASN1_STRING_length(n->d.dNSName)));
        else if (n->type == GEN_IPADD)
            out.push_back("IP:" + std::string(reinterpret_cast<const char*>(
                                                  ASN1_STRING_get0_data(n->d.iPAddress)),
                                              ASN1_STRING_length(n->d.iPAddress)));
        else
            out.push_back("other");
    }
    return out;
}

std::string octets_text(std::vector<std::uint8_t> o) { return std::string(o.begin(), o.end()); }

/// Checks the RFC 8737 section 3 shape of the certificate for `id` and `key_authorization`.
void check_challenge_certificate(const fcs::tls::prepared_ptr& p, const std::string& expected_san,
                                 std::string_view key_authorization) {
    auto x = leaf_of(p);
    BOOST_TEST(sans_of(x.get()) == std::vector<std::string>{expected_san},
               boost::test_tools::per_element());

    bssl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    BOOST_REQUIRE(oid);
    int at = X509_get_ext_by_OBJ(x.get(), oid.get(), -1);
    BOOST_REQUIRE_MESSAGE(at >= 0, "no acmeIdentifier extension");
    BOOST_TEST(X509_get_ext_by_OBJ(x.get(), oid.get(), at) < 0); // exactly one
    X509_EXTENSION* ext = X509_get_ext(x.get(), at);
    BOOST_TEST(X509_EXTENSION_get_critical(ext) == 1);

    // extnValue = DER of OCTET STRING (SIZE (32)) holding SHA-256(key authorization).
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
    CBS cbs, inner;
    CBS_init(&cbs, ASN1_STRING_get0_data(value), static_cast<std::size_t>(ASN1_STRING_length(value)));
    BOOST_REQUIRE(CBS_get_asn1(&cbs, &inner, CBS_ASN1_OCTETSTRING));
    BOOST_TEST(CBS_len(&cbs) == 0u);
    std::uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const std::uint8_t*>(key_authorization.data()),
           key_authorization.size(), digest);
    BOOST_TEST(std::string(reinterpret_cast<const char*>(CBS_data(&inner)), CBS_len(&inner)) ==
               std::string(reinterpret_cast<const char*>(digest), sizeof digest));

    // Signed again after the extension was added: the signature verifies with its own key,
    // which is the credential's key.
    bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(x.get()));
    BOOST_REQUIRE(pub);
    BOOST_TEST(X509_verify(x.get(), pub.get()) == 1);
    BOOST_TEST(X509_check_private_key(x.get(), p->key()) == 1);
}

} // namespace

BOOST_AUTO_TEST_SUITE(acme_challenges)

BOOST_AUTO_TEST_CASE(sni_of_a_dns_name_is_the_name_in_lower_case) {
    BOOST_TEST(sni_of(dns("Svc.Example.COM")) == "svc.example.com");
    BOOST_TEST(sni_of(dns("a-1.example")) == "a-1.example");
}

BOOST_AUTO_TEST_CASE(sni_of_an_ipv4_address_is_its_in_addr_arpa_name) {
    BOOST_TEST(sni_of(ip("1.2.3.4")) == "4.3.2.1.in-addr.arpa");
    BOOST_TEST(sni_of(ip("127.0.0.1")) == "1.0.0.127.in-addr.arpa");
    BOOST_TEST(sni_of(ip("10.200.0.255")) == "255.0.200.10.in-addr.arpa");
}

BOOST_AUTO_TEST_CASE(sni_of_an_ipv6_address_is_its_nibble_ip6_arpa_name) {
    // RFC 8738 section 6 / RFC 3596 section 2.5: 32 nibbles, least significant first.
    BOOST_TEST(sni_of(ip("2001:db8::567:89ab")) ==
               "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    BOOST_TEST(sni_of(ip("::1")) ==
               "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
}

BOOST_AUTO_TEST_CASE(sni_of_refuses_a_bad_ip_address) {
    BOOST_CHECK_THROW(sni_of(ip("1.2.3")), fcs::error);
    BOOST_CHECK_THROW(sni_of(ip("example.com")), fcs::error);
    BOOST_CHECK_THROW(sni_of(ip("fe80::1%eth0")), fcs::error);
}

BOOST_AUTO_TEST_CASE(tls_alpn_certificate_for_a_dns_name) {
    const std::string ka = "token-1.thumbprint-abc";
    auto p = fcs::acme::tls_alpn_certificate(dns("svc.example"), ka);
    check_challenge_certificate(p, "DNS:svc.example", ka);
    // Another key authorization, another digest: the check above would notice a constant.
    auto x1 = leaf_of(p);
    auto x2 = leaf_of(fcs::acme::tls_alpn_certificate(dns("svc.example"), "token-2.other"));
    bssl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    auto v = [&](X509* x) {
        auto* d = X509_EXTENSION_get_data(X509_get_ext(x, X509_get_ext_by_OBJ(x, oid.get(), -1)));
        return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)),
                           ASN1_STRING_length(d));
    };
    BOOST_TEST(v(x1.get()) != v(x2.get()));
}

BOOST_AUTO_TEST_CASE(tls_alpn_certificate_for_ip_addresses) {
    const std::string ka = "tok.thumb";
    check_challenge_certificate(fcs::acme::tls_alpn_certificate(ip("127.0.0.1"), ka),
                                "IP:" + octets_text({127, 0, 0, 1}), ka);
    std::vector<std::uint8_t> v6(16, 0);
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[2] = 0x0d;
    v6[3] = 0xb8;
    v6[15] = 0x01;
    check_challenge_certificate(fcs::acme::tls_alpn_certificate(ip("2001:db8::1"), ka),
                                "IP:" + octets_text(v6), ka);
}

BOOST_AUTO_TEST_CASE(tls_alpn_certificate_refuses_a_bad_identifier) {
    BOOST_CHECK_THROW(fcs::acme::tls_alpn_certificate(ip("300.1.1.1"), "k"), fcs::error);
    BOOST_CHECK_THROW(fcs::acme::tls_alpn_certificate(dns("bad name!"), "k"), fcs::error);
}

BOOST_AUTO_TEST_CASE(responder_serves_tls_alpn_certificates_by_sni_case_insensitively) {
    auto r = challenge_responder::make();
    BOOST_TEST(!r->alpn_certificate("svc.example"));
    BOOST_TEST(!r->alpn_certificate(""));
    r->add_tls_alpn(dns("Svc.Example"), "a.b");
    auto c = r->alpn_certificate("svc.example");
    BOOST_REQUIRE(c);
    check_challenge_certificate(c, "DNS:Svc.Example", "a.b");
    BOOST_TEST(r->alpn_certificate("SVC.EXAMPLE") == c);
    BOOST_TEST(!r->alpn_certificate("other.example"));

    r->add_tls_alpn(ip("127.0.0.1"), "c.d");
    auto by_ip = r->alpn_certificate("1.0.0.127.in-addr.arpa");
    BOOST_REQUIRE(by_ip);
    BOOST_TEST(by_ip != c);
    // The address itself is not what a CA sends (RFC 8738 6).
    BOOST_TEST(!r->alpn_certificate("127.0.0.1"));

    r->remove_tls_alpn(dns("svc.example"));
    BOOST_TEST(!r->alpn_certificate("svc.example"));
    BOOST_TEST(r->alpn_certificate("1.0.0.127.in-addr.arpa") == by_ip);
    r->remove_tls_alpn(ip("127.0.0.1"));
    BOOST_TEST(!r->alpn_certificate("1.0.0.127.in-addr.arpa"));
}

BOOST_AUTO_TEST_CASE(responder_without_sni_answers_only_when_exactly_one_is_pending) {
    auto r = challenge_responder::make();
    BOOST_TEST(!r->alpn_certificate(""));
    r->add_tls_alpn(ip("127.0.0.1"), "a.b");
    auto only = r->alpn_certificate("1.0.0.127.in-addr.arpa");
    BOOST_REQUIRE(only);
    BOOST_TEST(r->alpn_certificate("") == only);
    r->add_tls_alpn(dns("svc.example"), "c.d");
    BOOST_TEST(!r->alpn_certificate("")); // two pending: which one is ambiguous
    r->remove_tls_alpn(ip("127.0.0.1"));
    auto left = r->alpn_certificate("");
    BOOST_REQUIRE(left);
    BOOST_TEST(left == r->alpn_certificate("svc.example"));
}

BOOST_AUTO_TEST_CASE(responder_http_answers_add_replace_remove) {
    auto r = challenge_responder::make();
    BOOST_TEST(!r->http_answer("tok"));
    r->add_http("tok", "tok.thumb");
    BOOST_TEST(r->http_answer("tok").value_or("") == "tok.thumb");
    BOOST_TEST(!r->http_answer("TOK")); // tokens are case-sensitive
    BOOST_TEST(!r->http_answer("to"));
    r->add_http("tok", "tok.thumb2");
    BOOST_TEST(r->http_answer("tok").value_or("") == "tok.thumb2");
    r->remove_http("tok");
    BOOST_TEST(!r->http_answer("tok"));
}

BOOST_AUTO_TEST_CASE(responder_is_bounded_at_max_pending) {
    auto r = challenge_responder::make();
    for (std::size_t i = 0; i < challenge_responder::max_pending; ++i)
        r->add_http("t" + std::to_string(i), "ka" + std::to_string(i));
    try {
        r->add_http("one-more", "x");
        BOOST_ERROR("an http-01 answer beyond max_pending was accepted");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::too_large);
    }
    BOOST_TEST(!r->http_answer("one-more"));
    // Replacing a pending one is not a new one; after a removal there is room again.
    BOOST_CHECK_NO_THROW(r->add_http("t0", "again"));
    BOOST_TEST(r->http_answer("t0").value_or("") == "again");
    r->remove_http("t1");
    BOOST_CHECK_NO_THROW(r->add_http("one-more", "x"));

    for (std::size_t i = 0; i < challenge_responder::max_pending; ++i)
        r->add_tls_alpn(dns("n" + std::to_string(i) + ".example"), "k");
    BOOST_CHECK_THROW(r->add_tls_alpn(dns("one-more.example"), "k"), fcs::error);
    BOOST_TEST(!r->alpn_certificate("one-more.example"));
    BOOST_CHECK_NO_THROW(r->add_tls_alpn(dns("N0.example"), "k2")); // same name, replaced
}

BOOST_AUTO_TEST_SUITE_END()
