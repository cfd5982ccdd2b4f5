#include "support/san.hpp"
#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
namespace t = fcs::test;
using backend = crypto::boringssl;

backend::certificate make_cert(const backend& c, const backend::private_key& k, bool ca = false) {
    backend::profile p;
    p.common_name = "unit.test";
    p.dns_names = {"unit.test", "localhost"};
    p.ip_addresses = {"127.0.0.1", "::1"};
    p.ca = ca;
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    return c.self_sign(k, p, now, now + 24h * 365);
}

template <class F>
errc code_of(F&& f) {
    try {
        f();
    } catch (const error& e) {
        return e.fcs_code();
    }
    return errc{};
}
} // namespace

BOOST_AUTO_TEST_SUITE(crypto_boringssl)

// X.509 dates reach the year 9999; a time_point of system_clock (nanoseconds) about 2262. A
// certificate valid until 2701 made the conversion overflow (signed, undefined: found by the
// certificate fuzz target, tests/fuzz/regressions/certificate/notafter-year-2701.der).
BOOST_AUTO_TEST_CASE(dates_beyond_what_a_time_point_holds_are_clamped_not_overflowed) {
    backend c;
    auto der = c.encode(make_cert(c, c.generate_key(key_type::ec_p256)), encoding::der);
    const std::uint8_t* in = der.data();
    bssl::UniquePtr<X509> x(d2i_X509(nullptr, &in, static_cast<long>(der.size())));
    BOOST_REQUIRE(x);
    for (const char* when : {"27010101022300Z", "99991231235959Z"}) {
        bssl::UniquePtr<ASN1_TIME> t(ASN1_GENERALIZEDTIME_set(nullptr, 0));
        BOOST_REQUIRE(ASN1_GENERALIZEDTIME_set_string(t.get(), when));
        BOOST_REQUIRE(X509_set1_notAfter(x.get(), t.get()));
        BOOST_REQUIRE(i2d_re_X509_tbs(x.get(), nullptr) > 0); // encode the changed date
        std::uint8_t* out = nullptr;
        const int len = i2d_X509(x.get(), &out);
        BOOST_REQUIRE(len > 0);
        bssl::UniquePtr<std::uint8_t> owned(out);
        auto certs = c.parse_certificates({out, static_cast<std::size_t>(len)}, "far.crt");
        BOOST_REQUIRE(certs.size() == 1u);
        const auto info = c.describe(certs.front());
        BOOST_TEST_CONTEXT(when) {
            // 2^62 ns after 1970: room left for differences and added days.
            BOOST_TEST(fcs::detail::iso8601(info.not_after) == "2116-02-20T23:53:38Z");
            BOOST_TEST((info.not_after > info.not_before));
            BOOST_TEST((info.not_after - std::chrono::system_clock::now() > 24h * 365 * 80));
        }
    }
}

BOOST_AUTO_TEST_CASE(generates_every_key_type_and_its_self_signed_certificate_matches) {
    backend c;
    for (auto kt : {key_type::ec_p256, key_type::ec_p384, key_type::rsa2048, key_type::ed25519}) {
        auto k = c.generate_key(kt);
        auto cert = make_cert(c, k);
        BOOST_TEST_CONTEXT(to_string(kt)) {
            BOOST_TEST(c.matches(cert, k));
            auto info = c.describe(cert);
            BOOST_TEST(info.self_signed);
            BOOST_TEST(!info.is_ca);
            // Round trip through both encodings.
            for (auto e : {encoding::pem, encoding::der}) {
                auto kb = c.encode(k, e);
                auto k2 = c.parse_private_key(kb, nullptr, "k");
                auto cb = c.encode(cert, e);
                auto certs = c.parse_certificates(cb, "c");
                BOOST_TEST(certs.size() == 1u);
                BOOST_TEST(c.matches(certs[0], k2));
                BOOST_TEST(c.fingerprint(certs[0]) == info.sha256_fingerprint);
            }
        }
    }
    auto other = c.generate_key(key_type::ec_p256);
    BOOST_TEST(!c.matches(make_cert(c, c.generate_key(key_type::ec_p256)), other));
}

