#ifndef FCS_EXAMPLES_FAILOVER_JSON_HPP
#define FCS_EXAMPLES_FAILOVER_JSON_HPP

// A small JSON writer for the REST answers: objects of strings, integers, booleans and string
// arrays. Strings are escaped and made valid UTF-8 (invalid bytes become U+FFFD), so a
// certificate field with odd bytes cannot break the document.

#include <fcs/service_types.hpp>
#include <fcs/types.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace fcs_example {

/// `s` as a JSON string literal, quotes included.
inline std::string json_quote(std::string_view s) {
    std::string out = "\"";
    auto replacement = [&] { out += "\\ufffd"; };
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
            }
            ++i;
            continue;
        }
        // A well-formed UTF-8 sequence is copied; anything else is replaced.
        std::size_t len = c >= 0xf0 && c <= 0xf4   ? 4
                          : c >= 0xe0              ? 3
                          : c >= 0xc2 && c <= 0xdf ? 2
                                                   : 0;
        if (c >= 0xf5)
            len = 0;
        bool ok = len != 0 && i + len <= s.size();
        std::uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (std::size_t k = 1; ok && k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        ok = ok && !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
             !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            replacement();
            ++i;
        }
    }
    return out + "\"";
}

/// Builds one JSON object, member by member.
class json_object {
public:
    json_object& add(std::string_view key, std::string_view value) {
        return raw(key, json_quote(value));
    }
    json_object& add(std::string_view key, const char* value) {
        return add(key, std::string_view(value));
    }
    json_object& add(std::string_view key, std::int64_t value) {
        return raw(key, std::to_string(value));
    }
    json_object& add(std::string_view key, bool value) {
        return raw(key, value ? "true" : "false");
    }
    json_object& add(std::string_view key, const std::vector<std::string>& values) {
        std::string a = "[";
        for (std::size_t i = 0; i < values.size(); ++i)
            a += (i ? "," : "") + json_quote(values[i]);
        return raw(key, a + "]");
    }
    /// A member whose value is already JSON (a nested object).
    json_object& raw(std::string_view key, std::string_view json) {
        body_ += body_.empty() ? "" : ",";
        body_ += json_quote(key);
        body_ += ':';
        body_ += json;
        return *this;
    }
    std::string str() const { return "{" + body_ + "}"; }

private:
    std::string body_;
};

/// "2026-11-23T10:15:00Z"
inline std::string iso8601(fcs::time_point t) {
    return fcs::iso8601(t);
}

inline std::int64_t unix_seconds(fcs::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

/// The /certificate document: everything status() says, never key material.
inline std::string certificate_json(const fcs::cert_status& s) {
    json_object o;
    o.add("name", s.name)
        .add("subject", s.info.subject)
        .add("issuer", s.info.issuer)
        .add("sans", s.info.sans)
        .add("serial", s.info.serial)
        .add("not_before", iso8601(s.info.not_before))
        .add("not_after", iso8601(s.info.not_after))
        .add("days_remaining", s.days_remaining)
        .add("sha256_fingerprint", s.info.sha256_fingerprint)
        .add("state", fcs::to_string(s.state))
        .add("origin", fcs::to_string(s.origin))
        .add("self_signed", s.info.self_signed)
        .add("certificate_file", s.certificate_location);
    return o.str();
}

} // namespace fcs_example

#endif // FCS_EXAMPLES_FAILOVER_JSON_HPP
