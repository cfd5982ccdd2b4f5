#ifndef FCS_CRYPTO_BORINGSSL_MAC_HPP
#define FCS_CRYPTO_BORINGSSL_MAC_HPP

// Message authentication through BoringSSL: HMAC-SHA256 (RFC 2104), the HKDF-SHA256 key
// derivation built on it (RFC 5869), and the constant-time comparison that checking a MAC
// needs. The etcd storage authenticates each bundle with an HMAC under a key derived from its
// key-encryption key.

#include <fcs/config.hpp>
#include <fcs/detail/secret.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fcs::crypto {

/// An HMAC-SHA256 value (32 bytes).
using hmac_sha256_value = std::array<std::uint8_t, 32>;

/// The most bytes HKDF-SHA256 derives from one secret (RFC 5869: 255 hash lengths).
inline constexpr std::size_t hkdf_sha256_max_length = 255 * 32;

/**
 * The HMAC-SHA256 of `data` under `key`, written to `out_mac`. Returns false, `out_mac`
 * untouched, when BoringSSL fails.
 */
[[nodiscard]] FCS_DECL bool hmac_sha256(std::span<const std::uint8_t> key,
                                        std::span<const std::uint8_t> data,
                                        hmac_sha256_value& out_mac);

/**
 * HKDF-SHA256 (extract, then expand): `length` bytes derived from `secret`, `salt` (empty: a
 * hash length of zeros, as RFC 5869 says) and `info` (what the key is for), written to
 * `out_key`. Returns false, `out_key` untouched, for a length above hkdf_sha256_max_length or
 * when BoringSSL fails.
 */
[[nodiscard]] FCS_DECL bool hkdf_sha256(std::span<const std::uint8_t> secret,
                                        std::span<const std::uint8_t> salt,
                                        std::span<const std::uint8_t> info, std::size_t length,
                                        secret_bytes& out_key);

/**
 * Whether `a` and `b` hold the same bytes, in a time that depends on their sizes only, never
 * on where they differ (CRYPTO_memcmp): compare a received MAC with the expected one through
 * this, so a forger learns nothing from the timing. Different sizes are unequal.
 */
FCS_DECL bool equal_constant_time(std::span<const std::uint8_t> a,
                                  std::span<const std::uint8_t> b) noexcept;

/// equal_constant_time() for text (a MAC in base64).
inline bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
    return equal_constant_time(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(a.data()), a.size()),
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()));
}

} // namespace fcs::crypto

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/mac.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_MAC_HPP
