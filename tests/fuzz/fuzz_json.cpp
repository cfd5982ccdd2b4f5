// libFuzzer target: the JSON handling of etcd's gateway answers (fcs/storage/etcd/answers.hpp),
// which reads whatever an etcd endpoint (or whoever answers in its place) sends: a range or a
// transaction answer, a watch line, an authentication answer, a refusal. Beyond "no crash":
//  - what parse() accepts is within its bounds (size, nesting) and reads back the same after
//    nlohmann writes it again;
//  - every integer read is the decimal text it came from (never wrapped, never a different
//    number), and a failure leaves the output untouched;
//  - kvs_of() returns one pair per entry with every value within the bound, or throws
//    fcs::error (never another exception);
//  - a watch line either fails (with a reason, and no changes) or yields at most one change
//    per event;
//  - a token is never empty and bounded; a refusal text is bounded and printable when it
//    comes from a body that is not JSON.
#include <fcs/storage/etcd/answers.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
namespace ed = fcs::storage::etcd_detail;

void require(bool ok) {
    if (!ok)
        std::abort();
}

std::size_t depth_of(const ed::json& v) {
    std::size_t d = 0;
    if (v.is_structured())
        for (auto& item : v)
            d = std::max(d, depth_of(item));
    return v.is_structured() ? d + 1 : 0;
}

/// An int read from a string member must print back as that string (leading zeros and a
/// "-0" aside).
void check_integers(const ed::json& v) {
    if (!v.is_object())
        return;
    for (auto& [key, member] : v.items()) {
        std::int64_t out = 12345;
        auto st = ed::int_status_at(v, key, out);
        if (st != ed::int_status::ok) {
            require(out == 12345);
            continue;
        }
        if (member.is_string()) {
            std::string s = member.get<std::string>();
            bool negative = !s.empty() && s[0] == '-';
            std::string digits = s.substr(negative ? 1 : 0);
            auto nz = digits.find_first_not_of('0');
            digits = nz == std::string::npos ? "0" : digits.substr(nz);
            std::string expected = (negative && digits != "0" ? "-" : "") + digits;
            require(std::to_string(out) == expected);
        }
    }
}

void walk(const ed::json& v) {
    check_integers(v);
    if (v.is_structured())
        for (auto& item : v)
            walk(item);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // parse(): bounds and a faithful round trip.
    auto doc = ed::parse(text, ed::max_response);
    if (size > 0)
        require(!ed::parse(text, size - 1)); // one byte over the bound: refused
    if (doc) {
        require(depth_of(*doc) <= ed::max_depth);
        auto back = ed::parse(ed::dump(*doc, "fuzz"));
        require(back && *back == *doc);
        walk(*doc);

        // A range or transaction answer.
        try {
            (void)ed::header_revision(*doc, "fuzz");
        } catch (const fcs::error&) {
        }
        const std::size_t max_value = 64;
        try {
            auto kvs = ed::kvs_of(*doc, max_value);
            auto* arr = ed::find(*doc, "kvs");
            require(kvs.empty() || (arr && kvs.size() == arr->size()));
            for (auto& k : kvs)
                require(k.value.size() <= max_value);
        } catch (const fcs::error&) {
        }
    }

    // A watch line.
    auto line = ed::read_watch_line(text);
    if (!line.failure.empty()) {
        require(line.changes.empty());
    } else {
        require(doc.has_value());
        std::size_t events = 0;
        if (auto* r = ed::find(*doc, "result"))
            if (auto* e = ed::find(*r, "events"); e && e->is_array())
                events = e->size();
        require(line.changes.size() <= events);
    }

    // An authentication answer and a refusal.
    if (auto token = ed::token_of(doc))
        require(!token->empty() && token->size() <= 4096);
    auto refusal = ed::refusal_text(500, text, doc);
    require(refusal.size() <= 1200);
    if (!doc || (!ed::string_at(*doc, "message") && !ed::string_at(*doc, "error")))
        for (char c : refusal)
            require(c >= 0x20 && c < 0x7f);
    (void)ed::refusal_code(doc);
    return 0;
}
