#ifndef FCS_STORAGE_ETCD_ANSWERS_HPP
#define FCS_STORAGE_ETCD_ANSWERS_HPP

// etcd's JSON gateway in JSON (nlohmann::json): reading its answers (ranges, transactions,
// watch lines, authentication, refusals) and writing its requests (detail).
//
// Everything read here may come from whoever answers in etcd's place: the caller bounds the
// size, parse() bounds the nesting, every integer is range-checked (etcd sends its int64
// revisions as decimal strings; never wrapped, never read as 0), and a malformed answer is a
// value (nullopt, a failure text) or an fcs::error naming what was read, never a crash.

#include <fcs/error.hpp>
#include <fcs/storage/etcd/codec.hpp>

#include <fcs/detail/json.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fcs::storage::etcd_detail {

using json = nlohmann::json;

inline constexpr std::size_t max_response = 8u << 20;   ///< a range of all slots
inline constexpr std::size_t max_watch_line = 4u << 20; ///< one watch event (a bundle in base64)
inline constexpr std::size_t max_depth = fcs::detail::json_max_depth;
inline constexpr std::size_t max_values = fcs::detail::json_max_values;

/// `text` as JSON (detail::parse_json with etcd's bounds), or nullopt.
inline std::optional<json> parse(std::string_view text, std::size_t limit = max_response) {
    return fcs::detail::parse_json(text, limit);
}

using fcs::detail::find;

/**
 * `doc` as text for a request body.
 * @throws fcs::error(errc::invalid_argument) naming `step` when a string in it is not UTF-8
 *         (JSON cannot carry it; etcd would read something else).
 */
inline std::string dump(const json& doc, const std::string& step) {
    try {
        return doc.dump();
    } catch (const json::exception&) {
        throw error(errc::invalid_argument, "", step,
                    "a text sent to etcd is not valid UTF-8 (a user name or slot name?)");
    }
}

/// A string member, else nullopt.
inline std::optional<std::string> string_at(const json& v, std::string_view key) {
    auto* m = find(v, key);
    if (!m || !m->is_string())
        return std::nullopt;
    return m->get<std::string>();
}
/// A boolean member that is true (etcd leaves out false members).
inline bool bool_at(const json& v, std::string_view key) {
    auto* m = find(v, key);
    return m && m->is_boolean() && m->get<bool>();
}

enum class int_status { ok, absent, not_an_integer, out_of_range };

