#ifndef FCS_DETAIL_FORMATS_HPP
#define FCS_DETAIL_FORMATS_HPP

// Telling input formats apart by their first bytes, with no crypto library: what the core and
// switchover need to choose a parser and to word an error.

#include <cstdint>
#include <span>
#include <string_view>

namespace fcs::detail {

/// True when `in` holds a PEM block start ("-----BEGIN ").
inline bool looks_like_pem(std::span<const std::uint8_t> in) {
    std::string_view s(reinterpret_cast<const char*>(in.data()), in.size());
    return s.find("-----BEGIN ") != std::string_view::npos;
}

} // namespace fcs::detail

#endif // FCS_DETAIL_FORMATS_HPP
