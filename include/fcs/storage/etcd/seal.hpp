#ifndef FCS_STORAGE_ETCD_SEAL_HPP
#define FCS_STORAGE_ETCD_SEAL_HPP

// Sealing the private key and ticket keys under the key-encryption key (detail).

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/codec.hpp>

#include <openssl/aead.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage::etcd_detail {

/// AES-256-GCM with a random 96-bit nonce; the associated data binds the item to its place.
struct sealed {
    std::string nonce; ///< base64
    std::string data;  ///< base64 of ciphertext and tag
};

inline sealed seal(const secret_bytes& kek, std::span<const std::uint8_t> plain,
                   std::string_view ad) {
    bssl::ScopedEVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_256_gcm(), kek.data(), kek.size(),
                           EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr))
        throw error(errc::crypto_failed, "", "encrypt", "AES-256-GCM set-up failed");
    std::uint8_t nonce[12];
    RAND_bytes(nonce, sizeof nonce);
    std::vector<std::uint8_t> out(plain.size() + EVP_AEAD_max_overhead(EVP_aead_aes_256_gcm()));
    std::size_t n = 0;
    if (!EVP_AEAD_CTX_seal(ctx.get(), out.data(), &n, out.size(), nonce, sizeof nonce, plain.data(),
                           plain.size(), reinterpret_cast<const std::uint8_t*>(ad.data()),
                           ad.size()))
        throw error(errc::crypto_failed, "", "encrypt", "AES-256-GCM encryption failed");
    out.resize(n);
    return {b64(std::span<const std::uint8_t>(nonce, sizeof nonce)), b64(out)};
}

/// nullopt when the KEK does not decrypt it (wrong key, or the value was altered).
inline std::optional<secret_bytes> open_sealed(const secret_bytes& kek, const sealed& s,
                                               std::string_view ad) {
    std::vector<std::uint8_t> nonce, data;
    if (!unb64(s.nonce, nonce) || !unb64(s.data, data) || nonce.size() != 12)
        return std::nullopt;
    bssl::ScopedEVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_256_gcm(), kek.data(), kek.size(),
                           EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr))
        throw error(errc::crypto_failed, "", "decrypt", "AES-256-GCM set-up failed");
    secret_bytes out(data.size());
    std::size_t n = 0;
    if (!EVP_AEAD_CTX_open(ctx.get(), out.data(), &n, out.size(), nonce.data(), nonce.size(),
                           data.data(), data.size(),
                           reinterpret_cast<const std::uint8_t*>(ad.data()), ad.size())) {
        ERR_clear_error();
        return std::nullopt;
    }
    out.resize(n);
    return out;
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_SEAL_HPP