BOOST_AUTO_TEST_CASE(server_certificate_says_what_openssl_expects) {
    t::temp_dir dir;
    backend c;
    auto k = c.generate_key(key_type::ec_p256);
    auto cert = make_cert(c, k);
    auto pem = c.encode(cert, encoding::pem);
    t::write_text(dir / "c.pem", as_text(pem));
    auto r = t::run("openssl x509 -in " + (dir / "c.pem").string() +
                    " -noout -text -fingerprint -sha256");
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(r.output.find("Version: 3") != std::string::npos);
    BOOST_TEST(r.output.find("CA:FALSE") != std::string::npos);
    BOOST_TEST(r.output.find("TLS Web Server Authentication") != std::string::npos);
    BOOST_TEST(r.output.find("DNS:unit.test, DNS:localhost, IP Address:127.0.0.1") !=
               std::string::npos);
    BOOST_TEST(r.output.find("Digital Signature") != std::string::npos);
    // Our fingerprint is openssl's.
    BOOST_TEST(r.output.find("Fingerprint=" + c.fingerprint(cert)) != std::string::npos);
    auto info = c.describe(cert);
    BOOST_TEST(info.subject == "CN=unit.test");
    BOOST_TEST(info.sans.size() == 4u);
    BOOST_TEST(info.sans[3] == "IP:::1");
    BOOST_TEST(info.serial.size() == 32u); // 128-bit serial from the CSPRNG
}

