#ifndef FCS_ACME_CHALLENGES_HPP
#define FCS_ACME_CHALLENGES_HPP

// What the servers answer while an ACME CA validates a challenge: for tls-alpn-01 (RFC 8737)
// a self-signed certificate for the identifier with a critical acmeIdentifier extension
// (1.3.6.1.5.5.7.1.31) holding SHA-256 of the key authorization, shown to a handshake that
// offers ALPN "acme-tls/1"; for http-01 (RFC 8555 8.3) the key authorization under
// /.well-known/acme-challenge/TOKEN. The ACME client adds, the servers read; thread-safe.

#include <fcs/acme/jws.hpp>
#include <fcs/acme/schedule.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>
#include <fcs/tls/server_context.hpp>

#include <openssl/obj.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace fcs::acme {

/// The challenge types fcs answers.
enum class challenge_type { tls_alpn_01, http_01 };

inline const char* to_string(challenge_type t) noexcept {
    return t == challenge_type::tls_alpn_01 ? "tls-alpn-01" : "http-01";
}

/// The ALPN protocol of tls-alpn-01, as it appears on the wire (length-prefixed).
inline constexpr std::string_view acme_tls_alpn = "acme-tls/1";

/**
 * The server name a validating CA sends as SNI for `id`: the name itself, or for an IP
 * address its reverse-DNS name (RFC 8738 section 6: "4.3.2.1.in-addr.arpa", nibbles for IPv6).
 */
inline std::string sni_of(const identifier& id) {
    if (id.type == identifier::kind::dns) {
        std::string s = id.value;
        for (auto& c : s)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        return s;
    }
    auto octets = ip_address_octets(id.value);
    if (!octets)
        throw error(errc::invalid_argument, id.value, "answer an ACME challenge",
                    "not an IP address");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (auto it = octets->rbegin(); it != octets->rend(); ++it) {
        if (octets->size() == 4) {
            out += std::to_string(*it) + ".";
        } else {
            out += hex[*it & 15];
            out += '.';
            out += hex[*it >> 4];
            out += '.';
        }
    }
    return out + (octets->size() == 4 ? "in-addr.arpa" : "ip6.arpa");
}

/**
 * The tls-alpn-01 certificate for `id` and `key_authorization` (RFC 8737 section 3): self-
 * signed (a new P-256 key), its only subjectAltName the identifier, and the acmeIdentifier
 * extension, critical, whose value is the DER OCTET STRING of SHA-256(key authorization).
 * Valid from an hour ago for a week.
 * @throws fcs::error (invalid_argument for a bad identifier, crypto_failed).
 */
inline tls::prepared_ptr tls_alpn_certificate(const identifier& id,
                                              std::string_view key_authorization) {
    crypto::boringssl c;
    auto key = c.generate_key(key_type::ec_p256);
    certificate_profile p;
    p.common_name = "ACME challenge";
    if (id.type == identifier::kind::dns)
        p.dns_names = {id.value};
    else
        p.ip_addresses = {id.value};
    const auto now = std::chrono::system_clock::now();
    auto cert = c.self_sign(key, p, now - std::chrono::hours(1), now + std::chrono::days(7));

    auto digest = sha256(key_authorization);
    // extnValue = DER OCTET STRING (04 20 <digest>), itself carried in the extension's OCTET
    // STRING.
    std::uint8_t der[34] = {0x04, 0x20};
    std::copy(digest.begin(), digest.end(), der + 2);
    bssl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", /*dont_search_names=*/1));
    bssl::UniquePtr<ASN1_OCTET_STRING> value(ASN1_OCTET_STRING_new());
    if (!oid || !value || !ASN1_OCTET_STRING_set(value.get(), der, sizeof der))
        throw error(errc::crypto_failed, id.value, "make the tls-alpn-01 certificate",
                    "out of memory");
    bssl::UniquePtr<X509_EXTENSION> ext(
        X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/1, value.get()));
    // The certificate was made here and is not shared yet: extend it and sign it again.
    if (!ext || !X509_add_ext(cert.get(), ext.get(), -1) ||
        !X509_sign(cert.get(), key.get(), EVP_sha256()))
        throw error(errc::crypto_failed, id.value, "make the tls-alpn-01 certificate",
                    crypto::with_ssl_error("adding the acmeIdentifier extension failed"));
    std::vector<crypto::boringssl::certificate> chain{cert};
    return tls::prepared_credential::make(chain, key, c.fingerprint(cert),
                                          "tls-alpn-01 certificate for " + id.value);
}

