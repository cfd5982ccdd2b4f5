#ifndef FCS_ACME_JWS_HPP
#define FCS_ACME_JWS_HPP

// The signed requests of ACME (RFC 8555 section 6.2, RFC 7515 flattened JSON serialization):
// the account key (ECDSA P-256), its JWK and thumbprint (RFC 7638), ES256 signatures in the raw
// r||s form JWS wants (not the DER BoringSSL makes), key authorizations (RFC 8555 8.1) and the
// External Account Binding (RFC 8555 7.3.4, HS256). Needs BoringSSL.

#include <fcs/crypto/boringssl.hpp>
#include <fcs/crypto/boringssl/jose.hpp>
#include <fcs/crypto/boringssl/mac.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace fcs::acme {

/// base64url without padding (RFC 7515 section 2).
inline std::string base64url(std::span<const std::uint8_t> in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (in.size() - i == 1) {
        std::uint32_t v = in[i] << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (in.size() - i == 2) {
        std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

inline std::string base64url(std::string_view in) {
    return base64url(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(in.data()), in.size()));
}

/**
 * base64url text (padding tolerated, nothing else) decoded into `out`, cleansing on the way:
 * an EAB HMAC key is a secret. False for any other character or an impossible length.
 */
inline bool base64url_decode(std::string_view in, secret_bytes& out) {
    while (!in.empty() && in.back() == '=')
        in.remove_suffix(1);
    if (in.size() % 4 == 1)
        return false;
    secret_bytes r;
    r.reserve(in.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0)
            return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            r.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    // The bits left over must be zero (RFC 4648 3.5: one text per byte string).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return false;
    out = std::move(r);
    return true;
}

/// The bytes of `s`.
inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// SHA-256 of `in`.
inline crypto::sha256_value sha256(std::string_view in) { return crypto::sha256(bytes_of(in)); }

/**
 * The ACME account key: ECDSA P-256 (JWS "ES256"). Stored like a private key (PKCS#8 PEM, in
 * the secret part of the storage); never printed.
 */
class account_key {
public:
    using private_key = crypto::boringssl::private_key;

    /// A new P-256 key.
    static account_key generate() {
        return account_key(crypto::boringssl{}.generate_key(key_type::ec_p256));
    }

    /**
     * The key in `pem` (as stored by to_pem()).
     * @throws fcs::error naming `where`: not a key, or not P-256 (errc::unsupported_key).
     */
    static account_key from_pem(std::span<const std::uint8_t> pem, std::string_view where) {
        auto k = crypto::boringssl{}.parse_private_key(pem, nullptr, where);
        if (!crypto::is_ec_p256(k))
            throw error(errc::unsupported_key, std::string(where), "read the ACME account key",
                        "the account key must be ECDSA P-256 (ES256)");
        return account_key(std::move(k));
    }

    /// PKCS#8 PEM, for the storage.
    secret_bytes to_pem() const { return crypto::boringssl{}.encode(key_, encoding::pem); }

    /// The public JWK: {"crv":"P-256","kty":"EC","x":...,"y":...} (RFC 7518 6.2.1).
    nlohmann::json jwk() const {
        auto [x, y] = coordinates();
        return {{"crv", "P-256"}, {"kty", "EC"}, {"x", base64url(x)}, {"y", base64url(y)}};
    }

    /// RFC 7638 thumbprint: base64url(SHA-256(the required members in lexicographic order,
    /// no white space)).
    std::string thumbprint() const {
        auto [x, y] = coordinates();
        const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + base64url(x) +
                                      R"(","y":")" + base64url(y) + R"("})";
        auto d = sha256(canonical);
        return base64url(d);
    }

    /**
     * The ES256 signature of `input`: SHA-256, ECDSA, then r and s each as 32 big-endian bytes
     * (RFC 7518 3.4), base64url.
     * @throws fcs::error(crypto_failed) when BoringSSL cannot sign.
     */
    std::string sign(std::string_view input) const {
        return base64url(crypto::es256_sign(key_, bytes_of(input)));
    }

    const private_key& key() const noexcept { return key_; }

private:
    explicit account_key(private_key k)
        : key_(std::move(k)) {}

    std::pair<crypto::p256_scalar, crypto::p256_scalar> coordinates() const {
        return crypto::ec_p256_public_point(key_);
    }

    private_key key_;
};

/**
 * A flattened JWS (RFC 7515 7.2.2): {"protected", "payload", "signature"}. `payload` is the
 * JSON text, or empty for POST-as-GET (RFC 8555 6.3: the payload is the empty string).
 */
inline std::string sign_jws(const account_key& key, const nlohmann::json& protected_header,
                            std::string_view payload) {
    const std::string prot = base64url(protected_header.dump());
    const std::string body = base64url(payload);
    nlohmann::json jws = {
        {"protected", prot}, {"payload", body}, {"signature", key.sign(prot + "." + body)}};
    return jws.dump();
}

/**
 * The externalAccountBinding member of a newAccount payload (RFC 8555 7.3.4): a JWS over the
 * account's public JWK, protected {"alg":"HS256","kid":kid,"url":newAccount URL}, MAC'd with
 * the CA's HMAC key.
 * @throws fcs::error(crypto_failed) when the MAC cannot be computed.
 */
inline nlohmann::json external_account_binding(std::string_view kid,
                                               std::span<const std::uint8_t> hmac_key,
                                               const account_key& account, std::string_view url) {
    nlohmann::json prot = {{"alg", "HS256"}, {"kid", kid}, {"url", url}};
    const std::string p = base64url(prot.dump());
    const std::string body = base64url(account.jwk().dump());
    const std::string input = p + "." + body;
    crypto::hmac_sha256_value mac{};
    if (!crypto::hmac_sha256(hmac_key, bytes_of(input), mac))
        throw error(errc::crypto_failed, "", "bind the ACME account",
                    "HMAC-SHA256 over the external account binding failed");
    return {{"protected", p}, {"payload", body}, {"signature", base64url(mac)}};
}

/// The key authorization of a challenge: token "." thumbprint (RFC 8555 8.1).
inline std::string key_authorization(std::string_view token, const account_key& account) {
    return std::string(token) + "." + account.thumbprint();
}

} // namespace fcs::acme

#endif // FCS_ACME_JWS_HPP
