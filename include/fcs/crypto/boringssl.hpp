#ifndef FCS_CRYPTO_BORINGSSL_HPP
#define FCS_CRYPTO_BORINGSSL_HPP

#include <fcs/detail/pem.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/pkcs8.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace fcs::crypto {

/// `cause` plus " (BoringSSL's reason)" for the first error queued, and the queue cleared.
inline std::string with_ssl_error(std::string cause) {
    if (std::uint32_t e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        cause += " (";
        cause += buf;
        cause += ")";
    }
    ERR_clear_error();
    return cause;
}

/// Largest certificate, key or bundle input the backend parses (1 MiB).
inline constexpr std::size_t max_input_size = 1u << 20;

/**
 * The BoringSSL crypto backend: key generation, X.509 creation and signing, parsing by
 * content (PEM, DER, PKCS#1, SEC1, PKCS#8 plain and encrypted, legacy PEM encryption,
 * PKCS#12), key/cert match, fingerprints. Every C handle is held by bssl::UniquePtr.
 * Failures throw fcs::error naming the location passed in (the file) and the cause.
 */
class boringssl {
public:
    using policy_kind = policy::kind::crypto;

    /// A parsed X.509 certificate (shared, immutable).
    class certificate {
    public:
        certificate() = default;
        explicit certificate(bssl::UniquePtr<X509> x)
            : x_(std::move(x)) {}
        certificate(const certificate& o)
            : x_(o.x_ ? (X509_up_ref(o.x_.get()), o.x_.get()) : nullptr) {}
        certificate& operator=(const certificate& o) {
            if (this != &o)
                x_.reset(o.x_ ? (X509_up_ref(o.x_.get()), o.x_.get()) : nullptr);
            return *this;
        }
        certificate(certificate&&) noexcept = default;
        certificate& operator=(certificate&&) noexcept = default;
        X509* get() const noexcept { return x_.get(); }
        explicit operator bool() const noexcept { return x_ != nullptr; }

    private:
        bssl::UniquePtr<X509> x_;
    };

    /// A private key (shared, immutable). Never printable.
    class private_key {
    public:
        private_key() = default;
        explicit private_key(bssl::UniquePtr<EVP_PKEY> k)
            : k_(std::move(k)) {}
        private_key(const private_key& o)
            : k_(o.k_ ? (EVP_PKEY_up_ref(o.k_.get()), o.k_.get()) : nullptr) {}
        private_key& operator=(const private_key& o) {
            if (this != &o)
                k_.reset(o.k_ ? (EVP_PKEY_up_ref(o.k_.get()), o.k_.get()) : nullptr);
            return *this;
        }
        private_key(private_key&&) noexcept = default;
        private_key& operator=(private_key&&) noexcept = default;
        EVP_PKEY* get() const noexcept { return k_.get(); }
        explicit operator bool() const noexcept { return k_ != nullptr; }

    private:
        bssl::UniquePtr<EVP_PKEY> k_;
    };

    /// What a new certificate says (fcs::certificate_profile).
    using profile = certificate_profile;

    /// A key and its certificate chain read from one input (PKCS#12 or a combined PEM).
    struct bundle {
        private_key key;
        std::vector<certificate> chain;
    };

    // ---- generation ------------------------------------------------------------------------

