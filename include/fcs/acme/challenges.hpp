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

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
    auto cert = crypto::acme_challenge_certificate(key, p, now - std::chrono::hours(1),
                                                   now + std::chrono::days(7),
                                                   sha256(key_authorization));
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
        alpn_answers_[sni_of(id)] = {id, std::string(key_authorization)};
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
        alpn_answers_.erase(sni_of(id));
    }
    void remove_http(const std::string& token) {
        std::lock_guard lock(mutex_);
        http_.erase(token);
    }

    /**
     * The tls-alpn-01 certificate for a handshake with server name `sni` (lower case
     * compared), pending here or mirrored from the node that renews. Without SNI, the only
     * pending certificate if there is exactly one (a CA that validates an IP address may send
     * none).
     */
    tls::prepared_ptr alpn_certificate(std::string_view sni) const {
        std::string key(sni);
        for (auto& c : key)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        std::lock_guard lock(mutex_);
        if (!key.empty()) {
            if (auto it = alpn_.find(key); it != alpn_.end())
                return it->second;
            auto it = mirrored_alpn_.find(key);
            return it == mirrored_alpn_.end() ? nullptr : it->second.second;
        }
        if (alpn_.size() + mirrored_alpn_.size() != 1)
            return nullptr;
        return alpn_.empty() ? mirrored_alpn_.begin()->second.second : alpn_.begin()->second;
    }

    /// The key authorization to answer for `token`, if one is pending here or mirrored.
    std::optional<std::string> http_answer(std::string_view token) const {
        std::lock_guard lock(mutex_);
        if (auto it = http_.find(token); it != http_.end())
            return it->second;
        if (auto it = mirrored_http_.find(token); it != mirrored_http_.end())
            return it->second;
        return std::nullopt;
    }

    /**
     * The answers pending here, as text for the other nodes of a group (mirror() reads it):
     * one line each, "tls-alpn-01 dns|ip VALUE KEYAUTH" or "http-01 TOKEN KEYAUTH". A key
     * authorization is public by design (the CA fetches it from anyone's view of the server).
     */
    std::string shared_text() const {
        std::lock_guard lock(mutex_);
        std::string out;
        for (auto& [sni, a] : alpn_answers_)
            out += "tls-alpn-01 " + std::string(a.first.type == identifier::kind::dns ? "dns" : "ip") +
                   " " + a.first.value + " " + a.second + "\n";
        for (auto& [token, key_auth] : http_)
            out += "http-01 " + token + " " + key_auth + "\n";
        return out;
    }

    /**
     * Answers what another node of the group has pending (its shared_text(), read from the
     * storage), replacing what was mirrored before; "" withdraws it all. The text comes from
     * the store: every line is checked (identifiers, base64url tokens and key authorizations,
     * at most max_pending lines); a line that is not valid is ignored.
     */
    void mirror(std::string_view text) {
        std::map<std::string, std::pair<std::string, tls::prepared_ptr>, std::less<>> alpn;
        std::map<std::string, std::string, std::less<>> http;
        std::size_t lines = 0;
        while (!text.empty() && lines < 2 * max_pending) {
            auto nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
            ++lines;
            auto words = split_words(line);
            try {
                if (words.size() == 4 && words[0] == "tls-alpn-01" &&
                    (words[1] == "dns" || words[1] == "ip") && is_key_authorization(words[3])) {
                    identifier id{words[1] == "dns" ? identifier::kind::dns : identifier::kind::ip,
                                  std::string(words[2])};
                    const std::string key = sni_of(id), line_text(line);
                    std::lock_guard lock(mutex_);
                    auto old = mirrored_alpn_.find(key);
                    if (old != mirrored_alpn_.end() && old->second.first == line_text)
                        alpn[key] = old->second; // same answer: keep its certificate
                    else if (alpn.size() < max_pending)
                        alpn[key] = {line_text, nullptr};
                } else if (words.size() == 3 && words[0] == "http-01" &&
                           is_base64url(words[1]) && is_key_authorization(words[2]) &&
                           http.size() < max_pending) {
                    http[std::string(words[1])] = std::string(words[2]);
                }
            } catch (const error&) {
                // not a valid identifier: ignored
            }
        }
        // Certificates for new answers, made outside the lock.
        for (auto& [key, entry] : alpn) {
            if (entry.second)
                continue;
            auto words = split_words(entry.first);
            identifier id{words[1] == "dns" ? identifier::kind::dns : identifier::kind::ip,
                          std::string(words[2])};
            try {
                entry.second = tls_alpn_certificate(id, words[3]);
            } catch (const error&) {
            }
        }
        std::erase_if(alpn, [](auto& e) { return !e.second.second; });
        std::lock_guard lock(mutex_);
        mirrored_alpn_ = std::move(alpn);
        mirrored_http_ = std::move(http);
    }

    /// base64url characters only, 1 to 256 of them.
    static bool is_base64url(std::string_view s) {
        return !s.empty() && s.size() <= 256 &&
               std::all_of(s.begin(), s.end(), [](char c) {
                   return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_';
               });
    }
    /// TOKEN "." THUMBPRINT, both base64url.
    static bool is_key_authorization(std::string_view s) {
        auto dot = s.find('.');
        return dot != std::string_view::npos && is_base64url(s.substr(0, dot)) &&
               is_base64url(s.substr(dot + 1));
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

    static std::vector<std::string_view> split_words(std::string_view line) {
        std::vector<std::string_view> w;
        while (!line.empty() && w.size() < 5) {
            auto sp = line.find(' ');
            w.push_back(line.substr(0, sp));
            line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
        }
        return w;
    }

    mutable std::mutex mutex_;
    std::map<std::string, tls::prepared_ptr, std::less<>> alpn_; ///< by SNI
    std::map<std::string, std::pair<identifier, std::string>, std::less<>> alpn_answers_;
    std::map<std::string, std::string, std::less<>> http_;
    /// From the node that renews (mirror()): by SNI, its line and certificate; by token.
    std::map<std::string, std::pair<std::string, tls::prepared_ptr>, std::less<>> mirrored_alpn_;
    std::map<std::string, std::string, std::less<>> mirrored_http_;
    std::weak_ptr<challenge_responder> self_;
};

} // namespace fcs::acme

#endif // FCS_ACME_CHALLENGES_HPP
