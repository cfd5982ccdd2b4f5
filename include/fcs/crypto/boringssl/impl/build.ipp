#ifndef FCS_CRYPTO_BORINGSSL_IMPL_BUILD_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_BUILD_IPP

// The bodies of fcs/crypto/boringssl/build.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/build.hpp>

namespace fcs::crypto::boringssl_detail {

FCS_DECL private_key generate_key(key_type type) {
    bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
    switch (type) {
    case key_type::ec_p256:
    case key_type::ec_p384: {
        bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(
            type == key_type::ec_p256 ? NID_X9_62_prime256v1 : NID_secp384r1));
        if (!ec || !EC_KEY_generate_key(ec.get()) ||
            !EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release()))
            fail("", "generate key", "EC key generation failed");
        break;
    }
    case key_type::rsa2048:
    case key_type::rsa3072:
    case key_type::rsa4096: {
        int bits = type == key_type::rsa2048 ? 2048 : type == key_type::rsa3072 ? 3072 : 4096;
        bssl::UniquePtr<RSA> rsa(RSA_new());
        bssl::UniquePtr<BIGNUM> e(BN_new());
        if (!rsa || !e || !BN_set_word(e.get(), RSA_F4) ||
            !RSA_generate_key_ex(rsa.get(), bits, e.get(), nullptr) ||
            !EVP_PKEY_assign_RSA(pkey.get(), rsa.release()))
            fail("", "generate key", "RSA key generation failed");
        break;
    }
    case key_type::ed25519: {
        EVP_PKEY* raw = nullptr;
        bssl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
        if (!ctx || !EVP_PKEY_keygen_init(ctx.get()) || !EVP_PKEY_keygen(ctx.get(), &raw))
            fail("", "generate key", "Ed25519 key generation failed");
        pkey.reset(raw);
        break;
    }
    }
    return private_key(std::move(pkey));
}

FCS_DECL void add_ext(X509* x, int nid, void* value, bool critical) {
    if (!X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT))
        fail("", "create certificate",
             "adding the " + std::string(OBJ_nid2sn(nid)) + " extension failed");
}

FCS_DECL bssl::UniquePtr<ASN1_OCTET_STRING> key_id_of(X509* x) {
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(x);
    std::uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    bssl::UniquePtr<ASN1_OCTET_STRING> id(ASN1_OCTET_STRING_new());
    if (!bits || !id ||
        !EVP_Digest(ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits)),
                    md, &len, EVP_sha1(), nullptr) ||
        !ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)))
        fail("", "create certificate", "computing the key identifier failed");
    return id;
}

FCS_DECL bssl::UniquePtr<GENERAL_NAMES> alt_names_of(const certificate_profile& p) {
    bssl::UniquePtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
    if (!names)
        fail("", "create certificate", "out of memory");
    std::vector<std::pair<int, std::string>> seen;
    auto add = [&](int type, const void* data, std::size_t len) {
        std::pair<int, std::string> key{type, std::string(static_cast<const char*>(data), len)};
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            return;
        seen.push_back(std::move(key));
        bssl::UniquePtr<GENERAL_NAME> gn(GENERAL_NAME_new());
        bssl::UniquePtr<ASN1_STRING> value(type == GEN_DNS ? ASN1_IA5STRING_new()
                                                           : ASN1_OCTET_STRING_new());
        if (!gn || !value || !ASN1_STRING_set(value.get(), data, static_cast<int>(len)))
            fail("", "create certificate", "out of memory");
        GENERAL_NAME_set0_value(gn.get(), type, value.release());
        if (!bssl::PushToStack(names.get(), std::move(gn)))
            fail("", "create certificate", "out of memory");
    };
    for (auto& d : p.dns_names) {
        check_dns_name(d, "");
        add(GEN_DNS, d.data(), d.size());
    }
    for (auto& ip : p.ip_addresses) {
        check_ip_address(ip, "");
        auto octets = *ip_address_octets(ip);
        add(GEN_IPADD, octets.data(), octets.size());
    }
    if (sk_GENERAL_NAME_num(names.get()) == 0)
        names.reset();
    return names;
}

