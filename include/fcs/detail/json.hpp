#ifndef FCS_DETAIL_JSON_HPP
#define FCS_DETAIL_JSON_HPP

// A small, bounded JSON reader and writer for the etcd gateway and the etcd bundle. It reads
// untrusted input: the caller bounds the input size, the reader bounds the nesting depth and
// the number of values, and every failure is a parse error (never a crash or an unbounded
// allocation). Numbers are kept as their text (etcd sends 64-bit revisions as strings anyway).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace fcs::detail::json {

struct member;

/// A parsed JSON value. Objects keep their members in order (duplicates: the first wins).
struct value {
    enum class type { null, boolean, number, string, array, object };
    type kind = type::null;
    bool flag = false;
    std::string text; ///< a string's contents or a number's text
    std::vector<value> items;
    std::vector<member> members; ///< in order; `member` is defined below (value must be complete)

    bool is_object() const noexcept { return kind == type::object; }
    bool is_array() const noexcept { return kind == type::array; }
    bool is_string() const noexcept { return kind == type::string; }

    /// The member `key` of an object, or nullptr (also when this is not an object).
    const value* find(std::string_view key) const noexcept;
    /// A string member's text (or a number's), else nullopt.
    std::optional<std::string> string_at(std::string_view key) const {
        auto* v = find(key);
        if (!v || (v->kind != type::string && v->kind != type::number))
            return std::nullopt;
        return v->text;
    }
    /// An integer member given as a JSON number or a decimal string (etcd's int64), else nullopt:
    /// also when it is out of the int64 range (never wrapped: etcd's 19-digit revisions must
    /// not turn into other numbers). See int_status_at() to tell "absent" from "out of range".
    std::optional<std::int64_t> int_at(std::string_view key) const {
        std::int64_t out = 0;
        if (int_status_at(key, out) != int_status::ok)
            return std::nullopt;
        return out;
    }
    enum class int_status { ok, absent, not_an_integer, out_of_range };
    /// Reads the integer member `key` into `out_value` (only on ok).
    int_status int_status_at(std::string_view key, std::int64_t& out_value) const {
        auto* v = find(key);
        if (!v || (v->kind != type::string && v->kind != type::number))
            return int_status::absent;
        const std::string& s = v->text;
        // Only an optional '-' and digits: from_chars would also take a leading '+' or stop at
        // a '.', which must not pass for an integer.
        std::size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
        if (i == s.size())
            return int_status::not_an_integer;
        for (std::size_t k = i; k < s.size(); ++k)
            if (s[k] < '0' || s[k] > '9')
                return int_status::not_an_integer;
        std::int64_t out = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (ec == std::errc::result_out_of_range)
            return int_status::out_of_range;
        if (ec != std::errc() || end != s.data() + s.size())
            return int_status::not_an_integer;
        out_value = out;
        return int_status::ok;
    }
    bool bool_at(std::string_view key) const noexcept {
        auto* v = find(key);
        return v && v->kind == type::boolean && v->flag;
    }
};

/// One member of an object. Not std::pair: clang checks pair<string, value> for default
/// constructibility while value is still incomplete.
struct member {
    std::string key;
    value val;
};

inline const value* value::find(std::string_view key) const noexcept {
    if (kind != type::object)
        return nullptr;
    for (auto& m : members)
        if (m.key == key)
            return &m.val;
    return nullptr;
}

/// Limits of one parse.
struct limits {
    std::size_t max_depth = 32;
    std::size_t max_values = 100000;
};

namespace impl {
class reader {
public:
    reader(std::string_view in, limits l)
        : in_(in)
        , lim_(l) {}

