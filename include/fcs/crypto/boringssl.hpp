#ifndef FCS_CRYPTO_BORINGSSL_HPP
#define FCS_CRYPTO_BORINGSSL_HPP

// The BoringSSL crypto backend. This header is the backend's whole interface; the work is
// done in crypto/boringssl/: handles.hpp (shared handles, errors), build.hpp (keys and
// certificates), parse.hpp + pkcs8.hpp (reading by content), csr.hpp (requests),
// inspect.hpp (what a certificate or key says, encoding).

#include <fcs/crypto/boringssl/build.hpp>
#include <fcs/crypto/boringssl/csr.hpp>
#include <fcs/crypto/boringssl/handles.hpp>
#include <fcs/crypto/boringssl/inspect.hpp>
#include <fcs/crypto/boringssl/parse.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::crypto {

/**
 * The BoringSSL crypto backend: key generation, X.509 creation and signing, parsing by
 * content (PEM, DER, PKCS#1, SEC1, PKCS#8 plain and encrypted, legacy PEM encryption,
 * PKCS#12), key/cert match, fingerprints. Every C handle is held by bssl::UniquePtr.
 * Failures throw fcs::error naming the location passed in (the file) and the cause.
 */
class boringssl {
public:
    using policy_kind = policy::kind::crypto;

    /// A parsed X.509 certificate (shared, immutable; `get()` is the X509*).
    using certificate = boringssl_detail::certificate;
    /// A private key (shared, immutable; `get()` is the EVP_PKEY*). Never printable.
    using private_key = boringssl_detail::private_key;
    /// The public half of a key (what a certificate is issued for).
    using public_key = boringssl_detail::public_key;
    /// What a new certificate says (fcs::certificate_profile).
    using profile = certificate_profile;
    /// A key and its certificate chain read from one input (PKCS#12 or a combined PEM).
    using bundle = boringssl_detail::bundle;
    /// A PKCS#10 certificate request whose self-signature has been checked: its public key,
    /// subject, common name, requested DNS names and IP addresses, and other names (for
    /// display only; never signed).
    using certificate_request = boringssl_detail::certificate_request;
    /// The most subjectAltName entries read from a certificate request.
    static constexpr std::size_t max_request_names = boringssl_detail::max_request_names;

    // ---- generation ------------------------------------------------------------------------

    /// A new key of `type`.
    private_key generate_key(key_type type) const { return boringssl_detail::generate_key(type); }

    /// A self-signed certificate for `key`.
    certificate self_sign(const private_key& key, const certificate_profile& p,
                          time_point not_before, time_point not_after) const {
        auto pub = public_of(key);
        return boringssl_detail::sign(nullptr, key, pub.get(), p, not_before, not_after);
    }

    /// `issuer` (with `issuer_key`) signs a certificate for `subject`.
    /// Refused with errc::not_a_ca when the issuer is not a CA.
    certificate issue(const certificate& issuer, const private_key& issuer_key,
                      const public_key& subject, const certificate_profile& p,
                      time_point not_before, time_point not_after) const {
        if (!describe(issuer).is_ca)
            throw error(errc::not_a_ca, "", "issue certificate",
                        "the issuing certificate is not a CA (basicConstraints CA:TRUE missing)");
        return boringssl_detail::sign(&issuer, issuer_key, subject.get(), p, not_before, not_after);
    }

    // ---- parsing -----------------------------------------------------------------------------

    /// Every certificate in `in` (PEM blocks, or one DER certificate). Throws when none.
    std::vector<certificate> parse_certificates(std::span<const std::uint8_t> in,
                                                std::string_view where) const {
        return boringssl_detail::parse_certificates(in, where);
    }

    /// The private key in `in`: PKCS#8 (plain or encrypted), PKCS#1, SEC1, legacy encrypted
    /// PEM; PEM or DER. `password` may be null. Checks that a TLS server can use the key.
    private_key parse_private_key(std::span<const std::uint8_t> in, const secret_bytes* password,
                                  std::string_view where) const {
        return boringssl_detail::parse_private_key(in, password, where);
    }

    /// A PKCS#12 bundle. No password: the empty one is tried, then errc::key_encrypted.
    bundle parse_pkcs12(std::span<const std::uint8_t> in, const secret_bytes* password,
                        std::string_view where) const {
        return boringssl_detail::parse_pkcs12(in, password, where);
    }

    /// True when `in` looks like DER PKCS#12 (SEQUENCE { INTEGER 3, SEQUENCE { OID data ... } }).
    static bool looks_like_pkcs12(std::span<const std::uint8_t> in) {
        return boringssl_detail::looks_like_pkcs12(in);
    }

    /// True when `in` starts like DER PKCS#12 (version 3) even if it is cut short: used to say
    /// "truncated PKCS#12" instead of "garbage".
    static bool starts_like_pkcs12(std::span<const std::uint8_t> in) {
        return boringssl_detail::starts_like_pkcs12(in);
    }

    /**
     * A certificate request (PEM "CERTIFICATE REQUEST" or DER). Refused unless its signature
     * verifies with its own public key and that key is usable by a TLS server.
     * @throws fcs::error naming `where`: errc::parse_failed, errc::unsupported_key.
     */
    certificate_request parse_csr(std::span<const std::uint8_t> in, std::string_view where) const {
        return boringssl_detail::parse_csr(in, where);
    }

    // ---- inspection --------------------------------------------------------------------------

    /// True when both keys are the same private key (their PKCS#8 encodings are equal,
    /// compared in constant time).
    bool same_key(const private_key& a, const private_key& b) const {
        return boringssl_detail::same_key(a, b);
    }

    /// True when `key` is the private key of `cert`.
    bool matches(const certificate& cert, const private_key& key) const {
        return boringssl_detail::matches(cert, key);
    }

    /// Subject, issuer, dates, serial, SANs (every kind, printable), CA flag, self-signed.
    cert_info describe(const certificate& cert) const { return boringssl_detail::describe(cert); }

    /// SHA-256 over the DER certificate, "AB:CD:...".
    std::string fingerprint(const certificate& cert) const {
        return boringssl_detail::fingerprint(cert);
    }

    // ---- encoding ----------------------------------------------------------------------------

    /// The certificate, DER or PEM.
    bytes encode(const certificate& cert, encoding e) const {
        return boringssl_detail::encode(cert, e);
    }

    /// PKCS#8, unencrypted (the file's protection is its mode and folder).
    secret_bytes encode(const private_key& key, encoding e) const {
        return boringssl_detail::encode(key, e);
    }

    /// The public half of a key.
    static public_key public_of(const private_key& key) { return boringssl_detail::public_of(key); }

    /// "EC P-256", "RSA 2048", "Ed25519".
    static std::string key_description(const private_key& k) {
        return boringssl_detail::key_description(k);
    }
    static std::string key_description(const public_key& k) {
        return boringssl_detail::key_description(k);
    }
};

static_assert(policy::CryptoBackend<boringssl>);

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_HPP
