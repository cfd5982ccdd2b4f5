// fcs/acme/jws.hpp: base64url, the ES256 account key, its JWK and RFC 7638 thumbprint, the
// flattened JWS (signature verified here with BoringSSL's ECDSA_do_verify), the External
// Account Binding (HMAC recomputed here) and key authorizations. Included first: the header
// is self-contained.
#include <fcs/acme/jws.hpp>

#include <boost/test/unit_test.hpp>

#include <openssl/base64.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using fcs::acme::account_key;
using fcs::acme::base64url;
using fcs::acme::base64url_decode;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// base64url made here from BoringSSL's standard base64 (not the library's encoder).
std::string reference_base64url(std::span<const std::uint8_t> in) {
    std::size_t len = 0;
    BOOST_REQUIRE(EVP_EncodedLength(&len, in.size()));
    std::string out(len, '\0');
    std::size_t n = EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out.data()), in.data(),
                                    in.size());
    out.resize(n);
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    for (auto& c : out)
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::string decode_text(std::string_view b64) {
    fcs::secret_bytes out;
    BOOST_REQUIRE_MESSAGE(base64url_decode(b64, out), "not base64url: " << b64);
    return std::string(fcs::as_text(out));
}

/// Verifies a raw r||s ES256 signature over `input` with `key`'s public point.
bool es256_verifies(const account_key& key, std::string_view input, std::string_view sig_b64) {
    fcs::secret_bytes raw;
    if (!base64url_decode(sig_b64, raw) || raw.size() != 64)
        return false;
    bssl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r, s)) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    std::uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), digest);
    const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key.key().get());
    return ec && ECDSA_do_verify(digest, sizeof digest, sig.get(), ec) == 1;
}

fcs::secret_bytes pem_of(fcs::key_type t) {
    fcs::crypto::boringssl b;
    return b.encode(b.generate_key(t), fcs::encoding::pem);
}

} // namespace

BOOST_AUTO_TEST_SUITE(acme_jws)