FCS_DECL certificate sign(const certificate* issuer, const private_key& signer,
                          EVP_PKEY* subject_key, const certificate_profile& p,
                          time_point not_before, time_point not_after) {
    // Every name is checked first: a refused name names itself and why.
    auto alt_names = alt_names_of(p);
    bssl::UniquePtr<X509> x(X509_new());
    std::uint8_t serial_bytes[16];
    RAND_bytes(serial_bytes, sizeof serial_bytes);
    serial_bytes[0] &= 0x7f; // positive
    serial_bytes[0] |= 0x01; // full length, never zero
    bssl::UniquePtr<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    bssl::UniquePtr<ASN1_INTEGER> serial_asn1(BN_to_ASN1_INTEGER(serial.get(), nullptr));
    auto seconds = [](time_point t) {
        return static_cast<time_t>(
            std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
    };
    bssl::UniquePtr<ASN1_TIME> nb(ASN1_TIME_set(nullptr, seconds(not_before)));
    bssl::UniquePtr<ASN1_TIME> na(ASN1_TIME_set(nullptr, seconds(not_after)));
    X509_NAME* name = X509_get_subject_name(x.get());
    if (!x || !serial_asn1 || !nb || !na || !X509_set_version(x.get(), X509_VERSION_3) ||
        !X509_set_serialNumber(x.get(), serial_asn1.get()) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const std::uint8_t*>(p.common_name.c_str()),
                                    -1, -1, 0) ||
        (!p.organization.empty() &&
         !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                     reinterpret_cast<const std::uint8_t*>(p.organization.c_str()),
                                     -1, -1, 0)) ||
        !X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer->get()) : name) ||
        !X509_set1_notBefore(x.get(), nb.get()) || !X509_set1_notAfter(x.get(), na.get()) ||
        !X509_set_pubkey(x.get(), subject_key))
        fail("", "create certificate", "setting the certificate fields failed");
    const bool rsa = EVP_PKEY_id(subject_key) == EVP_PKEY_RSA;
    bssl::UniquePtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
    bssl::UniquePtr<ASN1_BIT_STRING> usage(ASN1_BIT_STRING_new());
    if (!bc || !usage)
        fail("", "create certificate", "out of memory");
    bc->ca = p.ca ? 0xff : 0;
    // keyUsage bits (RFC 5280 4.2.1.3): 0 digitalSignature, 2 keyEncipherment,
    // 5 keyCertSign, 6 cRLSign.
    std::vector<int> bits = p.ca  ? std::vector<int>{0, 5, 6}
                            : rsa ? std::vector<int>{0, 2}
                                  : std::vector<int>{0};
    for (int b : bits)
        if (!ASN1_BIT_STRING_set_bit(usage.get(), b, 1))
            fail("", "create certificate", "out of memory");
    add_ext(x.get(), NID_basic_constraints, bc.get(), true);
    add_ext(x.get(), NID_key_usage, usage.get(), true);
    if (!p.ca) {
        bssl::UniquePtr<EXTENDED_KEY_USAGE> eku(sk_ASN1_OBJECT_new_null());
        if (!eku || !sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) ||
            (p.client_auth && !sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth))))
            fail("", "create certificate", "out of memory");
        add_ext(x.get(), NID_ext_key_usage, eku.get(), false);
    }
    auto ski = key_id_of(x.get());
    add_ext(x.get(), NID_subject_key_identifier, ski.get(), false);
    if (issuer) {
        bssl::UniquePtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
        if (!akid)
            fail("", "create certificate", "out of memory");
        const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(issuer->get());
        akid->keyid = issuer_ski ? ASN1_STRING_dup(issuer_ski) : key_id_of(issuer->get()).release();
        if (!akid->keyid)
            fail("", "create certificate", "out of memory");
        add_ext(x.get(), NID_authority_key_identifier, akid.get(), false);
    }
    ERR_clear_error(); // X509_get0_subject_key_id may queue a decode error for a bad issuer
    if (alt_names)
        add_ext(x.get(), NID_subject_alt_name, alt_names.get(), false);
    const EVP_MD* md =
        EVP_PKEY_id(signer.get()) == EVP_PKEY_ED25519 ? nullptr
        : EVP_PKEY_id(signer.get()) == EVP_PKEY_EC && EVP_PKEY_bits(signer.get()) > 256
            ? EVP_sha384()
            : EVP_sha256();
    if (!X509_sign(x.get(), signer.get(), md))
        fail("", "create certificate", "signing failed");
    return certificate(std::move(x));
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_BUILD_IPP