BOOST_AUTO_TEST_CASE(ca_profile_makes_a_ca_that_openssl_verifies_children_of) {
    t::temp_dir dir;
    backend c;
    auto ca_key = c.generate_key(key_type::ec_p384);
    auto ca = make_cert(c, ca_key, true);
    BOOST_TEST(c.describe(ca).is_ca);
    auto leaf_key = c.generate_key(key_type::ec_p256);
    backend::profile p;
    p.common_name = "subsystem";
    p.dns_names = {"subsystem"};
    p.client_auth = true;
    auto now = std::chrono::system_clock::now();
    auto pub = backend::public_of(leaf_key);
    auto leaf = c.issue(ca, ca_key, pub, p, now, now + 24h);
    t::write_text(dir / "ca.pem", as_text(c.encode(ca, encoding::pem)));
    t::write_text(dir / "leaf.pem", as_text(c.encode(leaf, encoding::pem)));
    auto r = t::run("openssl verify -CAfile " + (dir / "ca.pem").string() + " " +
                    (dir / "leaf.pem").string());
    BOOST_TEST(r.exit_code == 0, r.output);
    // The extensions, built from their structures: usages, criticality, key identifiers.
    auto critical = [](X509* x, int nid) {
        int i = X509_get_ext_by_NID(x, nid, -1);
        return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
    };
    BOOST_TEST(X509_get_key_usage(ca.get()) ==
               (KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    BOOST_TEST(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
    BOOST_TEST(X509_get_extended_key_usage(leaf.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
    BOOST_TEST(X509_get_ext_by_NID(ca.get(), NID_ext_key_usage, -1) < 0);
    for (X509* x : {ca.get(), leaf.get()}) {
        BOOST_TEST(critical(x, NID_basic_constraints));
        BOOST_TEST(critical(x, NID_key_usage));
        BOOST_TEST(!critical(x, NID_subject_alt_name));
    }
    BOOST_TEST(!c.describe(leaf).is_ca);
    const ASN1_OCTET_STRING* ca_ski = X509_get0_subject_key_id(ca.get());
    const ASN1_OCTET_STRING* leaf_aki = X509_get0_authority_key_id(leaf.get());
    BOOST_REQUIRE(ca_ski && leaf_aki);
    BOOST_TEST(ASN1_STRING_length(ca_ski) == 20);
    BOOST_TEST(ASN1_STRING_cmp(ca_ski, leaf_aki) == 0);
    auto rsa_key = c.generate_key(key_type::rsa2048);
    auto rsa_pub = backend::public_of(rsa_key);
    auto rsa_leaf = c.issue(ca, ca_key, rsa_pub, p, now, now + 24h);
    BOOST_TEST(X509_get_key_usage(rsa_leaf.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
    // openssl reads them as the configuration strings used to write them.
    t::write_text(dir / "rsa.pem", as_text(c.encode(rsa_leaf, encoding::pem)));
    auto text = t::run("openssl x509 -in " + (dir / "rsa.pem").string() + " -noout -text");
    BOOST_TEST(text.output.find("X509v3 Key Usage: critical\n                Digital Signature, "
                                "Key Encipherment") != std::string::npos,
               text.output);
    BOOST_TEST(text.output.find("TLS Web Server Authentication, TLS Web Client Authentication") !=
                   std::string::npos,
               text.output);
    // A leaf cannot issue.
    BOOST_TEST(code_of([&] { c.issue(leaf, leaf_key, pub, p, now, now + 24h); }) == errc::not_a_ca);
}

BOOST_AUTO_TEST_CASE(parses_pem_with_crlf_bom_and_text_around_the_blocks) {
    backend c;
    auto k = c.generate_key(key_type::ec_p256);
    auto cert = make_cert(c, k);
    std::string pem(as_text(c.encode(cert, encoding::pem)));
    std::string crlf;
    for (char ch : pem) {
        if (ch == '\n')
            crlf += "\r\n";
        else
            crlf += ch;
    }
    std::string messy = "\xEF\xBB\xBF"
                        "Bag Attributes\r\n    localKeyID: 01 02\r\nsubject=/CN=unit.test\r\n" +
                        crlf;
    auto certs = c.parse_certificates(t::as_bytes(messy), "messy.pem");
    BOOST_REQUIRE(certs.size() == 1u);
    BOOST_TEST(c.fingerprint(certs[0]) == c.fingerprint(cert));
    // Cert and key in one PEM file: each parser finds its block.
    std::string both = pem + std::string(as_text(c.encode(k, encoding::pem)));
    BOOST_TEST(c.matches(c.parse_certificates(t::as_bytes(both), "both")[0],
                         c.parse_private_key(t::as_bytes(both), nullptr, "both")));
}

BOOST_AUTO_TEST_CASE(refuses_empty_garbage_truncated_and_oversized_input_naming_the_file) {
    backend c;
    auto pem = std::string(
        as_text(c.encode(make_cert(c, c.generate_key(key_type::ec_p256)), encoding::pem)));
    std::string truncated = pem.substr(0, pem.size() / 2);
    std::string garbage = "this is not a certificate\n";
    std::string big(crypto::max_input_size + 1, 'A');
    BOOST_TEST(code_of([&] { c.parse_certificates({}, "empty.crt"); }) == errc::parse_failed);
    BOOST_TEST(code_of([&] { c.parse_certificates(t::as_bytes(garbage), "g.crt"); }) ==
               errc::parse_failed);
    BOOST_TEST(code_of([&] { c.parse_certificates(t::as_bytes(truncated), "t.crt"); }) ==
               errc::parse_failed);
    BOOST_TEST(code_of([&] { c.parse_certificates(t::as_bytes(big), "big.crt"); }) ==
               errc::too_large);
    BOOST_TEST(code_of([&] { c.parse_private_key(t::as_bytes(garbage), nullptr, "g.key"); }) ==
               errc::parse_failed);
    try {
        c.parse_certificates(t::as_bytes(truncated), "Certificates/x.crt");
        BOOST_FAIL("accepted a truncated certificate");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find("Certificates/x.crt: load certificate: ") == 0u,
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(tells_a_password_protected_key_from_a_wrong_password) {
    t::temp_dir dir;
    auto d = dir.path().string();
    auto r =
        t::run("cd " + d +
               " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out plain.key"
               " && openssl pkey -in plain.key -aes256 -passout pass:secret -out pkcs8enc.key"
               " && openssl ec -in plain.key -aes256 -passout pass:secret -out legacy.key"
               " && openssl pkcs8 -topk8 -in plain.key -v2 aes-256-cbc -passout pass:secret "
               "-outform DER -out pkcs8enc.der");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    backend c;
    auto pw = to_secret("secret");
    auto bad = to_secret("wrong");
    auto plain =
        c.parse_private_key(t::as_bytes(t::read_text(dir / "plain.key")), nullptr, "plain.key");
    for (auto f : {"pkcs8enc.key", "legacy.key", "pkcs8enc.der"}) {
        BOOST_TEST_CONTEXT(f) {
            auto data = t::read_text(dir / f);
            BOOST_TEST(code_of([&] { c.parse_private_key(t::as_bytes(data), nullptr, f); }) ==
                       errc::key_encrypted);
            BOOST_TEST(code_of([&] { c.parse_private_key(t::as_bytes(data), &bad, f); }) ==
                       errc::wrong_password);
            auto k = c.parse_private_key(t::as_bytes(data), &pw, f);
            BOOST_TEST(EVP_PKEY_cmp(k.get(), plain.get()) == 1);
        }
    }
    // Legacy PEM encryption has no integrity check: about one wrong password in 256 passes the
    // padding check and decrypts to garbage. Every one of 2000 wrong passwords must still say
    // "wrong password" (before the fix one of them said parse_failed: a flaky CI run).
    {
        auto data = t::read_text(dir / "legacy.key");
        int other = 0;
        for (int i = 0; i < 2000; ++i) {
            auto wrong = to_secret("wrong-" + std::to_string(i));
            if (code_of([&] { c.parse_private_key(t::as_bytes(data), &wrong, "legacy.key"); }) !=
                errc::wrong_password)
                ++other;
        }
        BOOST_TEST(other == 0);
    }
}

BOOST_AUTO_TEST_CASE(refuses_keys_a_tls_server_cannot_use) {
    t::temp_dir dir;
    auto d = dir.path().string();
    auto r = t::run("cd " + d +
                    " && openssl genrsa -out rsa1024.key 1024 2>/dev/null"
                    " && openssl dsaparam -genkey -out dsa.key 1024 2>/dev/null"
                    " && openssl genpkey -algorithm X25519 -out x25519.key");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    backend c;
    for (auto f : {"rsa1024.key", "dsa.key", "x25519.key"}) {
        auto data = t::read_text(dir / f);
        BOOST_TEST(code_of([&] { c.parse_private_key(t::as_bytes(data), nullptr, f); }) ==
                       errc::unsupported_key,
                   f);
    }
}

BOOST_AUTO_TEST_CASE(reads_pkcs1_and_sec1_keys_from_openssl) {
    t::temp_dir dir;
    auto d = dir.path().string();
    auto r = t::run("cd " + d +
                    " && openssl genrsa -traditional -out rsa.key 2048 2>/dev/null"
                    " && openssl ecparam -name prime256v1 -genkey -noout -out ec.key"
                    " && openssl rsa -in rsa.key -outform DER -traditional -out rsa.der 2>/dev/null"
                    " && openssl ec -in ec.key -outform DER -out ec.der 2>/dev/null");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    backend c;
    BOOST_TEST(t::read_text(dir / "rsa.key").find("BEGIN RSA PRIVATE KEY") != std::string::npos);
    BOOST_TEST(t::read_text(dir / "ec.key").find("BEGIN EC PRIVATE KEY") != std::string::npos);
    for (auto f : {"rsa.key", "ec.key", "rsa.der", "ec.der"}) {
        auto data = t::read_text(dir / f);
        auto k = c.parse_private_key(t::as_bytes(data), nullptr, f);
        BOOST_TEST(static_cast<bool>(k), f);
    }
}

BOOST_AUTO_TEST_CASE(a_name_with_commas_is_refused_not_spliced_into_more_names) {
    backend c;
    auto k = c.generate_key(key_type::ec_p256);
    backend::profile p;
    p.common_name = "a.example";
    p.client_auth = true;
    p.dns_names = {"a.example,URI:spiffe://corp/admin,IP:10.0.0.1"};
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    try {
        auto cert = c.self_sign(k, p, now, now + 24h);
        BOOST_ERROR("signed a certificate with SANs " + [&] {
            std::string all;
            for (auto& e : t::san_entries(cert.get()))
                all += (all.empty() ? "" : ", ") + e;
            return all;
        }());
    } catch (const error& e) {
        BOOST_TEST(static_cast<int>(e.fcs_code()) == static_cast<int>(errc::invalid_argument),
                   e.what());
        BOOST_TEST(e.cause().find("a.example,URI:spiffe://corp/admin,IP:10.0.0.1") !=
                       std::string::npos,
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(subject_alt_names_hold_exactly_the_names_and_address_octets_given) {
    backend c;
    auto k = c.generate_key(key_type::ec_p256);
    backend::profile p;
    p.common_name = "a.example";
    p.dns_names = {"a.example", "*.b-2.example", "XN--BCHER-KVA.example"};
    p.ip_addresses = {"10.0.0.1", "2001:db8::1", "::ffff:192.0.2.7"};
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto cert = c.self_sign(k, p, now, now + 24h);
    auto got = t::san_entries(cert.get());
    std::vector<std::string> want = {"DNS:a.example",
                                     "DNS:*.b-2.example",
                                     "DNS:XN--BCHER-KVA.example",
                                     "IP:0a000001",
                                     "IP:20010db8000000000000000000000001",
                                     "IP:00000000000000000000ffffc0000207"};
    BOOST_TEST(got == want, boost::test_tools::per_element());
    // describe() shows them the way an operator reads them.
    auto info = c.describe(cert);
    BOOST_TEST((info.sans == std::vector<std::string>{"DNS:a.example", "DNS:*.b-2.example",
                                                      "DNS:XN--BCHER-KVA.example", "IP:10.0.0.1",
                                                      "IP:2001:db8::1", "IP:::ffff:192.0.2.7"}),
               boost::test_tools::per_element());
    // No names: no subjectAltName extension at all.
    p.dns_names.clear();
    p.ip_addresses.clear();
    auto bare = c.self_sign(k, p, now, now + 24h);
    BOOST_TEST(X509_get_ext_by_NID(bare.get(), NID_subject_alt_name, -1) < 0);
}

BOOST_AUTO_TEST_CASE(refuses_host_names_and_addresses_that_are_not_valid_syntax) {
    backend c;
    auto k = c.generate_key(key_type::ec_p256);
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const std::string label63(63, 'a');
    const std::string long_name = label63 + "." + label63 + "." + label63 + "." + label63; // 255
    for (std::string bad : {std::string(""),
                            std::string("-a.example"),
                            std::string("a-.example"),
                            std::string("a..example"),
                            std::string(".a.example"),
                            std::string("a.example."),
                            std::string("a*.example"),
                            std::string("*.*.example"),
                            std::string("a.*.example"),
                            std::string("*"),
                            std::string("*."),
                            std::string("a_b.example"),
                            std::string("a b.example"),
                            std::string("a.example\n"),
                            std::string("a.example\0x", 11),
                            std::string("b\xc3\xbc"
                                        "cher.example"),
                            std::string("10.0.0.1"),
                            std::string("a.123"),
                            label63 + "a.example",
                            long_name,
                            std::string("a.example/x"),
                            std::string("DNS:a.example")}) {
        backend::profile p;
        p.common_name = "x";
        p.dns_names = {"ok.example", bad};
        BOOST_TEST_CONTEXT("DNS name \"" << bad << "\"") {
            BOOST_TEST(code_of([&] { c.self_sign(k, p, now, now + 24h); }) ==
                       errc::invalid_argument);
        }
    }
    for (std::string bad :
         {"", "10.0.0.256", "10.0.0", "10.0.0.1/24", "fe80::1%eth0", " 10.0.0.1", "10.0.0.1 ",
          "010.0.0.1", "a.example", "1::2::3", "10.0.0.1,IP:1.2.3.4"}) {
        backend::profile p;
        p.common_name = "x";
        p.ip_addresses = {"10.0.0.2", bad};
        BOOST_TEST_CONTEXT("IP address \"" << bad << "\"") {
            BOOST_TEST(code_of([&] { c.self_sign(k, p, now, now + 24h); }) ==
                       errc::invalid_argument);
        }
    }
    // The longest allowed: 63-character labels, 253 characters in all.
    backend::profile p;
    p.common_name = "x";
    p.dns_names = {label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b')};
    BOOST_TEST(p.dns_names[0].size() == 253u);
    BOOST_TEST(t::san_entries(c.self_sign(k, p, now, now + 24h).get()).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