BOOST_AUTO_TEST_CASE(base64url_matches_the_rfc4648_vectors_without_padding) {
    // RFC 4648 section 10, padding removed (RFC 7515 section 2).
    BOOST_TEST(base64url(std::string_view("")) == "");
    BOOST_TEST(base64url(std::string_view("f")) == "Zg");
    BOOST_TEST(base64url(std::string_view("fo")) == "Zm8");
    BOOST_TEST(base64url(std::string_view("foo")) == "Zm9v");
    BOOST_TEST(base64url(std::string_view("foob")) == "Zm9vYg");
    BOOST_TEST(base64url(std::string_view("fooba")) == "Zm9vYmE");
    BOOST_TEST(base64url(std::string_view("foobar")) == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(base64url_uses_minus_and_underscore) {
    // Standard base64 of these is "+/8=" and "///+": the URL alphabet says '-' and '_'.
    const std::uint8_t a[] = {0xfb, 0xff};
    const std::uint8_t b[] = {0xff, 0xff, 0xfe};
    BOOST_TEST(base64url(std::span<const std::uint8_t>(a)) == "-_8");
    BOOST_TEST(base64url(std::span<const std::uint8_t>(b)) == "___-");
}

BOOST_AUTO_TEST_CASE(base64url_agrees_with_boringssl_base64_and_decodes_back) {
    std::vector<std::uint8_t> in;
    for (int n = 0; n < 70; ++n) {
        const std::string enc = base64url(std::span<const std::uint8_t>(in));
        BOOST_TEST(enc == reference_base64url(in));
        BOOST_TEST(enc.find('=') == std::string::npos);
        fcs::secret_bytes back;
        BOOST_TEST(base64url_decode(enc, back));
        BOOST_TEST(std::vector<std::uint8_t>(back.begin(), back.end()) == in);
        in.push_back(static_cast<std::uint8_t>(n * 37 + 200)); // every byte value region
    }
}

BOOST_AUTO_TEST_CASE(base64url_decode_tolerates_padding_and_refuses_anything_else) {
    BOOST_TEST(decode_text("Zg==") == "f");
    BOOST_TEST(decode_text("Zm8=") == "fo");
    BOOST_TEST(decode_text("") == "");
    fcs::secret_bytes out{'k', 'e', 'p', 't'};
    BOOST_TEST(!base64url_decode("Zm9v+A", out)); // standard alphabet
    BOOST_TEST(!base64url_decode("Zm9v/A", out));
    BOOST_TEST(!base64url_decode("Zm 9v", out)); // white space inside
    BOOST_TEST(!base64url_decode("Zg=a", out));  // padding inside
    BOOST_TEST(!base64url_decode("Zm9vY", out)); // 4n+1 characters: impossible length
    BOOST_TEST(!base64url_decode("Zm9v\n", out));
    // A refusal leaves the output as it was.
    BOOST_TEST(std::string(fcs::as_text(out)) == "kept");
}

BOOST_AUTO_TEST_CASE(jwk_holds_the_32_byte_coordinates_of_the_public_point) {
    auto key = account_key::generate();
    auto jwk = key.jwk();
    BOOST_TEST(jwk.size() == 4u);
    BOOST_TEST(jwk.at("kty").get<std::string>() == "EC");
    BOOST_TEST(jwk.at("crv").get<std::string>() == "P-256");
    const std::string x = decode_text(jwk.at("x").get<std::string>());
    const std::string y = decode_text(jwk.at("y").get<std::string>());
    BOOST_TEST(x.size() == 32u);
    BOOST_TEST(y.size() == 32u);

    // The uncompressed point 04 || X || Y, straight from BoringSSL.
    const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key.key().get());
    BOOST_REQUIRE(ec);
    std::uint8_t point[65];
    BOOST_REQUIRE(EC_POINT_point2oct(EC_KEY_get0_group(ec), EC_KEY_get0_public_key(ec),
                                     POINT_CONVERSION_UNCOMPRESSED, point, sizeof point,
                                     nullptr) == sizeof point);
    BOOST_TEST(x == std::string(reinterpret_cast<const char*>(point + 1), 32));
    BOOST_TEST(y == std::string(reinterpret_cast<const char*>(point + 33), 32));

    // Another key, another point.
    BOOST_TEST(account_key::generate().jwk() != jwk);
}

BOOST_AUTO_TEST_CASE(thumbprint_is_the_sha256_of_the_canonical_jwk) {
    auto key = account_key::generate();
    auto jwk = key.jwk();
    // RFC 7638 3.2: the required members in lexicographic order, no white space.
    const std::string canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" +
                                  jwk.at("x").get<std::string>() + "\",\"y\":\"" +
                                  jwk.at("y").get<std::string>() + "\"}";
    std::uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const std::uint8_t*>(canonical.data()), canonical.size(), digest);
    BOOST_TEST(key.thumbprint() == reference_base64url(digest));
    BOOST_TEST(key.thumbprint().size() == 43u);
    BOOST_TEST(account_key::generate().thumbprint() != key.thumbprint());
}

BOOST_AUTO_TEST_CASE(key_authorization_is_token_dot_thumbprint) {
    auto key = account_key::generate();
    BOOST_TEST(fcs::acme::key_authorization("tok-EN_1", key) == "tok-EN_1." + key.thumbprint());
}

BOOST_AUTO_TEST_CASE(sign_jws_is_a_flattened_jws_whose_es256_signature_verifies) {
    auto key = account_key::generate();
    const nlohmann::json prot = {{"alg", "ES256"},
                                 {"jwk", key.jwk()},
                                 {"nonce", "abc-123"},
                                 {"url", "https://ca.example:14000/sign-me"}};
    const std::string payload = R"({"termsOfServiceAgreed":true})";
    auto jws = nlohmann::json::parse(fcs::acme::sign_jws(key, prot, payload));
    BOOST_TEST(jws.size() == 3u);
    const std::string p = jws.at("protected").get<std::string>();
    const std::string b = jws.at("payload").get<std::string>();
    const std::string s = jws.at("signature").get<std::string>();
    BOOST_TEST(nlohmann::json::parse(decode_text(p)) == prot);
    BOOST_TEST(decode_text(b) == payload);
    fcs::secret_bytes raw;
    BOOST_REQUIRE(base64url_decode(s, raw));
    BOOST_TEST(raw.size() == 64u); // r||s, not DER
    BOOST_TEST(es256_verifies(key, p + "." + b, s));
    // The signature covers the protected header and the payload: a change breaks it, and so
    // does another key.
    BOOST_TEST(!es256_verifies(key, p + "." + base64url(std::string_view("{}")), s));
    BOOST_TEST(!es256_verifies(account_key::generate(), p + "." + b, s));
}

