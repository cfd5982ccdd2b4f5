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
    auto leaf = c.issue(ca, ca_key, pub.get(), p, now, now + 24h);
    t::write_text(dir / "ca.pem", as_text(c.encode(ca, encoding::pem)));
    t::write_text(dir / "leaf.pem", as_text(c.encode(leaf, encoding::pem)));
    auto r = t::run("openssl verify -CAfile " + (dir / "ca.pem").string() + " " +
                    (dir / "leaf.pem").string());
    BOOST_TEST(r.exit_code == 0, r.output);
    // A leaf cannot issue.
    BOOST_TEST(code_of([&] { c.issue(leaf, leaf_key, pub.get(), p, now, now + 24h); }) ==
               errc::not_a_ca);
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

BOOST_AUTO_TEST_SUITE_END()
