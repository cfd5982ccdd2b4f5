#ifndef FCS_CRYPTO_BORINGSSL_IMPL_MAC_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_MAC_IPP

// The bodies of fcs/crypto/boringssl/mac.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/mac.hpp>

#include <openssl/digest.h>
#include <openssl/err.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>

#include <utility>

namespace fcs::crypto {

FCS_DECL bool hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data,
                          hmac_sha256_value& out_mac) {
    hmac_sha256_value mac{};
    unsigned len = 0;
    if (!HMAC(EVP_sha256(), key.data(), key.size(), data.data(), data.size(), mac.data(), &len) ||
        len != mac.size()) {
        ERR_clear_error();
        return false;
    }
    out_mac = mac;
    return true;
}

FCS_DECL bool hkdf_sha256(std::span<const std::uint8_t> secret, std::span<const std::uint8_t> salt,
                          std::span<const std::uint8_t> info, std::size_t length,
                          secret_bytes& out_key) {
    if (length > hkdf_sha256_max_length)
        return false;
    secret_bytes key(length);
    if (!HKDF(key.data(), key.size(), EVP_sha256(), secret.data(), secret.size(), salt.data(),
              salt.size(), info.data(), info.size())) {
        ERR_clear_error();
        return false;
    }
    out_key = std::move(key);
    return true;
}

FCS_DECL bool equal_constant_time(std::span<const std::uint8_t> a,
                                  std::span<const std::uint8_t> b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_IMPL_MAC_IPP