BOOST_AUTO_TEST_CASE(post_as_get_signs_the_empty_payload) {
    auto key = account_key::generate();
    const nlohmann::json prot = {{"alg", "ES256"},
                                 {"kid", "https://ca.example/acct/1"},
                                 {"nonce", "n"},
                                 {"url", "https://ca.example/order/7"}};
    auto jws = nlohmann::json::parse(fcs::acme::sign_jws(key, prot, ""));
    BOOST_TEST(jws.at("payload").get<std::string>() == "");
    const std::string p = jws.at("protected").get<std::string>();
    BOOST_TEST(es256_verifies(key, p + ".", jws.at("signature").get<std::string>()));
}

BOOST_AUTO_TEST_CASE(external_account_binding_is_hs256_over_the_account_jwk) {
    auto key = account_key::generate();
    std::vector<std::uint8_t> hmac_key;
    for (int i = 0; i < 32; ++i)
        hmac_key.push_back(static_cast<std::uint8_t>(i * 7 + 1));
    const std::string url = "https://ca.example/new-acct";
    auto eab = fcs::acme::external_account_binding("kid-1", hmac_key, key, url);
    BOOST_TEST(eab.size() == 3u);
    const std::string p = eab.at("protected").get<std::string>();
    const std::string b = eab.at("payload").get<std::string>();
    const nlohmann::json prot = nlohmann::json::parse(decode_text(p));
    BOOST_TEST(prot == (nlohmann::json{{"alg", "HS256"}, {"kid", "kid-1"}, {"url", url}}));
    BOOST_TEST(nlohmann::json::parse(decode_text(b)) == key.jwk());

    const std::string input = p + "." + b;
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    BOOST_REQUIRE(HMAC(EVP_sha256(), hmac_key.data(), hmac_key.size(),
                       reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), mac,
                       &mac_len));
    BOOST_REQUIRE(mac_len == 32u);
    BOOST_TEST(eab.at("signature").get<std::string>() ==
               reference_base64url(std::span<const std::uint8_t>(mac, mac_len)));

    // Another HMAC key gives another MAC.
    hmac_key[0] ^= 1;
    BOOST_TEST(fcs::acme::external_account_binding("kid-1", hmac_key, key, url)
                   .at("signature")
                   .get<std::string>() != eab.at("signature").get<std::string>());
}

BOOST_AUTO_TEST_CASE(to_pem_and_from_pem_round_trip) {
    auto key = account_key::generate();
    auto pem = key.to_pem();
    BOOST_TEST(std::string(fcs::as_text(pem)).starts_with("-----BEGIN PRIVATE KEY-----"));
    auto back = account_key::from_pem(pem, "Keys/acme-account.key");
    BOOST_TEST(back.thumbprint() == key.thumbprint());
    BOOST_TEST(back.jwk() == key.jwk());
    // The key read back signs for the same public key.
    const nlohmann::json prot = {{"alg", "ES256"}, {"url", "https://x.example/"}};
    auto jws = nlohmann::json::parse(fcs::acme::sign_jws(back, prot, "{}"));
    BOOST_TEST(es256_verifies(key,
                              jws.at("protected").get<std::string>() + "." +
                                  jws.at("payload").get<std::string>(),
                              jws.at("signature").get<std::string>()));
}

BOOST_AUTO_TEST_CASE(from_pem_refuses_keys_other_than_p256) {
    for (auto t : {fcs::key_type::ec_p384, fcs::key_type::rsa2048, fcs::key_type::ed25519}) {
        auto pem = pem_of(t);
        try {
            (void)account_key::from_pem(pem, "Keys/acme-account.key");
            BOOST_ERROR("a key that is not P-256 was accepted: " << static_cast<int>(t));
        } catch (const fcs::error& e) {
            BOOST_TEST(e.fcs_code() == fcs::errc::unsupported_key);
            BOOST_TEST(e.file() == "Keys/acme-account.key");
        }
    }
    const std::string garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    BOOST_CHECK_THROW((void)account_key::from_pem(bytes_of(garbage), "Keys/acme-account.key"),
                      fcs::error);
}

BOOST_AUTO_TEST_SUITE_END()
