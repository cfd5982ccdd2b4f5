#ifndef FCS_CRYPTO_BORINGSSL_AEAD_HPP
#define FCS_CRYPTO_BORINGSSL_AEAD_HPP

// AES-256-GCM through BoringSSL's EVP_AEAD: sealing secrets (a private key, ticket keys) under
// a key-encryption key, with associated data that binds each sealed item to its place.

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>

#include <openssl/aead.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace fcs::crypto {

/// An AES-256-GCM sealed item: a random 96-bit nonce, and the ciphertext with its 16-byte tag.
struct aes256gcm_box {
    static constexpr std::size_t key_size = 32;
    static constexpr std::size_t nonce_size = 12;
    std::array<std::uint8_t, nonce_size> nonce{};
    std::vector<std::uint8_t> data;
};

namespace aead_detail {
inline void aes256gcm_init(bssl::ScopedEVP_AEAD_CTX& ctx, std::span<const std::uint8_t> key,
                           const char* step) {
    if (key.size() != aes256gcm_box::key_size)
        throw error(errc::invalid_argument, "", step, "an AES-256-GCM key has 32 bytes");
    if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_256_gcm(), key.data(), key.size(),
                           EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) {
        ERR_clear_error();
        throw error(errc::crypto_failed, "", step, "AES-256-GCM set-up failed");
    }
}
inline std::span<const std::uint8_t> text_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace aead_detail

/**
 * Seals `plain` under the 32-byte `key` with a fresh random nonce; `ad` (associated data) is
 * authenticated, not stored: opening needs the same.
 * @throws fcs::error(errc::invalid_argument) for a key that is not 32 bytes;
 *         errc::crypto_failed when BoringSSL fails.
 */
inline aes256gcm_box aes256gcm_seal(std::span<const std::uint8_t> key,
                                    std::span<const std::uint8_t> plain, std::string_view ad) {
    bssl::ScopedEVP_AEAD_CTX ctx;
    aead_detail::aes256gcm_init(ctx, key, "encrypt");
    aes256gcm_box box;
    if (!RAND_bytes(box.nonce.data(), box.nonce.size()))
        throw error(errc::crypto_failed, "", "encrypt", "no random bytes for the nonce");
    box.data.resize(plain.size() + EVP_AEAD_max_overhead(EVP_aead_aes_256_gcm()));
    std::size_t n = 0;
    auto a = aead_detail::text_bytes(ad);
    if (!EVP_AEAD_CTX_seal(ctx.get(), box.data.data(), &n, box.data.size(), box.nonce.data(),
                           box.nonce.size(), plain.data(), plain.size(), a.data(), a.size())) {
        ERR_clear_error();
        throw error(errc::crypto_failed, "", "encrypt", "AES-256-GCM encryption failed");
    }
    box.data.resize(n);
    return box;
}

/**
 * Opens what aes256gcm_seal() sealed. Returns false, and leaves `out_plain` alone, when the
 * key or the associated data differ or the nonce or data were altered.
 * @throws fcs::error(errc::invalid_argument) for a key that is not 32 bytes.
 */
inline bool aes256gcm_open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                           std::span<const std::uint8_t> data, std::string_view ad,
                           secret_bytes& out_plain) {
    bssl::ScopedEVP_AEAD_CTX ctx;
    aead_detail::aes256gcm_init(ctx, key, "decrypt");
    if (nonce.size() != aes256gcm_box::nonce_size)
        return false;
    secret_bytes plain(data.size());
    std::size_t n = 0;
    auto a = aead_detail::text_bytes(ad);
    if (!EVP_AEAD_CTX_open(ctx.get(), plain.data(), &n, plain.size(), nonce.data(), nonce.size(),
                           data.data(), data.size(), a.data(), a.size())) {
        ERR_clear_error();
        return false;
    }
    plain.resize(n);
    out_plain = std::move(plain);
    return true;
}

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_AEAD_HPP
