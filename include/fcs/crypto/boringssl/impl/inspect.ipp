#ifndef FCS_CRYPTO_BORINGSSL_IMPL_INSPECT_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_INSPECT_IPP

// The bodies of fcs/crypto/boringssl/inspect.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/inspect.hpp>

namespace fcs::crypto::boringssl_detail {

FCS_DECL std::string name_text(const X509_NAME* n) {
    bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (X509_NAME_print_ex(bio.get(), n, 0, XN_FLAG_RFC2253) < 0)
        return {};
    const std::uint8_t* data = nullptr;
    std::size_t len = 0;
    BIO_mem_contents(bio.get(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
}

FCS_DECL std::string other_name_text(const GENERAL_NAME* gn, bool quoted) {
    auto text = [quoted](const ASN1_STRING* s) {
        auto v =
            printable_name(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                            static_cast<std::size_t>(ASN1_STRING_length(s))));
        return quoted ? "\"" + v + "\"" : v;
    };
    switch (gn->type) {
    case GEN_URI:
        return "URI:" + text(gn->d.uniformResourceIdentifier);
    case GEN_EMAIL:
        return "email:" + text(gn->d.rfc822Name);
    case GEN_DIRNAME:
        return "DirName:" + name_text(gn->d.directoryName);
    case GEN_RID:
        return "RID";
    case GEN_OTHERNAME:
        return "othername";
    default:
        return "GeneralName type " + std::to_string(gn->type);
    }
}

FCS_DECL std::string key_description(EVP_PKEY* k) {
    switch (EVP_PKEY_id(k)) {
    case EVP_PKEY_RSA:
        return "RSA " + std::to_string(EVP_PKEY_bits(k));
    case EVP_PKEY_EC: {
        int nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(k)));
        return nid == NID_X9_62_prime256v1 ? "EC P-256"
               : nid == NID_secp384r1      ? "EC P-384"
               : nid == NID_secp521r1      ? "EC P-521"
                                           : "EC (curve " + std::to_string(nid) + ")";
    }
    case EVP_PKEY_ED25519:
        return "Ed25519";
    case EVP_PKEY_DSA:
        return "DSA";
    default:
        return "algorithm " + std::to_string(EVP_PKEY_id(k));
    }
}

FCS_DECL std::string key_description(const private_key& k) {
    return key_description(k.get());
}

FCS_DECL void check_usable(EVP_PKEY* k, std::string_view where) {
    switch (EVP_PKEY_id(k)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_bits(k) < 2048)
            throw error(errc::unsupported_key, std::string(where), "load key",
                        "RSA key of " + std::to_string(EVP_PKEY_bits(k)) +
                            " bits is too weak; at least 2048 bits are required");
        return;
    case EVP_PKEY_EC: {
        int nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(k)));
        if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1)
            throw error(errc::unsupported_key, std::string(where), "load key",
                        "EC curve not usable for TLS (use P-256, P-384 or P-521)");
        return;
    }
    case EVP_PKEY_ED25519:
        return;
    default:
        throw error(errc::unsupported_key, std::string(where), "load key",
                    key_description(k) + " keys cannot be used by a TLS server");
    }
}

FCS_DECL void check_usable(const private_key& k, std::string_view where) {
    check_usable(k.get(), where);
}

FCS_DECL bool matches(const certificate& cert, const private_key& key) {
    bool ok = X509_check_private_key(cert.get(), key.get()) == 1;
    ERR_clear_error();
    return ok;
}

FCS_DECL std::string fingerprint(const certificate& cert) {
    std::uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!X509_digest(cert.get(), EVP_sha256(), md, &len))
        fail("", "fingerprint", "SHA-256 digest failed");
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        if (i)
            out.push_back(':');
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

