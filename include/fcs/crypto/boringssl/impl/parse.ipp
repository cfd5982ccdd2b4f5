#ifndef FCS_CRYPTO_BORINGSSL_IMPL_PARSE_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_PARSE_IPP

// The bodies of fcs/crypto/boringssl/parse.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/parse.hpp>

namespace fcs::crypto::boringssl_detail {

FCS_DECL bool looks_like_pkcs12(std::span<const std::uint8_t> in) {
    CBS cbs, pfx, version_cbs;
    CBS_init(&cbs, in.data(), in.size());
    std::uint64_t version = 0;
    if (!CBS_get_asn1(&cbs, &pfx, CBS_ASN1_SEQUENCE))
        return false;
    if (!CBS_get_asn1(&pfx, &version_cbs, CBS_ASN1_INTEGER) || CBS_len(&version_cbs) != 1)
        return false;
    version = CBS_data(&version_cbs)[0];
    return version == 3 && CBS_peek_asn1_tag(&pfx, CBS_ASN1_SEQUENCE);
}

FCS_DECL bool starts_like_pkcs12(std::span<const std::uint8_t> in) {
    // 30 82 LL LL 02 01 03 (or a short/long form length of 1..4 bytes)
    if (in.size() < 5 || in[0] != 0x30)
        return false;
    std::size_t i = 1;
    if (in[1] & 0x80)
        i += 1 + (in[1] & 0x7f);
    else
        i += 1;
    return in.size() >= i + 3 && in[i] == 0x02 && in[i + 1] == 0x01 && in[i + 2] == 0x03;
}

FCS_DECL std::vector<certificate> parse_certificates(std::span<const std::uint8_t> in,
                                                     std::string_view where) {
    check_size(in, where);
    std::vector<certificate> out;
    if (detail::looks_like_pem(in)) {
        auto blocks = detail::pem_blocks(in);
        if (!blocks)
            fail_parse(where, "load certificate", "malformed or truncated PEM");
        for (auto& b : *blocks) {
            if (b.label != "CERTIFICATE" && b.label != "X509 CERTIFICATE" &&
                b.label != "TRUSTED CERTIFICATE")
                continue;
            auto c = der_to_x509(b.der);
            if (!c)
                fail_parse(where, "load certificate", "a CERTIFICATE block is not valid X.509");
            out.emplace_back(std::move(c));
        }
    } else if (auto c = der_to_x509(in)) {
        out.emplace_back(std::move(c));
    }
    ERR_clear_error();
    if (out.empty())
        fail_parse(where, "load certificate",
                   in.empty() ? "the file is empty"
                              : "no certificate found (not PEM or DER X.509)");
    return out;
}

FCS_DECL private_key parse_private_key(std::span<const std::uint8_t> in,
                                       const secret_bytes* password, std::string_view where) {
    check_size(in, where);
    std::optional<private_key> key;
    if (detail::looks_like_pem(in)) {
        auto blocks = detail::pem_blocks(in);
        if (!blocks)
            fail_parse(where, "load key", "malformed or truncated PEM");
        for (auto& b : *blocks) {
            if (b.label.find("PRIVATE KEY") == std::string::npos)
                continue;
            key = parse_pem_key(b, password, where);
            break;
        }
        if (!key)
            fail_parse(where, "load key",
                       in.empty() ? "the file is empty" : "no private key found");
    } else {
        key = parse_der_key(in, password, where);
    }
    check_usable(*key, where);
    return std::move(*key);
}

FCS_DECL bundle parse_pkcs12(std::span<const std::uint8_t> in, const secret_bytes* password,
                             std::string_view where) {
    check_size(in, where);
    ERR_clear_error();
    std::string pw = password ? std::string(as_text(*password)) : std::string();
    EVP_PKEY* raw_key = nullptr;
    bssl::UniquePtr<STACK_OF(X509)> certs(sk_X509_new_null());
    CBS cbs;
    CBS_init(&cbs, in.data(), in.size());
    int ok = PKCS12_get_key_and_certs(&raw_key, certs.get(), &cbs, pw.c_str());
    OPENSSL_cleanse(pw.data(), pw.size());
    if (!ok) {
        // The first error is the cause; later ones only say which layer gave up.
        auto reasons = drain_pkcs8_reasons();
        auto has = [&](int r) {
            return std::find(reasons.begin(), reasons.end(), r) != reasons.end();
        };
        if (has(PKCS8_R_INCORRECT_PASSWORD))
            throw error(password ? errc::wrong_password : errc::key_encrypted, std::string(where),
                        "load PKCS#12",
                        password ? "wrong password for the PKCS#12 bundle"
                                 : "the PKCS#12 bundle is password-protected; give its password");
        if (auto why = unsupported_encryption(in, reasons))
            throw error(errc::unsupported_cipher, std::string(where), "load PKCS#12",
                        *why + "; re-export the bundle with AES-256 (openssl pkcs12 -export "
                               "-keypbe AES-256-CBC -certpbe AES-256-CBC) or 3DES");
        fail_parse(where, "load PKCS#12",
                   looks_like_pkcs12(in) ? "a corrupt PKCS#12 bundle"
                                         : "not a PKCS#12 bundle, or a truncated one");
    }
    bundle b;
    b.key = private_key(bssl::UniquePtr<EVP_PKEY>(raw_key));
    for (std::size_t i = 0; i < sk_X509_num(certs.get()); ++i) {
        X509* x = sk_X509_value(certs.get(), i);
        X509_up_ref(x);
        b.chain.emplace_back(bssl::UniquePtr<X509>(x));
    }
    if (!b.key)
        fail_parse(where, "load PKCS#12", "the bundle holds no private key");
    if (b.chain.empty())
        fail_parse(where, "load PKCS#12", "the bundle holds no certificate");
    check_usable(b.key, where);
    return b;
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_PARSE_IPP