    bool parse(value& out) {
        skip_ws();
        if (!parse_value(out, 0))
            return false;
        skip_ws();
        return pos_ == in_.size();
    }

private:
    void skip_ws() {
        while (pos_ < in_.size() &&
               (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
            ++pos_;
    }
    bool literal(std::string_view word) {
        if (in_.substr(pos_, word.size()) != word)
            return false;
        pos_ += word.size();
        return true;
    }
    bool parse_value(value& v, std::size_t depth) {
        if (depth > lim_.max_depth || ++count_ > lim_.max_values || pos_ >= in_.size())
            return false;
        char c = in_[pos_];
        if (c == '{')
            return parse_object(v, depth);
        if (c == '[')
            return parse_array(v, depth);
        if (c == '"') {
            v.kind = value::type::string;
            return parse_string(v.text);
        }
        if (c == 't') {
            v.kind = value::type::boolean;
            v.flag = true;
            return literal("true");
        }
        if (c == 'f') {
            v.kind = value::type::boolean;
            return literal("false");
        }
        if (c == 'n') {
            v.kind = value::type::null;
            return literal("null");
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = value::type::number;
            return parse_number(v.text);
        }
        return false;
    }
    bool parse_number(std::string& out) {
        std::size_t start = pos_;
        if (in_[pos_] == '-')
            ++pos_;
        auto digits = [&] {
            std::size_t s = pos_;
            while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9')
                ++pos_;
            return pos_ > s;
        };
        if (!digits())
            return false;
        if (pos_ < in_.size() && in_[pos_] == '.') {
            ++pos_;
            if (!digits())
                return false;
        }
        if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-'))
                ++pos_;
            if (!digits())
                return false;
        }
        out.assign(in_.substr(start, pos_ - start));
        return true;
    }
    static void put_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(std::uint32_t& out) {
        if (in_.size() - pos_ < 4)
            return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            char c = in_[pos_++];
            out <<= 4;
            if (c >= '0' && c <= '9')
                out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else
                return false;
        }
        return true;
    }
    bool parse_string(std::string& out) {
        ++pos_; // opening quote
        while (pos_ < in_.size()) {
            char c = in_[pos_++];
            if (c == '"')
                return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= in_.size())
                return false;
            char e = in_[pos_++];
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                std::uint32_t cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    std::uint32_t lo = 0;
                    if (!literal("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                put_utf8(out, cp);
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }
    bool parse_array(value& v, std::size_t depth) {
        v.kind = value::type::array;
        ++pos_;
        skip_ws();
        if (pos_ < in_.size() && in_[pos_] == ']') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_ws();
            v.items.emplace_back();
            if (!parse_value(v.items.back(), depth + 1))
                return false;
            skip_ws();
            if (pos_ >= in_.size())
                return false;
            if (in_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (in_[pos_] == ']') {
                ++pos_;
                return true;
            }
            return false;
        }
    }
    bool parse_object(value& v, std::size_t depth) {
        v.kind = value::type::object;
        ++pos_;
        skip_ws();
        if (pos_ < in_.size() && in_[pos_] == '}') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_ws();
            if (pos_ >= in_.size() || in_[pos_] != '"')
                return false;
            std::string key;
            if (!parse_string(key))
                return false;
            skip_ws();
            if (pos_ >= in_.size() || in_[pos_] != ':')
                return false;
            ++pos_;
            skip_ws();
            value member;
            if (!parse_value(member, depth + 1))
                return false;
            v.members.push_back(json::member{std::move(key), std::move(member)});
            skip_ws();
            if (pos_ >= in_.size())
                return false;
            if (in_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (in_[pos_] == '}') {
                ++pos_;
                return true;
            }
            return false;
        }
    }

    std::string_view in_;
    limits lim_;
    std::size_t pos_ = 0;
    std::size_t count_ = 0;
};
} // namespace impl

/// Parses `in` (the caller bounds its size). nullopt when it is not valid JSON or breaks the
/// limits.
inline std::optional<value> parse(std::string_view in, limits l = {}) {
    value v;
    impl::reader r(in, l);
    if (!r.parse(v))
        return std::nullopt;
    return v;
}

/// Appends `s` to `out` as a JSON string literal (quotes included). Control characters are
/// escaped, so it adds at most 6 * s.size() + 2 characters: a caller that reserves that much
/// first gets no reallocation (no stray copy of a secret left in freed memory).
inline void append_quoted(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

/// `s` as a JSON string literal (quotes included). Control characters are escaped.
inline std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_quoted(out, s);
    return out;
}

} // namespace fcs::detail::json

#endif // FCS_DETAIL_JSON_HPP
