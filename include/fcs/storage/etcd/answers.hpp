#ifndef FCS_STORAGE_ETCD_ANSWERS_HPP
#define FCS_STORAGE_ETCD_ANSWERS_HPP

// Reading etcd's JSON answers (ranges, transactions, refusals) and writing its requests (detail).

#include <fcs/detail/json.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/codec.hpp>
#include <fcs/storage/etcd/http_client.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::storage::etcd_detail {

namespace json = fcs::detail::json;
inline constexpr std::size_t max_response = 8u << 20;   ///< a range of all slots
inline constexpr std::size_t max_watch_line = 4u << 20; ///< one watch event (a bundle in base64)

/// What an answer that is not a success says: etcd's message, or (the gateway's plain-text
/// refusals) the status and the first line of the body, printable and bounded.
inline std::string refusal_text(const http_answer& a, const std::optional<json::value>& doc) {
    std::string m;
    if (doc && doc->is_object())
        m = doc->string_at("message").value_or(doc->string_at("error").value_or(""));
    if (m.empty()) {
        m = "HTTP " + std::to_string(a.status);
        std::string line;
        for (char c : a.body) {
            if (c == '\n' || line.size() >= 200)
                break;
            line += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        if (!line.empty())
            m += ": " + line;
    }
    if (m.find("CommonName of client") != std::string::npos)
        m += " (with authentication on, etcd's JSON gateway refuses a client certificate that "
             "has a CommonName: use one whose subject has no CN)";
    return m;
}

/**
 * The integer member `key` of `v` (etcd's int64 revisions and versions, sent as decimal
 * strings), 0 when absent.
 * @throws fcs::error(errc::parse_failed) naming `where` when the member is not an integer in the
 *         int64 range: it is never wrapped around, nor read as 0 (a revision 0 means "absent").
 */
inline std::int64_t int_field(const json::value& v, std::string_view key,
                              const std::string& where) {
    std::int64_t out = 0;
    switch (v.int_status_at(key, out)) {
    case json::value::int_status::ok:
        return out;
    case json::value::int_status::absent:
        return 0;
    case json::value::int_status::out_of_range:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is out of the 64-bit integer range");
    default:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is not an integer");
    }
}

/// The store revision in an answer's header (0 when it has none).
inline std::int64_t header_revision(const json::value& doc, const std::string& where) {
    auto* h = doc.find("header");
    return h ? int_field(*h, "revision", where) : 0;
}

/// A key-value pair from a range or a watch event.
struct kv {
    std::string key;
    std::string value; ///< decoded
    std::int64_t mod_revision = 0;
    std::int64_t create_revision = 0;
    std::int64_t version = 0;
};

inline std::vector<kv> kvs_of(const json::value& doc, std::size_t max_value) {
    std::vector<kv> out;
    auto* arr = doc.find("kvs");
    if (!arr || !arr->is_array())
        return out;
    for (auto& item : arr->items) {
        kv k;
        auto key = unb64_text(item.string_at("key").value_or(""));
        auto value = unb64_text(item.string_at("value").value_or(""));
        if (!key || !value)
            throw error(errc::parse_failed, "", "read etcd", "a key or value is not valid base64");
        if (value->size() > max_value)
            throw error(errc::too_large, *key, "read etcd",
                        "the stored value is larger than " + std::to_string(max_value) + " bytes");
        k.key = std::move(*key);
        k.value = std::move(*value);
        k.mod_revision = int_field(item, "mod_revision", "etcd:" + k.key);
        k.create_revision = int_field(item, "create_revision", "etcd:" + k.key);
        k.version = int_field(item, "version", "etcd:" + k.key);
        out.push_back(std::move(k));
    }
    return out;
}

/// Text for a txn's compare of one key: absent (create_revision 0) or at `rev`.
inline std::string compare_json(const std::string& key, std::int64_t rev) {
    if (rev == 0)
        return "{\"key\":" + json::quote(b64(key)) +
               ",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}";
    return "{\"key\":" + json::quote(b64(key)) +
           ",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"" + std::to_string(rev) +
           "\"}";
}
inline std::string put_json(const std::string& key, const std::string& value) {
    return "{\"request_put\":{\"key\":" + json::quote(b64(key)) +
           ",\"value\":" + json::quote(b64(value)) + "}}";
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_ANSWERS_HPP
