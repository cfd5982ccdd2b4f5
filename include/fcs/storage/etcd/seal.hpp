#ifndef FCS_STORAGE_ETCD_SEAL_HPP
#define FCS_STORAGE_ETCD_SEAL_HPP

// Sealing the private key and ticket keys under the key-encryption key (detail).

#include <fcs/crypto/boringssl/aead.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/codec.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage::etcd_detail {

/// A sealed item as stored in etcd (crypto/boringssl/aead.hpp: AES-256-GCM, random 96-bit
/// nonce); the associated data binds the item to its place (prefix, slot, part).
struct sealed {
    std::string nonce; ///< base64
    std::string data;  ///< base64 of ciphertext and tag
};

inline sealed seal(const secret_bytes& kek, std::span<const std::uint8_t> plain,
                   std::string_view ad) {
    auto box = crypto::aes256gcm_seal(kek, plain, ad);
    return {b64(box.nonce), b64(box.data)};
}

/// nullopt when the KEK does not decrypt it (wrong key, or the value was altered).
inline std::optional<secret_bytes> open_sealed(const secret_bytes& kek, const sealed& s,
                                               std::string_view ad) {
    std::vector<std::uint8_t> nonce, data;
    if (!unb64(s.nonce, nonce) || !unb64(s.data, data))
        return std::nullopt;
    secret_bytes plain;
    if (!crypto::aes256gcm_open(kek, nonce, data, ad, plain))
        return std::nullopt;
    return plain;
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_SEAL_HPP
