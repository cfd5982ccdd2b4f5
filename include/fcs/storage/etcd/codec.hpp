#ifndef FCS_STORAGE_ETCD_CODEC_HPP
#define FCS_STORAGE_ETCD_CODEC_HPP

// Base64 (etcd's gateway sends keys and values in base64; crypto/boringssl/encoding.hpp) and
// key ranges (detail).

#include <fcs/crypto/boringssl/encoding.hpp>
#include <fcs/error.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fcs::storage::etcd_detail {

inline std::string b64(std::span<const std::uint8_t> in) {
    return crypto::base64_encode(in);
}
inline std::string b64(std::string_view s) {
    return b64(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
/// Decodes `in` into `out`; false (and `out` left alone) when it is not valid base64.
template <class Bytes>
bool unb64(std::string_view in, Bytes& out) {
    return crypto::base64_decode(in, out);
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