FCS_DECL cert_info describe(const certificate& cert) {
    X509* x = cert.get();
    cert_info info;
    info.subject = name_text(X509_get_subject_name(x));
    info.issuer = name_text(X509_get_issuer_name(x));
    info.not_before = to_time_point(X509_get0_notBefore(x));
    info.not_after = to_time_point(X509_get0_notAfter(x));
    bssl::UniquePtr<BIGNUM> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
    if (serial) {
        bssl::UniquePtr<char> hex(BN_bn2hex(serial.get()));
        info.serial = hex ? hex.get() : "";
    }
    info.sha256_fingerprint = fingerprint(cert);
    if (bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(x)); pub)
        info.key_type = key_description(pub.get());
    ERR_clear_error();
    bssl::UniquePtr<GENERAL_NAMES> names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    for (std::size_t i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        if (gn->type == GEN_DNS) {
            const ASN1_STRING* s = gn->d.dNSName;
            info.sans.push_back("DNS:" +
                                printable_name(std::string_view(
                                    reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<std::size_t>(ASN1_STRING_length(s)))));
        } else if (gn->type == GEN_IPADD) {
            const ASN1_STRING* s = gn->d.iPAddress;
            char buf[INET6_ADDRSTRLEN] = {};
            int len = ASN1_STRING_length(s);
            if ((len == 4 || len == 16) &&
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf))
                info.sans.push_back(std::string("IP:") + buf);
            else
                info.sans.push_back("IP:(" + std::to_string(len) + " bytes)");
        } else {
            // Shown too, so nothing a certificate carries hides from status or issue.
            info.sans.push_back(other_name_text(gn));
        }
    }
    bssl::UniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(x, NID_basic_constraints, nullptr, nullptr)));
    info.is_ca = bc && bc->ca;
    // Not X509_check_issued: it rejects a leaf whose keyUsage lacks keyCertSign.
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0) {
        bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(x));
        info.self_signed = pub && X509_verify(x, pub.get()) == 1;
    }
    ERR_clear_error();
    return info;
}

FCS_DECL public_key public_of(const private_key& key) {
    bssl::ScopedCBB cbb;
    std::uint8_t* der = nullptr;
    std::size_t len = 0;
    if (!CBB_init(cbb.get(), 0) || !EVP_marshal_public_key(cbb.get(), key.get()) ||
        !CBB_finish(cbb.get(), &der, &len))
        fail("", "public key", "encoding the public key failed");
    bssl::UniquePtr<std::uint8_t> owner(der);
    CBS cbs;
    CBS_init(&cbs, der, len);
    bssl::UniquePtr<EVP_PKEY> pub(EVP_parse_public_key(&cbs));
    if (!pub)
        fail("", "public key", "parsing the public key failed");
    return public_key(std::move(pub));
}

FCS_DECL bytes encode(const certificate& cert, encoding e) {
    std::uint8_t* der = nullptr;
    int len = i2d_X509(cert.get(), &der);
    if (len <= 0)
        fail("", "encode certificate", "DER encoding failed");
    bssl::UniquePtr<std::uint8_t> owner(der);
    if (e == encoding::der)
        return bytes(der, der + len);
    auto pem = detail::pem_encode("CERTIFICATE", {der, static_cast<std::size_t>(len)});
    return bytes(pem.begin(), pem.end());
}

FCS_DECL secret_bytes encode(const private_key& key, encoding e) {
    bssl::ScopedCBB cbb;
    std::uint8_t* der = nullptr;
    std::size_t len = 0;
    if (!CBB_init(cbb.get(), 0) || !EVP_marshal_private_key(cbb.get(), key.get()) ||
        !CBB_finish(cbb.get(), &der, &len))
        fail("", "encode key", "PKCS#8 encoding failed");
    secret_bytes out(der, der + len);
    OPENSSL_cleanse(der, len);
    OPENSSL_free(der);
    if (e == encoding::der)
        return out;
    return detail::pem_encode("PRIVATE KEY", out);
}

FCS_DECL bool same_key(const private_key& a, const private_key& b) {
    if (!a || !b)
        return false;
    auto ea = encode(a, encoding::der), eb = encode(b, encoding::der);
    return ea.size() == eb.size() && CRYPTO_memcmp(ea.data(), eb.data(), ea.size()) == 0;
}

FCS_DECL std::string key_description(const public_key& k) {
    return key_description(k.get());
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_INSPECT_IPP
