#ifndef FCS_EXAMPLES_FAILOVER_JSON_HPP
#define FCS_EXAMPLES_FAILOVER_JSON_HPP

// The REST answers' JSON, written by nlohmann-json: small objects built member by member, and
// the /certificate document, which is the status document of fcs/status_json.hpp (the same one
// `status --json` of both programs prints). Text is made valid UTF-8 (invalid bytes become
// U+FFFD), so a certificate field with odd bytes cannot break the document.

#include <fcs/service_types.hpp>
#include <fcs/status_json.hpp>
#include <fcs/types.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fcs_example {

/// Builds one JSON object, member by member (for the short REST answers).
class json_object {
public:
    template <class T>
    json_object& add(std::string_view key, const T& value) {
        doc_[std::string(key)] = value;
        return *this;
    }
    json_object& add(std::string_view key, std::string_view value) {
        doc_[std::string(key)] = std::string(value);
        return *this;
    }
    std::string str() const { return fcs::status_json_text(doc_); }

private:
    nlohmann::json doc_ = nlohmann::json::object();
};

/// "2026-11-23T10:15:00Z"
inline std::string iso8601(fcs::time_point t) {
    return fcs::iso8601(t);
}

inline std::int64_t unix_seconds(fcs::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

/// The /certificate document: the status document (fcs/status_json.hpp), never key material.
inline std::string certificate_json(const fcs::cert_status& s) {
    return fcs::status_json_text(fcs::status_json(s));
}

} // namespace fcs_example

#endif // FCS_EXAMPLES_FAILOVER_JSON_HPP
