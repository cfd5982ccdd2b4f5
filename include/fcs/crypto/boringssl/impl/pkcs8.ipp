#ifndef FCS_CRYPTO_BORINGSSL_IMPL_PKCS8_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_PKCS8_IPP

// The bodies of fcs/crypto/boringssl/pkcs8.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/pkcs8.hpp>

namespace fcs::crypto::boringssl_detail {

FCS_DECL std::vector<int> drain_pkcs8_reasons() {
    std::vector<int> out;
    while (std::uint32_t e = ERR_get_error())
        if (ERR_GET_LIB(e) == ERR_LIB_PKCS8)
            out.push_back(ERR_GET_REASON(e));
    return out;
}

FCS_DECL void collect_algorithms(CBS in, int depth, std::vector<algorithm_use>& out) {
    while (CBS_len(&in) > 0 && depth < 24 && out.size() < 256) {
        CBS element;
        unsigned tag = 0;
        std::size_t header = 0;
        if (!CBS_get_any_asn1_element(&in, &element, &tag, &header))
            return;
        CBS body = element;
        if (!CBS_skip(&body, header))
            return;
        if (tag == CBS_ASN1_SEQUENCE) {
            CBS peek = body, oid;
            if (CBS_get_asn1(&peek, &oid, CBS_ASN1_OBJECT)) {
                bssl::UniquePtr<char> text(CBS_asn1_oid_to_text(&oid));
                if (text)
                    out.push_back({text.get(), CBS_len(&peek) > 0});
            }
        }
        if (tag & CBS_ASN1_CONSTRUCTED)
            collect_algorithms(body, depth + 1, out);
        else if (tag == CBS_ASN1_OCTETSTRING && CBS_len(&body) > 2 && CBS_data(&body)[0] == 0x30)
            collect_algorithms(body, depth + 1, out);
    }
    ERR_clear_error();
}

FCS_DECL std::optional<std::string> unsupported_encryption(std::span<const std::uint8_t> der,
                                                           const std::vector<int>& reasons) {
    struct known {
        const char* oid;
        const char* name;
        bool supported;
    };
    static constexpr known table[] = {
        {"1.2.840.113549.1.12.1.1", "pbeWithSHAAnd128BitRC4", true},
        {"1.2.840.113549.1.12.1.2", "pbeWithSHAAnd40BitRC4", false},
        {"1.2.840.113549.1.12.1.3", "pbeWithSHAAnd3-KeyTripleDES-CBC", true},
        {"1.2.840.113549.1.12.1.4", "pbeWithSHAAnd2-KeyTripleDES-CBC", false},
        {"1.2.840.113549.1.12.1.5", "pbeWithSHAAnd128BitRC2-CBC", false},
        {"1.2.840.113549.1.12.1.6", "pbeWithSHAAnd40BitRC2-CBC", true},
        {"1.2.840.113549.1.5.1", "pbeWithMD2AndDES-CBC", false},
        {"1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC", false},
        {"1.2.840.113549.1.5.4", "pbeWithMD2AndRC2-CBC", false},
        {"1.2.840.113549.1.5.6", "pbeWithMD5AndRC2-CBC", false},
        {"1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC", false},
        {"1.2.840.113549.1.5.11", "pbeWithSHA1AndRC2-CBC", false},
        {"2.16.840.1.101.3.4.1.2", "AES-128-CBC", true},
        {"2.16.840.1.101.3.4.1.22", "AES-192-CBC", true},
        {"2.16.840.1.101.3.4.1.42", "AES-256-CBC", true},
        {"1.2.840.113549.3.7", "DES-EDE3-CBC", true},
        {"1.3.14.3.2.7", "DES-CBC", false},
        {"1.2.840.113549.3.2", "RC2-CBC", false},
        {"1.2.392.200011.61.1.1.1.2", "CAMELLIA-128-CBC", false},
        {"1.2.392.200011.61.1.1.1.3", "CAMELLIA-192-CBC", false},
        {"1.2.392.200011.61.1.1.1.4", "CAMELLIA-256-CBC", false},
        {"1.2.410.200046.1.1.2", "ARIA-128-CBC", false},
        {"1.2.410.200046.1.1.7", "ARIA-192-CBC", false},
        {"1.2.410.200046.1.1.12", "ARIA-256-CBC", false},
        {"1.2.156.10197.1.104.2", "SM4-CBC", false},
        {"1.2.643.7.1.1.5.1", "GOST 28147-89 (Magma)", false},
        {"1.3.6.1.4.1.11591.4.11", "scrypt", false},
    };
    std::vector<algorithm_use> uses;
    CBS cbs;
    CBS_init(&cbs, der.data(), der.size());
    collect_algorithms(cbs, 0, uses);
    std::vector<std::string> refused;
    for (auto& u : uses)
        for (auto& k : table)
            if (u.oid == k.oid && !k.supported &&
                std::find(refused.begin(), refused.end(), k.name) == refused.end())
                refused.push_back(k.name);
    if (!refused.empty()) {
        std::string names;
        for (auto& r : refused)
            names += (names.empty() ? "" : ", ") + r;
        return "encrypted with " + names + ", a cipher BoringSSL cannot decrypt";
    }
    // PBES2 whose PRF AlgorithmIdentifier lacks the NULL parameter (GnuTLS writes it so).
    for (auto& u : uses)
        if (u.oid.starts_with("1.2.840.113549.2.") && !u.has_parameters &&
            std::find(reasons.begin(), reasons.end(), PKCS8_R_DECODE_ERROR) != reasons.end())
            return "its PBES2 key derivation names the HMAC (" + u.oid +
                   ") without the NULL parameter (as GnuTLS writes it), which BoringSSL "
                   "cannot read";
    auto has = [&](int r) { return std::find(reasons.begin(), reasons.end(), r) != reasons.end(); };
    if (has(PKCS8_R_UNSUPPORTED_CIPHER) || has(PKCS8_R_UNKNOWN_CIPHER) ||
        has(PKCS8_R_UNKNOWN_ALGORITHM) || has(PKCS8_R_UNKNOWN_CIPHER_ALGORITHM) ||
        has(PKCS8_R_UNSUPPORTED_PRF) || has(PKCS8_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION) ||
        has(PKCS8_R_UNSUPPORTED_KEYLENGTH) || has(PKCS8_R_UNSUPPORTED_SALT_TYPE) ||
        has(PKCS8_R_UNKNOWN_HASH) || has(PKCS8_R_UNKNOWN_DIGEST))
        return std::string("encrypted with a cipher or key derivation BoringSSL cannot decrypt");
    return std::nullopt;
}

FCS_DECL bool rewrite_prf(CBS in, CBB* out, int depth) {
    static constexpr std::uint8_t hmac_prefix[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02};
    while (CBS_len(&in) > 0) {
        CBS element;
        unsigned tag = 0;
        std::size_t header = 0;
        if (!CBS_get_any_asn1_element(&in, &element, &tag, &header))
            return false;
        if (!(tag & CBS_ASN1_CONSTRUCTED) || depth > 8) {
            if (!CBB_add_bytes(out, CBS_data(&element), CBS_len(&element)))
                return false;
            continue;
        }
        CBS body = element;
        CBS_skip(&body, header);
        CBB child;
        if (!CBB_add_asn1(out, &child, tag) || !rewrite_prf(body, &child, depth + 1))
            return false;
        CBS peek = body, oid;
        if (tag == CBS_ASN1_SEQUENCE && CBS_get_asn1(&peek, &oid, CBS_ASN1_OBJECT) &&
            CBS_len(&peek) == 0 && CBS_len(&oid) == sizeof hmac_prefix + 1 &&
            std::memcmp(CBS_data(&oid), hmac_prefix, sizeof hmac_prefix) == 0 &&
            CBS_data(&oid)[sizeof hmac_prefix] >= 7 && CBS_data(&oid)[sizeof hmac_prefix] <= 11) {
            CBB null;
            if (!CBB_add_asn1(&child, &null, CBS_ASN1_NULL))
                return false;
        }
        if (!CBB_flush(out))
            return false;
    }
    return true;
}

FCS_DECL std::optional<secret_bytes> add_null_prf_parameters(std::span<const std::uint8_t> der) {
    bssl::ScopedCBB cbb;
    if (!CBB_init(cbb.get(), der.size() + 16))
        return std::nullopt;
    CBS in;
    CBS_init(&in, der.data(), der.size());
    if (!rewrite_prf(in, cbb.get(), 0))
        return std::nullopt;
    std::uint8_t* out = nullptr;
    std::size_t len = 0;
    if (!CBB_finish(cbb.get(), &out, &len))
        return std::nullopt;
    secret_bytes result(out, out + len);
    OPENSSL_cleanse(out, len);
    OPENSSL_free(out);
    return result;
}

FCS_DECL private_key decrypt_pkcs8(std::span<const std::uint8_t> der, const secret_bytes* password,
                                   std::string_view where) {
    if (!password)
        throw error(errc::key_encrypted, std::string(where), "load key",
                    "key is password-protected (encrypted PKCS#8)");
    CBS cbs;
    CBS_init(&cbs, der.data(), der.size());
    bssl::UniquePtr<EVP_PKEY> k(PKCS8_parse_encrypted_private_key(
        &cbs, reinterpret_cast<const char*>(password->data()), password->size()));
    if (!k) {
        auto reasons = drain_pkcs8_reasons();
        // GnuTLS writes the PBKDF2 PRF (hmacWithSHA256) without its NULL parameter, which
        // this BoringSSL refuses as a decode error: add the NULL and try once more. No MAC
        // covers these bytes, so the rewrite changes nothing the password protects.
        if (auto fixed = add_null_prf_parameters(der);
            fixed && *fixed != secret_bytes(der.begin(), der.end())) {
            CBS again;
            CBS_init(&again, fixed->data(), fixed->size());
            k.reset(PKCS8_parse_encrypted_private_key(
                &again, reinterpret_cast<const char*>(password->data()), password->size()));
            if (!k)
                reasons = drain_pkcs8_reasons();
        }
        if (!k) {
            if (auto why = unsupported_encryption(der, reasons))
                throw error(errc::unsupported_cipher, std::string(where), "load key", *why);
            // A structure BoringSSL cannot read fails before any decryption is tried.
            if (!reasons.empty() && reasons.front() == PKCS8_R_DECODE_ERROR)
                fail_parse(where, "load key", "the encrypted key is corrupt or truncated");
            throw error(errc::wrong_password, std::string(where), "load key",
                        "wrong password for the encrypted key");
        }
    }
    return private_key(std::move(k));
}

FCS_DECL private_key parse_der_key(std::span<const std::uint8_t> der, const secret_bytes* password,
                                   std::string_view where) {
    if (der.empty())
        fail_parse(where, "load key", "the file is empty");
    CBS outer, seq;
    CBS_init(&outer, der.data(), der.size());
    if (!CBS_get_asn1(&outer, &seq, CBS_ASN1_SEQUENCE) || CBS_len(&outer) != 0)
        fail_parse(where, "load key", "not a private key (neither PEM nor DER)");
    // EncryptedPrivateKeyInfo starts with a SEQUENCE (the algorithm); the others with an
    // INTEGER.
    if (CBS_peek_asn1_tag(&seq, CBS_ASN1_SEQUENCE))
        return decrypt_pkcs8(der, password, where);
    CBS cbs;
    CBS_init(&cbs, der.data(), der.size());
    bssl::UniquePtr<EVP_PKEY> k(EVP_parse_private_key(&cbs));
    if (k && CBS_len(&cbs) == 0) {
        ERR_clear_error();
        return private_key(std::move(k));
    }
    ERR_clear_error();
    CBS_init(&cbs, der.data(), der.size());
    if (bssl::UniquePtr<RSA> rsa{RSA_parse_private_key(&cbs)}; rsa && CBS_len(&cbs) == 0) {
        k.reset(EVP_PKEY_new());
        EVP_PKEY_assign_RSA(k.get(), rsa.release());
        ERR_clear_error();
        return private_key(std::move(k));
    }
    ERR_clear_error();
    CBS_init(&cbs, der.data(), der.size());
    if (bssl::UniquePtr<EC_KEY> ec{EC_KEY_parse_private_key(&cbs, nullptr)};
        ec && CBS_len(&cbs) == 0) {
        k.reset(EVP_PKEY_new());
        EVP_PKEY_assign_EC_KEY(k.get(), ec.release());
        ERR_clear_error();
        return private_key(std::move(k));
    }
    ERR_clear_error();
    // A PKCS#8 of an algorithm BoringSSL does not know (DSA, X448, ...) lands here too.
    throw error(errc::unsupported_key, std::string(where), "load key",
                "not a usable private key (PKCS#8, PKCS#1 RSA or SEC1 EC; DSA and other "
                "algorithms cannot be used by a TLS server)");
}

FCS_DECL private_key parse_pem_key(const detail::pem_block& b, const secret_bytes* password,
                                   std::string_view where) {
    if (b.label == "ENCRYPTED PRIVATE KEY")
        return decrypt_pkcs8(b.der, password, where);
    if (b.headers.find("ENCRYPTED") != std::string::npos) {
        if (!password)
            throw error(errc::key_encrypted, std::string(where), "load key",
                        "key is password-protected (legacy PEM encryption)");
        // Legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED + DEK-Info).
        std::string headers = b.headers;
        EVP_CIPHER_INFO info;
        if (!PEM_get_EVP_CIPHER_INFO(headers.data(), &info)) {
            ERR_clear_error();
            throw error(errc::unsupported_cipher, std::string(where), "load key",
                        "the legacy PEM encryption cipher is not supported by BoringSSL");
        }
        secret_bytes data = b.der;
        long len = static_cast<long>(data.size());
        struct ctx_t {
            const secret_bytes* pw;
        } ctx{password};
        auto cb = [](char* buf, int size, int, void* u) -> int {
            auto* pw = static_cast<ctx_t*>(u)->pw;
            int n =
                static_cast<int>(std::min<std::size_t>(pw->size(), static_cast<std::size_t>(size)));
            std::memcpy(buf, pw->data(), n);
            return n;
        };
        if (!PEM_do_header(&info, data.data(), &len, cb, &ctx)) {
            ERR_clear_error();
            throw error(errc::wrong_password, std::string(where), "load key",
                        "wrong password for the encrypted key");
        }
        data.resize(static_cast<std::size_t>(len));
        // Legacy PEM encryption has no integrity check: a wrong password passes the padding
        // check about once in 256 tries and decrypts to garbage. Bytes that are not a key
        // after decryption therefore mean a wrong password (or a corrupt file), not a parse
        // error of the key.
        try {
            return parse_der_key(data, nullptr, where);
        } catch (const error& e) {
            if (e.fcs_code() != errc::parse_failed)
                throw;
            throw error(errc::wrong_password, std::string(where), "load key",
                        "wrong password for the encrypted key (or the file is corrupt)");
        }
    }
    if (b.label == "PRIVATE KEY" || b.label == "RSA PRIVATE KEY" || b.label == "EC PRIVATE KEY")
        return parse_der_key(b.der, password, where);
    throw error(errc::unsupported_key, std::string(where), "load key",
                "\"" + b.label +
                    "\" keys cannot be used by a TLS server (use RSA, ECDSA or Ed25519)");
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_PKCS8_IPP
