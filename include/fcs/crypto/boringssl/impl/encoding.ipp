#ifndef FCS_CRYPTO_BORINGSSL_IMPL_ENCODING_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_ENCODING_IPP

// The bodies of fcs/crypto/boringssl/encoding.hpp: included by that header (header-only use),
// or compiled once by the translation unit that includes <fcs/src.hpp>
// (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/encoding.hpp>
#include <fcs/error.hpp>

#include <openssl/base64.h>

namespace fcs::crypto {

FCS_DECL std::string base64_encode(std::span<const std::uint8_t> in) {
    std::size_t len = 0; // with the NUL that EVP_EncodeBlock writes
    if (in.size() > base64_max_bytes || !EVP_EncodedLength(&len, in.size()))
        throw error(errc::too_large, "", "base64", "input too large");
    std::string out(len, '\0');
    out.resize(EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out.data()), in.data(), in.size()));
    return out;
}

FCS_DECL std::size_t base64_decoded_max(std::size_t text_size) noexcept {
    std::size_t max = 0;
    if (text_size > base64_max_text || !EVP_DecodedLength(&max, text_size))
        return 0;
    return max;
}

FCS_DECL bool base64_decode(std::string_view in, std::span<std::uint8_t> out,
                            std::size_t& out_len) {
    if (in.size() > base64_max_text)
        return false;
    std::size_t n = 0;
    if (!EVP_DecodeBase64(out.data(), &n, out.size(),
                          reinterpret_cast<const std::uint8_t*>(in.data()), in.size()))
        return false;
    out_len = n;
    return true;
}

} // namespace fcs::crypto

#endif // FCS_CRYPTO_BORINGSSL_IMPL_ENCODING_IPP
