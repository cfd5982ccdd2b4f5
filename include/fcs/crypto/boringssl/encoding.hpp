#ifndef FCS_CRYPTO_BORINGSSL_ENCODING_HPP
#define FCS_CRYPTO_BORINGSSL_ENCODING_HPP

// Base64 (RFC 4648 section 4: the standard alphabet, '=' padding, no line breaks) through
// BoringSSL's EVP_EncodeBlock / EVP_DecodeBase64, bounded on both sides. The etcd storage
// stores with it (etcd's JSON gateway carries keys and values in base64) and reads what a
// store holds with it: decoding refuses, rather than guesses at, anything not canonical.

#include <fcs/config.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace fcs::crypto {

/// The longest base64 text base64_decode() reads: above any etcd answer (at most 8 MiB).
inline constexpr std::size_t base64_max_text = 16u << 20;
/// The most bytes base64_encode() encodes (their base64 is base64_max_text long).
inline constexpr std::size_t base64_max_bytes = base64_max_text / 4 * 3;

/**
 * The base64 of `in` (padded, one line).
 * @throws fcs::error(errc::too_large) for more than base64_max_bytes.
 */
FCS_DECL std::string base64_encode(std::span<const std::uint8_t> in);

/// The most bytes `text_size` characters of base64 decode to; 0 beyond base64_max_text.
FCS_DECL std::size_t base64_decoded_max(std::size_t text_size) noexcept;

/**
 * Decodes `in` into `out` (which has room for base64_decoded_max(in.size()) bytes) and sets
 * `out_len`. Returns false, `out_len` untouched, for text longer than base64_max_text, a
 * length that is not a multiple of 4, a character outside the alphabet (whitespace
 * included), or misplaced padding.
 */
[[nodiscard]] FCS_DECL bool base64_decode(std::string_view in, std::span<std::uint8_t> out,
                                          std::size_t& out_len);

/**
 * Decodes `in` into `out_bytes`, resized to the decoded length. Returns false, and leaves
 * `out_bytes` alone, when `in` is not valid base64 (see above).
 * @tparam Bytes a contiguous container of 1-byte elements with resize(): std::string,
 *         std::vector<std::uint8_t>, fcs::secret_bytes (for secrets: the one buffer the
 *         decoded bytes go to cleanses itself).
 */
template <class Bytes>
[[nodiscard]] bool base64_decode(std::string_view in, Bytes& out_bytes) {
    static_assert(sizeof(typename Bytes::value_type) == 1,
                  "fcs::crypto::base64_decode decodes into a container of bytes");
    Bytes decoded;
    decoded.resize(base64_decoded_max(in.size()));
    std::size_t n = 0;
    if (!base64_decode(in,
                       std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(decoded.data()),
                                               decoded.size()),
                       n))
        return false;
    decoded.resize(n);
    out_bytes = std::move(decoded);
    return true;
}

} // namespace fcs::crypto

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/encoding.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_ENCODING_HPP
