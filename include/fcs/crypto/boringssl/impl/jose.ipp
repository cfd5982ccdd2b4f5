#ifndef FCS_CRYPTO_BORINGSSL_IMPL_JOSE_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_JOSE_IPP

// The bodies of fcs/crypto/boringssl/jose.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/build.hpp>
#include <fcs/crypto/boringssl/jose.hpp>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace fcs::crypto {

FCS_DECL sha256_value sha256(std::span<const std::uint8_t> in) {
    sha256_value d{};
    SHA256(in.data(), in.size(), d.data());
    return d;
}

FCS_DECL bool is_ec_p256(const boringssl_detail::private_key& key) {
    const EC_KEY* ec = key ? EVP_PKEY_get0_EC_KEY(key.get()) : nullptr;
    return ec && EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) == NID_X9_62_prime256v1;
}

FCS_DECL std::pair<p256_scalar, p256_scalar>
ec_p256_public_point(const boringssl_detail::private_key& key) {
    if (!is_ec_p256(key))
        throw error(errc::crypto_failed, "", "read a P-256 public key", "the key is not P-256");
    const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key.get());
    bssl::UniquePtr<BIGNUM> x(BN_new()), y(BN_new());
    p256_scalar xb{}, yb{};
    if (!x || !y ||
        !EC_POINT_get_affine_coordinates_GFp(EC_KEY_get0_group(ec), EC_KEY_get0_public_key(ec),
                                             x.get(), y.get(), nullptr) ||
        !BN_bn2bin_padded(xb.data(), xb.size(), x.get()) ||
        !BN_bn2bin_padded(yb.data(), yb.size(), y.get())) {
        ERR_clear_error();
        throw error(errc::crypto_failed, "", "read a P-256 public key",
                    "reading the public point failed");
    }
    return {xb, yb};
}

FCS_DECL std::array<std::uint8_t, 64> es256_sign(const boringssl_detail::private_key& key,
                                                 std::span<const std::uint8_t> input) {
    if (!is_ec_p256(key))
        throw error(errc::crypto_failed, "", "sign (ES256)", "the key is not P-256");
    auto digest = sha256(input);
    bssl::UniquePtr<ECDSA_SIG> sig(
        ECDSA_do_sign(digest.data(), digest.size(), EVP_PKEY_get0_EC_KEY(key.get())));
    std::array<std::uint8_t, 64> raw{};
    const BIGNUM *r = nullptr, *s = nullptr;
    if (sig)
        ECDSA_SIG_get0(sig.get(), &r, &s);
    if (!sig || !BN_bn2bin_padded(raw.data(), 32, r) || !BN_bn2bin_padded(raw.data() + 32, 32, s))
        throw error(errc::crypto_failed, "", "sign (ES256)",
                    with_ssl_error("ECDSA signing failed"));
    return raw;
}

FCS_DECL bool es256_verify(const boringssl_detail::public_key& key,
                           std::span<const std::uint8_t> input,
                           std::span<const std::uint8_t> signature) {
    const EC_KEY* ec = key ? EVP_PKEY_get0_EC_KEY(key.get()) : nullptr;
    if (!ec || signature.size() != 64 ||
        EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) != NID_X9_62_prime256v1)
        return false;
    bssl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
    bssl::UniquePtr<BIGNUM> r(BN_bin2bn(signature.data(), 32, nullptr));
    bssl::UniquePtr<BIGNUM> s(BN_bin2bn(signature.data() + 32, 32, nullptr));
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r.get(), s.get())) {
        ERR_clear_error();
        return false;
    }
    (void)r.release();
    (void)s.release();
    auto digest = sha256(input);
    const bool ok = ECDSA_do_verify(digest.data(), digest.size(), sig.get(), ec) == 1;
    ERR_clear_error();
    return ok;
}

FCS_DECL std::vector<std::uint8_t> make_certificate_request(const boringssl_detail::private_key& key,
                                                            const certificate_profile& p) {
    auto names = boringssl_detail::alt_names_of(p);
    auto fail = [](const char* why) {
        throw error(errc::crypto_failed, "", "make the certificate request", with_ssl_error(why));
    };
    if (!names)
        throw error(errc::invalid_argument, "", "make the certificate request",
                    "a request needs at least one DNS name or IP address");
    bssl::UniquePtr<X509_REQ> req(X509_REQ_new());
    if (!req || !X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) ||
        !X509_REQ_set_pubkey(req.get(), key.get()))
        fail("creating the request failed");
    if (!p.dns_names.empty() &&
        !X509_NAME_add_entry_by_txt(
            X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(p.dns_names.front().data()),
            static_cast<int>(p.dns_names.front().size()), -1, 0))
        fail("setting the common name failed");
    bssl::UniquePtr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
    bssl::UniquePtr<X509_EXTENSION> san(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
    if (!exts || !san || !bssl::PushToStack(exts.get(), std::move(san)) ||
        !X509_REQ_add_extensions(req.get(), exts.get()) ||
        !X509_REQ_sign(req.get(), key.get(), EVP_sha256()))
        fail("signing the request failed");
    std::uint8_t* der = nullptr;
    int len = i2d_X509_REQ(req.get(), &der);
    if (len <= 0)
        fail("encoding the request failed");
    bssl::UniquePtr<std::uint8_t> owner(der);
    return {der, der + len};
}

FCS_DECL boringssl_detail::certificate
acme_challenge_certificate(const boringssl_detail::private_key& key, const certificate_profile& p,
                           time_point not_before, time_point not_after,
                           const sha256_value& key_authorization_digest) {
    auto pub = boringssl_detail::public_of(key);
    auto cert = boringssl_detail::sign(nullptr, key, pub.get(), p, not_before, not_after);
    // extnValue = DER OCTET STRING (04 20 <digest>), carried in the extension's OCTET STRING.
    std::uint8_t der[34] = {0x04, 0x20};
    std::copy(key_authorization_digest.begin(), key_authorization_digest.end(), der + 2);
    bssl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", /*dont_search_names=*/1));
    bssl::UniquePtr<ASN1_OCTET_STRING> value(ASN1_OCTET_STRING_new());
    bssl::UniquePtr<X509_EXTENSION> ext(
        oid && value && ASN1_OCTET_STRING_set(value.get(), der, sizeof der)
            ? X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/1, value.get())
            : nullptr);
    // The certificate was made here and is not shared yet: extend it and sign it again.
    if (!ext || !X509_add_ext(cert.get(), ext.get(), -1) ||
        !X509_sign(cert.get(), key.get(), EVP_sha256()))
        throw error(errc::crypto_failed, "", "make the tls-alpn-01 certificate",
                    with_ssl_error("adding the acmeIdentifier extension failed"));
    return cert;
}

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_IMPL_JOSE_IPP