/// An integer given as a JSON number or a decimal string (etcd's int64). `out_value` is set
/// only on ok.
inline int_status int_of(const json* v, std::int64_t& out_value) {
    if (!v || v->is_null())
        return int_status::absent;
    if (v->is_number_integer() && !v->is_number_unsigned()) {
        out_value = v->get<std::int64_t>();
        return int_status::ok;
    }
    if (v->is_number_unsigned()) {
        auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return int_status::out_of_range;
        out_value = static_cast<std::int64_t>(u);
        return int_status::ok;
    }
    if (v->is_number_float()) {
        // nlohmann reads an integer beyond 64 bits as a double: out of range, not a fraction.
        double d = v->get<double>();
        return std::isfinite(d) && std::trunc(d) == d && std::fabs(d) >= 9.2e18
                   ? int_status::out_of_range
                   : int_status::not_an_integer;
    }
    if (!v->is_string())
        return int_status::not_an_integer;
    const auto& s = v->get_ref<const std::string&>();
    // Only an optional '-' and digits: from_chars would also stop at a '.', and a '+' or
    // spaces must not pass for an integer.
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
inline int_status int_status_at(const json& v, std::string_view key, std::int64_t& out_value) {
    return int_of(find(v, key), out_value);
}

/**
 * The integer member `key` of `v` (etcd's int64 revisions and versions, sent as decimal
 * strings), 0 when absent.
 * @throws fcs::error(errc::parse_failed) naming `where` when the member is not an integer in the
 *         int64 range: it is never wrapped around, nor read as 0 (a revision 0 means "absent").
 */
inline std::int64_t int_field(const json& v, std::string_view key, const std::string& where) {
    std::int64_t out = 0;
    switch (int_status_at(v, key, out)) {
    case int_status::ok:
        return out;
    case int_status::absent:
        return 0;
    case int_status::out_of_range:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is out of the 64-bit integer range");
    default:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is not an integer");
    }
}

/// The store revision in an answer's header (0 when it has none).
inline std::int64_t header_revision(const json& doc, const std::string& where) {
    auto* h = find(doc, "header");
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

/**
 * The key-value pairs of a range answer (its "kvs"), keys and values decoded.
 * @throws fcs::error: errc::parse_failed (not base64, a revision that is not an int64),
 *         errc::too_large naming the key (a value above `max_value` bytes).
 */
inline std::vector<kv> kvs_of(const json& doc, std::size_t max_value) {
    std::vector<kv> out;
    auto* arr = find(doc, "kvs");
    if (!arr || !arr->is_array())
        return out;
    for (auto& item : *arr) {
        kv k;
        auto key = unb64_text(string_at(item, "key").value_or(""));
        auto value = unb64_text(string_at(item, "value").value_or(""));
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

/**
 * What an answer that is not a success says: etcd's message, or (the gateway's plain-text
 * refusals) the status and the first line of the body, printable and at most 200 characters.
 */
inline std::string refusal_text(unsigned status, std::string_view body,
                                const std::optional<json>& doc) {
    std::string m;
    if (doc)
        m = string_at(*doc, "message").value_or(string_at(*doc, "error").value_or(""));
    if (m.size() > 1000)
        m = m.substr(0, 1000) + "...";
    if (m.empty()) {
        m = "HTTP " + std::to_string(status);
        std::string line;
        for (char c : body) {
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

/// etcd's gRPC status code in a refusal (0 when it names none or it is not an int).
inline std::int64_t refusal_code(const std::optional<json>& doc) {
    std::int64_t code = 0;
    if (!doc || int_status_at(*doc, "code", code) != int_status::ok)
        return 0;
    return code;
}

/// The token of an answer to /v3/auth/authenticate, nullopt when it holds none.
inline std::optional<std::string> token_of(const std::optional<json>& doc) {
    auto t = doc ? string_at(*doc, "token") : std::nullopt;
    if (t && (t->empty() || t->size() > 4096))
        return std::nullopt; // sent back in a header: bounded, and never empty (means "none")
    return t;
}

/// What one line of a watch stream says.
struct watch_line {
    /// Not empty: the stream must end (not JSON, etcd ended or canceled the watch, a bad
    /// revision); nothing else of the line is used.
    std::string failure;
    bool created = false; ///< etcd confirmed the watch
    /// One entry per event on a key: its mod_revision, 0 for a deletion, nullopt when the
    /// event names none (a change all the same).
    std::vector<std::optional<std::int64_t>> changes;
};

/// Reads one line of etcd's /v3/watch stream (the caller bounds its size).
inline watch_line read_watch_line(std::string_view text) {
    watch_line out;
    auto doc = parse(text, max_watch_line);
    if (!doc) {
        out.failure = "the watch stream sent something that is not JSON";
        return out;
    }
    if (auto* err = find(*doc, "error")) {
        out.failure = "etcd ended the watch: " + string_at(*err, "message").value_or("error");
        return out;
    }
    auto* result = find(*doc, "result");
    if (!result)
        return out;
    out.created = bool_at(*result, "created");
    if (bool_at(*result, "canceled")) {
        out.failure =
            "etcd canceled the watch: " + string_at(*result, "cancel_reason").value_or("compacted");
        return out;
    }
    if (auto* events = find(*result, "events"); events && events->is_array()) {
        for (auto& ev : *events) {
            auto* k = find(ev, "kv");
            if (!k)
                continue;
            if (string_at(ev, "type") == std::string("DELETE")) {
                out.changes.emplace_back(0);
                continue;
            }
            std::int64_t rev = 0;
            auto got = int_status_at(*k, "mod_revision", rev);
            if (got == int_status::out_of_range || got == int_status::not_an_integer) {
                out.failure = "a watch event's mod_revision is not a 64-bit integer";
                out.changes.clear();
                return out;
            }
            out.changes.push_back(got == int_status::ok ? std::optional(rev) : std::nullopt);
        }
    }
    return out;
}

// ---- requests ----------------------------------------------------------------------------

/// A range request for `key` (with `range_end`: up to it, "" for none).
inline json range_request(const std::string& key, const std::string& range_end = {},
                          bool keys_only = false) {
    json r = {{"key", b64(key)}};
    if (!range_end.empty()) {
        r["range_end"] = b64(range_end);
        r["limit"] = "10000";
    }
    if (keys_only)
        r["keys_only"] = true;
    return r;
}

/// A txn's compare of one key: absent (create_revision 0) or at `rev`.
inline json compare_json(const std::string& key, std::int64_t rev) {
    if (rev == 0)
        return {
            {"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
    return {{"key", b64(key)},
            {"target", "MOD"},
            {"result", "EQUAL"},
            {"mod_revision", std::to_string(rev)}};
}
inline json put_json(const std::string& key, const std::string& value) {
    return {{"request_put", {{"key", b64(key)}, {"value", b64(value)}}}};
}
inline json delete_json(const std::string& key) {
    return {{"request_delete_range", {{"key", b64(key)}}}};
}
inline json get_json(const std::string& key) {
    return {{"request_range", {{"key", b64(key)}}}};
}

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_ANSWERS_HPP
