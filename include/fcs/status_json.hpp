#ifndef FCS_STATUS_JSON_HPP
#define FCS_STATUS_JSON_HPP

// One JSON document for "the certificate in use": what `fcs-failover-server status --json`,
// `fcs-switchover status --json` and GET /certificate print. README.md ("Status JSON") lists
// every field. Needs nlohmann-json 3.11 (<nlohmann/json.hpp>); the core does not include this
// header, so only a program that prints JSON needs the package.

#include <fcs/acme/schedule.hpp>
#include <fcs/service_types.hpp>
#include <fcs/types.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fcs {

/// The schema's version, the document's "schema" member. Raised when a field changes meaning or
/// goes away (new fields do not raise it).
inline constexpr int status_json_schema = 1;

inline const char* to_string(finding::severity s) noexcept {
    switch (s) {
    case finding::severity::info:
        return "info";
    case finding::severity::warning:
        return "warning";
    case finding::severity::error:
        return "error";
    }
    return "unknown";
}

/**
 * `s` (and `findings`, what inspect() or start() noticed) as the status document. Never key
 * material: only what cert_status holds. Text from the certificate may hold any bytes; print
 * the result with status_json_text(), which replaces invalid UTF-8 rather than throwing.
 *
 * Example:
 * @code
 *   auto r = service.inspect();
 *   if (r.status)
 *       std::cout << fcs::status_json_text(fcs::status_json(*r.status, r.findings)) << "\n";
 * @endcode
 */
inline nlohmann::json status_json(const cert_status& s, const std::vector<finding>& findings = {}) {
    nlohmann::json doc = nlohmann::json::object();
    doc["schema"] = status_json_schema;
    doc["name"] = s.name;
    doc["subject"] = s.info.subject;
    doc["issuer"] = s.info.issuer;
    doc["sans"] = s.info.sans;
    doc["serial"] = s.info.serial;
    doc["not_before"] = iso8601(s.info.not_before);
    doc["not_after"] = iso8601(s.info.not_after);
    doc["days_remaining"] = s.days_remaining;
    doc["sha256_fingerprint"] = s.info.sha256_fingerprint;
    doc["key_type"] = s.info.key_type;
    doc["state"] = to_string(s.state);
    doc["origin"] = to_string(s.origin);
    if (s.origin == origin::acme) // when fcs's ACME renewal (default schedule) looks next
        doc["next_renewal"] = iso8601(acme::renewal_due(s.info, {}));
    doc["self_signed"] = s.info.self_signed;
    doc["is_ca"] = s.info.is_ca;
    doc["certificate_file"] = s.certificate_location;
    doc["key_file"] = s.key_location;
    auto& list = doc["findings"] = nlohmann::json::array();
    for (auto& f : findings)
        list.push_back(
            {{"level", to_string(f.level)}, {"location", f.location}, {"message", f.message}});
    return doc;
}

/// `doc` as text: `indent` < 0 for one line. Invalid UTF-8 becomes U+FFFD (never a throw), so
/// a certificate field with odd bytes cannot break the document.
inline std::string status_json_text(const nlohmann::json& doc, int indent = -1) {
    return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace fcs

#endif // FCS_STATUS_JSON_HPP