    private_key generate_key(key_type type) const {
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

    /// A self-signed certificate for `key`.
    certificate self_sign(const private_key& key, const profile& p, time_point not_before,
                          time_point not_after) const {
        bssl::UniquePtr<EVP_PKEY> pub = public_of(key);
        return sign(nullptr, key, pub.get(), p, not_before, not_after);
    }

    /// `issuer` (with `issuer_key`) signs a certificate for `subject_public_key`.
    /// Refused with errc::not_a_ca when the issuer is not a CA.
    certificate issue(const certificate& issuer, const private_key& issuer_key,
                      EVP_PKEY* subject_public_key, const profile& p, time_point not_before,
                      time_point not_after) const {
        if (!describe(issuer).is_ca)
            throw error(errc::not_a_ca, "", "issue certificate",
                        "the issuing certificate is not a CA (basicConstraints CA:TRUE missing)");
        return sign(&issuer, issuer_key, subject_public_key, p, not_before, not_after);
    }

    // ---- parsing -----------------------------------------------------------------------------

    /// Every certificate in `in` (PEM blocks, or one DER certificate). Throws when none.
    std::vector<certificate> parse_certificates(std::span<const std::uint8_t> in,
                                                std::string_view where) const {
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

    /// The private key in `in`: PKCS#8 (plain or encrypted), PKCS#1, SEC1, legacy encrypted
    /// PEM; PEM or DER. `password` may be null. Checks that a TLS server can use the key.
    private_key parse_private_key(std::span<const std::uint8_t> in, const secret_bytes* password,
                                  std::string_view where) const {
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

    /// A PKCS#12 bundle. No password: the empty one is tried, then errc::key_encrypted.
    bundle parse_pkcs12(std::span<const std::uint8_t> in, const secret_bytes* password,
                        std::string_view where) const {
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
                throw error(password ? errc::wrong_password : errc::key_encrypted,
                            std::string(where), "load PKCS#12",
                            password
                                ? "wrong password for the PKCS#12 bundle"
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

    /// True when `in` looks like DER PKCS#12 (SEQUENCE { INTEGER 3, SEQUENCE { OID data ... } }).
    static bool looks_like_pkcs12(std::span<const std::uint8_t> in) {
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

    /// The most subjectAltName entries read from a certificate request.
    static constexpr std::size_t max_request_names = 100;

    /// A PKCS#10 certificate request whose self-signature has been checked.
    struct certificate_request {
        bssl::UniquePtr<EVP_PKEY> public_key;
        std::string subject;                   ///< RFC 2253
        std::string common_name;               ///< "" when the subject has none
        std::vector<std::string> dns_names;    ///< from a requested subjectAltName
        std::vector<std::string> ip_addresses; ///< from a requested subjectAltName
        /// Other names the request asks for (URI, email, ... or an iPAddress that is not 4 or
        /// 16 bytes), for display (values quoted, printable_name); never signed.
        std::vector<std::string> other_names;
    };

    /**
     * A certificate request (PEM "CERTIFICATE REQUEST" or DER). Refused unless its signature
     * verifies with its own public key and that key is usable by a TLS server.
     * @throws fcs::error naming `where`: errc::parse_failed, errc::unsupported_key.
     */
    certificate_request parse_csr(std::span<const std::uint8_t> in, std::string_view where) const {
        check_size(in, where);
        secret_bytes der;
        if (detail::looks_like_pem(in)) {
            auto blocks = detail::pem_blocks(in);
            if (!blocks)
                fail_parse(where, "load request", "malformed or truncated PEM");
            for (auto& b : *blocks)
                if (b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST") {
                    der = b.der;
                    break;
                }
            if (der.empty())
                fail_parse(where, "load request", "no CERTIFICATE REQUEST block found");
        } else {
            der.assign(in.begin(), in.end());
        }
        if (der.empty())
            fail_parse(where, "load request", "the file is empty");
        const std::uint8_t* p = der.data();
        bssl::UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
        if (!req || p != der.data() + der.size())
            fail_parse(where, "load request",
                       "not a PKCS#10 certificate request (truncated or garbage?)");
        certificate_request out;
        out.public_key.reset(X509_REQ_get_pubkey(req.get()));
        if (!out.public_key) {
            ERR_clear_error();
            throw error(errc::unsupported_key, std::string(where), "load request",
                        "the request's public key algorithm is not supported");
        }
        if (X509_REQ_verify(req.get(), out.public_key.get()) != 1)
            fail_parse(where, "load request",
                       "the request's signature does not verify (altered or corrupt request)");
        ERR_clear_error();
        check_usable(out.public_key.get(), where);
        X509_NAME* name = X509_REQ_get_subject_name(req.get());
        out.subject = name_text(name);
        if (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0) {
            std::uint8_t* utf8 = nullptr;
            int n =
                ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
            if (n >= 0) {
                out.common_name.assign(reinterpret_cast<const char*>(utf8),
                                       static_cast<std::size_t>(n));
                OPENSSL_free(utf8);
            }
        }
        bssl::UniquePtr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
        for (std::size_t i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
            X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
            if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
                continue;
            bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
            if (!names)
                fail_parse(where, "load request",
                           "the request's subjectAltName extension is not valid DER");
            if (sk_GENERAL_NAME_num(names.get()) > max_request_names)
                throw error(
                    errc::too_large, std::string(where), "load request",
                    "the request asks for " + std::to_string(sk_GENERAL_NAME_num(names.get())) +
                        " names; at most " + std::to_string(max_request_names) + " are read");
            for (std::size_t j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
                const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), j);
                if (gn->type == GEN_DNS) {
                    const ASN1_STRING* s = gn->d.dNSName;
                    out.dns_names.emplace_back(
                        reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<std::size_t>(ASN1_STRING_length(s)));
                } else if (gn->type == GEN_IPADD) {
                    const ASN1_STRING* s = gn->d.iPAddress;
                    char buf[INET6_ADDRSTRLEN] = {};
                    int len = ASN1_STRING_length(s);
                    if ((len == 4 || len == 16) &&
                        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf,
                                  sizeof buf))
                        out.ip_addresses.emplace_back(buf);
                    else
                        out.other_names.push_back("IP:(" + std::to_string(len) + " bytes)");
                } else {
                    out.other_names.push_back(other_name_text(gn, true));
                }
            }
        }
        ERR_clear_error();
        return out;
    }

    /// True when both keys are the same private key (their PKCS#8 encodings are equal,
    /// compared in constant time).
    bool same_key(const private_key& a, const private_key& b) const {
        if (!a || !b)
            return false;
        auto ea = encode(a, encoding::der), eb = encode(b, encoding::der);
        return ea.size() == eb.size() && CRYPTO_memcmp(ea.data(), eb.data(), ea.size()) == 0;
    }

    /// True when `in` starts like DER PKCS#12 (version 3) even if it is cut short: used to say
    /// "truncated PKCS#12" instead of "garbage".
    static bool starts_like_pkcs12(std::span<const std::uint8_t> in) {
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

    // ---- inspection --------------------------------------------------------------------------

    bool matches(const certificate& cert, const private_key& key) const {
        bool ok = X509_check_private_key(cert.get(), key.get()) == 1;
        ERR_clear_error();
        return ok;
    }

    cert_info describe(const certificate& cert) const {
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
        bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
            X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
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
                if ((len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                                         ASN1_STRING_get0_data(s), buf, sizeof buf))
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

    /// SHA-256 over the DER certificate, "AB:CD:...".
    std::string fingerprint(const certificate& cert) const {
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

    // ---- encoding ----------------------------------------------------------------------------

    bytes encode(const certificate& cert, encoding e) const {
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

    /// PKCS#8, unencrypted (the file's protection is its mode and folder).
    secret_bytes encode(const private_key& key, encoding e) const {
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

    /// The public half of a key, as a new EVP_PKEY.
    static bssl::UniquePtr<EVP_PKEY> public_of(const private_key& key) {
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
        return pub;
    }

    /// "EC P-256", "RSA 2048", "Ed25519".
    static std::string key_description(const private_key& k) { return key_description(k.get()); }
    static std::string key_description(EVP_PKEY* k) {
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

    static time_point to_time_point(const ASN1_TIME* t) {
        bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
        int days = 0, secs = 0;
        if (!t || !epoch || !ASN1_TIME_diff(&days, &secs, epoch.get(), t)) {
            ERR_clear_error();
            return time_point{};
        }
        return time_point{} + std::chrono::seconds(std::int64_t(days) * 86400 + secs);
    }

private:
    [[noreturn]] static void fail(std::string_view where, std::string step, std::string cause) {
        throw error(errc::crypto_failed, std::string(where), std::move(step),
                    with_ssl_error(std::move(cause)));
    }
    [[noreturn]] static void fail_parse(std::string_view where, std::string step,
                                        std::string cause) {
        ERR_clear_error();
        throw error(errc::parse_failed, std::string(where), std::move(step), std::move(cause));
    }
    static void check_size(std::span<const std::uint8_t> in, std::string_view where) {
        if (in.size() > max_input_size)
            throw error(errc::too_large, std::string(where), "read",
                        "larger than 1 MiB; not a certificate or key");
    }

    static bssl::UniquePtr<X509> der_to_x509(std::span<const std::uint8_t> der) {
        const std::uint8_t* p = der.data();
        bssl::UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
        if (x && p != der.data() + der.size())
            x.reset(); // trailing garbage
        ERR_clear_error();
        return x;
    }

    /// A GeneralName other than dNSName and iPAddress, for display: "URI:...", "email:...",
    /// "DirName:...", or its type.
    /// `quoted` puts the value in quotes, so a value holding ", DNS:..." reads as one value.
    static std::string other_name_text(const GENERAL_NAME* gn, bool quoted = false) {
        auto text = [quoted](const ASN1_STRING* s) {
            auto v = printable_name(
                std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
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

    static std::string name_text(const X509_NAME* n) {
        bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
        if (X509_NAME_print_ex(bio.get(), n, 0, XN_FLAG_RFC2253) < 0)
            return {};
        const std::uint8_t* data = nullptr;
        std::size_t len = 0;
        BIO_mem_contents(bio.get(), &data, &len);
        return std::string(reinterpret_cast<const char*>(data), len);
    }

    /// Adds one extension built from its structure (never from a configuration string, so no
    /// byte of a name can turn into syntax).
    static void add_ext(X509* x, int nid, void* value, bool critical) {
        if (!X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT))
            fail("", "create certificate",
                 "adding the " + std::string(OBJ_nid2sn(nid)) + " extension failed");
    }

    /// SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 4.2.1.2, method 1).
    static bssl::UniquePtr<ASN1_OCTET_STRING> key_id_of(X509* x) {
        const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(x);
        std::uint8_t md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        bssl::UniquePtr<ASN1_OCTET_STRING> id(ASN1_OCTET_STRING_new());
        if (!bits || !id ||
            !EVP_Digest(ASN1_STRING_get0_data(bits),
                        static_cast<std::size_t>(ASN1_STRING_length(bits)), md, &len, EVP_sha1(),
                        nullptr) ||
            !ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)))
            fail("", "create certificate", "computing the key identifier failed");
        return id;
    }

    /// The subjectAltName GeneralNames for `p`: each DNS name (checked, IA5String) and each IP
    /// address (checked, its octets), in order, duplicates once; null when there are none.
    static bssl::UniquePtr<GENERAL_NAMES> alt_names_of(const profile& p) {
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

    certificate sign(const certificate* issuer, const private_key& signer, EVP_PKEY* subject_key,
                     const profile& p, time_point not_before, time_point not_after) const {
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
            !X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_UTF8,
                reinterpret_cast<const std::uint8_t*>(p.common_name.c_str()), -1, -1, 0) ||
            (!p.organization.empty() &&
             !X509_NAME_add_entry_by_txt(
                 name, "O", MBSTRING_UTF8,
                 reinterpret_cast<const std::uint8_t*>(p.organization.c_str()), -1, -1, 0)) ||
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
            akid->keyid =
                issuer_ski ? ASN1_STRING_dup(issuer_ski) : key_id_of(issuer->get()).release();
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

    private_key parse_pem_key(const detail::pem_block& b, const secret_bytes* password,
                              std::string_view where) const {
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
                int n = static_cast<int>(
                    std::min<std::size_t>(pw->size(), static_cast<std::size_t>(size)));
                std::memcpy(buf, pw->data(), n);
                return n;
            };
            if (!PEM_do_header(&info, data.data(), &len, cb, &ctx)) {
                ERR_clear_error();
                throw error(errc::wrong_password, std::string(where), "load key",
                            "wrong password for the encrypted key");
            }
            data.resize(static_cast<std::size_t>(len));
            return parse_der_key(data, nullptr, where);
        }
        if (b.label == "PRIVATE KEY" || b.label == "RSA PRIVATE KEY" || b.label == "EC PRIVATE KEY")
            return parse_der_key(b.der, password, where);
        throw error(errc::unsupported_key, std::string(where), "load key",
                    "\"" + b.label +
                        "\" keys cannot be used by a TLS server (use RSA, ECDSA or Ed25519)");
    }

    private_key decrypt_pkcs8(std::span<const std::uint8_t> der, const secret_bytes* password,
                              std::string_view where) const {
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

    /// DER: PKCS#8 PrivateKeyInfo, EncryptedPrivateKeyInfo, PKCS#1 RSAPrivateKey, SEC1.
    private_key parse_der_key(std::span<const std::uint8_t> der, const secret_bytes* password,
                              std::string_view where) const {
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

    /// The PKCS#8-library reasons on the error queue, first (the cause) first; clears it.
    static std::vector<int> drain_pkcs8_reasons() {
        std::vector<int> out;
        while (std::uint32_t e = ERR_get_error())
            if (ERR_GET_LIB(e) == ERR_LIB_PKCS8)
                out.push_back(ERR_GET_REASON(e));
        return out;
    }

    /// An AlgorithmIdentifier found in a structure: OID (dotted) and whether it has parameters.
    struct algorithm_use {
        std::string oid;
        bool has_parameters = false;
    };

    /// Every SEQUENCE that starts with an OID, walking constructed elements and OCTET STRINGs
    /// that hold DER (PKCS#12 nests its contents that way). Bounded depth and count.
    static void collect_algorithms(CBS in, int depth, std::vector<algorithm_use>& out) {
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
            else if (tag == CBS_ASN1_OCTETSTRING && CBS_len(&body) > 2 &&
                     CBS_data(&body)[0] == 0x30)
                collect_algorithms(body, depth + 1, out);
        }
        ERR_clear_error();
    }

    /**
     * Why BoringSSL cannot decrypt `der` (a PKCS#12 bundle or an encrypted PKCS#8 key), named
     * exactly, or nullopt when the encryption it uses is one BoringSSL supports.
     */
    static std::optional<std::string> unsupported_encryption(std::span<const std::uint8_t> der,
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
        auto has = [&](int r) {
            return std::find(reasons.begin(), reasons.end(), r) != reasons.end();
        };
        if (has(PKCS8_R_UNSUPPORTED_CIPHER) || has(PKCS8_R_UNKNOWN_CIPHER) ||
            has(PKCS8_R_UNKNOWN_ALGORITHM) || has(PKCS8_R_UNKNOWN_CIPHER_ALGORITHM) ||
            has(PKCS8_R_UNSUPPORTED_PRF) || has(PKCS8_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION) ||
            has(PKCS8_R_UNSUPPORTED_KEYLENGTH) || has(PKCS8_R_UNSUPPORTED_SALT_TYPE) ||
            has(PKCS8_R_UNKNOWN_HASH) || has(PKCS8_R_UNKNOWN_DIGEST))
            return std::string(
                "encrypted with a cipher or key derivation BoringSSL cannot decrypt");
        return std::nullopt;
    }

    /// `der` with a NULL parameter added to every parameterless hmacWithSHA* AlgorithmIdentifier
    /// (1.2.840.113549.2.7 .. .11); nullopt when it is not DER.
    static std::optional<secret_bytes> add_null_prf_parameters(std::span<const std::uint8_t> der) {
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
    static bool rewrite_prf(CBS in, CBB* out, int depth) {
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
                CBS_data(&oid)[sizeof hmac_prefix] >= 7 &&
                CBS_data(&oid)[sizeof hmac_prefix] <= 11) {
                CBB null;
                if (!CBB_add_asn1(&child, &null, CBS_ASN1_NULL))
                    return false;
            }
            if (!CBB_flush(out))
                return false;
        }
        return true;
    }

    static void check_usable(const private_key& k, std::string_view where) {
        check_usable(k.get(), where);
    }
    static void check_usable(EVP_PKEY* k, std::string_view where) {
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
};

static_assert(policy::CryptoBackend<boringssl>);

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_HPP
