#ifndef FCS_EXAMPLES_CLI_HPP
#define FCS_EXAMPLES_CLI_HPP

// What the example programs share around CLI11: bounded values, number ranges and usage
// problems with the programs' own words (not CLI11's), the refusal of passwords on the command
// line, and a help layout where each command's description starts with its usage lines and its
// footer holds the examples.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcs::examples::cli {

/// The longest value any option takes (paths, URLs, names).
inline constexpr std::size_t max_value_bytes = 4096;

/// A wrong command line, said in the program's words: printed as it is, exit status 2. Thrown
/// from validators too: CLI11 lets exceptions other than ValidationError through unchanged, so
/// the message is not prefixed with CLI11's wording.
class usage_problem : public CLI::ParseError {
public:
    explicit usage_problem(std::string message)
        : CLI::ParseError("UsageProblem", std::move(message), 2) {}
};

/// Refuses a value longer than max_value_bytes: "NAME: value too long".
inline CLI::Validator bounded(std::string name) {
    return CLI::Validator(
        [name](std::string& v) -> std::string {
            if (v.size() > max_value_bytes)
                throw usage_problem(name + ": value too long");
            return {};
        },
        "", "bounded");
}

inline std::string with_value(std::string message, const std::string& v) {
    if (auto at = message.find("%v"); at != std::string::npos)
        message.replace(at, 2, v);
    return message;
}

/// A whole number from `lo` to `hi`: "NAME VALUE: expected a number from LO to HI" otherwise
/// (or `message`, when the program words it its own way; "%v" in it stands for the value).
inline CLI::Validator number_in(std::string name, unsigned long lo, unsigned long hi,
                                std::string message = {}) {
    return CLI::Validator(
        [name, lo, hi, message](std::string& v) -> std::string {
            unsigned long n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (v.size() > 20 || ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi)
                throw usage_problem(
                    !message.empty() ? message
                                     : name + " " + v.substr(0, 64) + ": expected a number from " +
                                           std::to_string(lo) + " to " + std::to_string(hi));
            return {};
        },
        "", "number_in");
}

/// One of `words`: "NAME VALUE: expected A, B or C" otherwise.
inline CLI::Validator word_in(std::string name, std::vector<std::string> words) {
    return CLI::Validator(
        [name, words](std::string& v) -> std::string {
            if (std::find(words.begin(), words.end(), v) != words.end())
                return {};
            std::string list;
            for (std::size_t i = 0; i < words.size(); ++i)
                list += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
            throw usage_problem(name + " " + v.substr(0, 64) + ": expected " + list);
        },
        "", "word_in");
}

/// Adds `--name` with a bounded value (every value option of the programs goes through here).
template <class T>
CLI::Option* value(CLI::App& app, const std::string& name, T& into, std::string type,
                   std::string help) {
    return app.add_option(name, into, std::move(help))
        ->type_name(std::move(type))
        ->check(bounded(name));
}

/// The options of `app` (a parsed command) given on the command line, by their "--long" names.
using given_set = std::set<std::string, std::less<>>;
inline given_set given_options(const CLI::App& app) {
    given_set out;
    for (const CLI::Option* o : app.get_options())
        if (o->count() > 0)
            for (auto& n : o->get_lnames())
                out.insert("--" + n);
    return out;
}

/// The option a password would be given with, when `args` carries one (`--password`,
/// `--password=...`, `--etcd-password`, ...): passwords are never taken from the command line.
/// The value is never looked at, so it cannot be echoed.
inline std::optional<std::string> password_argument(const std::vector<std::string>& args,
                                                    const std::vector<std::string>& names) {
    for (auto& a : args)
        for (auto& n : names)
            if (a == n || a.starts_with(n + "="))
                return n;
    return std::nullopt;
}

/// CLI11's own usage errors in the programs' words: a missing value, a value given twice.
/// Anything else keeps CLI11's text (it names the option).
inline std::string message_of(const CLI::ParseError& e) {
    static const std::regex missing(R"(^(--[A-Za-z0-9-]+): \d+ required .* missing$)");
    static const std::regex twice(R"(^(--[A-Za-z0-9-]+): At Most \d+ required but received \d+$)");
    std::smatch m;
    std::string what = e.what();
    if (std::regex_match(what, m, missing))
        return m[1].str() + " needs a value";
    if (std::regex_match(what, m, twice))
        return m[1].str() + " is given more than once";
    return what;
}

/**
 * The programs' help layout: the description carries the usage lines and the explanation (so
 * no generic "Usage:" line), then the options CLI11 lists, then the footer with the examples.
 */
class help_formatter : public CLI::Formatter {
public:
    help_formatter() {
        column_width(25);
        label("REQUIRED", "(required)");
    }
    std::string make_usage(const CLI::App*, std::string) const override { return {}; }
    std::string make_description(const CLI::App* app) const override {
        auto d = app->get_description();
        return d.empty() ? d : d + "\n";
    }
    /// The top level's description lists the commands with their synopses already.
    std::string make_subcommands(const CLI::App*, CLI::AppFormatMode) const override { return {}; }
    std::string make_footer(const CLI::App* app) const override {
        auto f = app->get_footer();
        return f.empty() ? f : f + "\n";
    }
};

} // namespace fcs::examples::cli

#endif // FCS_EXAMPLES_CLI_HPP
