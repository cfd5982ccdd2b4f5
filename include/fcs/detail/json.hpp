#ifndef FCS_DETAIL_JSON_HPP
#define FCS_DETAIL_JSON_HPP

// JSON read from the network (etcd's gateway, an ACME CA), bounded before it is parsed
// (detail). Whatever answers may be someone else: the size, the nesting and the number of
// values are checked before nlohmann::json allocates anything, and a malformed text is nullopt,
// never an exception or a crash.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace fcs::detail {

inline constexpr std::size_t json_max_depth = 32; ///< etcd's answers nest 5 deep, ACME's 4
/// Values in one answer (a range of 10000 slots holds about 70000): bounds the memory a small
/// input of many tiny values (`[0,0,0,...]`) would take once parsed.
inline constexpr std::size_t json_max_values = 200000;

/**
 * `text` as JSON, or nullopt: larger than `limit`, nested deeper than json_max_depth, more
 * than json_max_values values, or not JSON (nlohmann's strict reader: RFC 8259, valid UTF-8, no
 * comments, nothing after the value). Nesting and count are checked before parsing, so such an
 * input costs no allocation.
 */
inline std::optional<nlohmann::json> parse_json(std::string_view text, std::size_t limit) {
    if (text.size() > limit)
        return std::nullopt;
    std::size_t depth = 0, values = 1;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > json_max_depth)
                return std::nullopt;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        } else if (c == ',' && ++values > json_max_values) {
            return std::nullopt;
        }
    }
    auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded())
        return std::nullopt;
    return doc;
}

/// The member `key` of an object, or nullptr (also when `v` is not an object).
inline const nlohmann::json* find(const nlohmann::json& v, std::string_view key) {
    if (!v.is_object())
        return nullptr;
    auto it = v.find(key);
    return it == v.end() ? nullptr : &*it;
}

} // namespace fcs::detail

#endif // FCS_DETAIL_JSON_HPP
