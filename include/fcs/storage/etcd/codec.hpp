#ifndef FCS_STORAGE_ETCD_CODEC_HPP
#define FCS_STORAGE_ETCD_CODEC_HPP

// Base64 (etcd's gateway sends keys and values in base64) and key ranges (detail).

#include <fcs/error.hpp>

#include <openssl/base64.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fcs::storage::etcd_detail {

inline std::string b64(std::span<const std::uint8_t> in) {
    std::size_t len = 0;
    if (!EVP_EncodedLength(&len, in.size()))
        throw error(errc::too_large, "", "base64", "input too large");
    std::string out(len, '\0');
    out.resize(EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out.data()), in.data(), in.size()));
    return out;
}
inline std::string b64(std::string_view s) {
    return b64(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
template <class Bytes>
bool unb64(std::string_view in, Bytes& out) {
    std::size_t max = 0;
    if (!EVP_DecodedLength(&max, in.size()))
        return false;
    out.resize(max);
    std::size_t n = 0;
    if (!EVP_DecodeBase64(reinterpret_cast<std::uint8_t*>(out.data()), &n, max,
                          reinterpret_cast<const std::uint8_t*>(in.data()), in.size())) {
        out.clear();
        return false;
    }
    out.resize(n);
    return true;
}
inline std::optional<std::string> unb64_text(std::string_view in) {
    std::string out;
    if (!unb64(in, out))
        return std::nullopt;
    return out;
}

/// The end of the range of keys that start with `p` (etcd's "prefix" range_end).
inline std::string prefix_end(std::string p) {
    while (!p.empty()) {
        auto& c = reinterpret_cast<unsigned char&>(p.back());
        if (c < 0xff) {
            ++c;
            return p;
        }
        p.pop_back();
    }
    return std::string(1, '\0');
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_CODEC_HPP
