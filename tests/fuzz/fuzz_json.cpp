// libFuzzer target: the JSON reader behind the etcd storage (fcs/detail/json.hpp), which reads
// whatever an etcd endpoint (or whoever answers in its place) sends. What it accepts must stay
// within its limits, every integer read must be range-checked (UBSan watches), and every string
// it returns must quote back to JSON that reads as the same string.
#include <fcs/detail/json.hpp>

#include <cstdlib>
#include <string_view>

namespace {
namespace json = fcs::detail::json;

void walk(const json::value& v, std::size_t depth, std::size_t& count) {
    if (depth > json::limits{}.max_depth + 1 || ++count > json::limits{}.max_values + 1)
        std::abort(); // a limit did not hold
    if (v.is_string()) {
        auto back = json::parse(json::quote(v.text));
        if (!back || !back->is_string() || back->text != v.text)
            std::abort(); // quote() and parse() disagree
    }
    for (auto& m : v.members) {
        std::int64_t n = 0;
        (void)v.int_status_at(m.key, n);
        (void)v.string_at(m.key);
        walk(m.val, depth + 1, count);
    }
    for (auto& i : v.items)
        walk(i, depth + 1, count);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto doc = json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (doc) {
        std::size_t count = 0;
        walk(*doc, 0, count);
    }
    return 0;
}