/**
 * The answers to pending challenges, shared by the ACME client (which adds and removes them)
 * and the servers (which read them: tls::server_context through answer_alpn(), the http-01
 * listener through http_answer()). Thread-safe; bounded (at most max_pending of each kind).
 */
class challenge_responder {
public:
    static constexpr std::size_t max_pending = 100;

    /// Shows the tls-alpn-01 certificate for `id` to handshakes for it (SNI) that offer
    /// acme-tls/1.
    void add_tls_alpn(const identifier& id, std::string_view key_authorization) {
        auto cert = tls_alpn_certificate(id, key_authorization);
        std::lock_guard lock(mutex_);
        if (alpn_.size() >= max_pending && !alpn_.contains(sni_of(id)))
            throw error(errc::too_large, id.value, "answer an ACME challenge",
                        "too many pending tls-alpn-01 challenges");
        alpn_[sni_of(id)] = std::move(cert);
    }

    /// Serves `key_authorization` at /.well-known/acme-challenge/`token`.
    void add_http(std::string token, std::string key_authorization) {
        std::lock_guard lock(mutex_);
        if (http_.size() >= max_pending && !http_.contains(token))
            throw error(errc::too_large, token, "answer an ACME challenge",
                        "too many pending http-01 challenges");
        http_[std::move(token)] = std::move(key_authorization);
    }

    void remove_tls_alpn(const identifier& id) {
        std::lock_guard lock(mutex_);
        alpn_.erase(sni_of(id));
    }
    void remove_http(const std::string& token) {
        std::lock_guard lock(mutex_);
        http_.erase(token);
    }

    /**
     * The tls-alpn-01 certificate for a handshake with server name `sni` (lower case
     * compared). Without SNI, the only pending certificate if there is exactly one (a CA that
     * validates an IP address may send none).
     */
    tls::prepared_ptr alpn_certificate(std::string_view sni) const {
        std::string key(sni);
        for (auto& c : key)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        std::lock_guard lock(mutex_);
        if (!key.empty()) {
            auto it = alpn_.find(key);
            return it == alpn_.end() ? nullptr : it->second;
        }
        return alpn_.size() == 1 ? alpn_.begin()->second : nullptr;
    }

    /// The key authorization to answer for `token`, if one is pending.
    std::optional<std::string> http_answer(std::string_view token) const {
        std::lock_guard lock(mutex_);
        auto it = http_.find(std::string(token));
        if (it == http_.end())
            return std::nullopt;
        return it->second;
    }

    /// Connects `tls` so handshakes offering acme-tls/1 get the pending certificates.
    void serve_on(tls::server_context& tls) const {
        tls.answer_alpn(std::string(acme_tls_alpn),
                        [self = weak_from(this)](std::string_view sni) -> tls::prepared_ptr {
                            auto s = self.lock();
                            return s ? s->alpn_certificate(sni) : nullptr;
                        });
    }

    static std::shared_ptr<challenge_responder> make() {
        auto p = std::shared_ptr<challenge_responder>(new challenge_responder);
        p->self_ = p;
        return p;
    }

private:
    challenge_responder() = default;
    static std::weak_ptr<const challenge_responder> weak_from(const challenge_responder* p) {
        return p->self_;
    }

    mutable std::mutex mutex_;
    std::map<std::string, tls::prepared_ptr, std::less<>> alpn_;
    std::map<std::string, std::string, std::less<>> http_;
    std::weak_ptr<challenge_responder> self_;
};

} // namespace fcs::acme

#endif // FCS_ACME_CHALLENGES_HPP
