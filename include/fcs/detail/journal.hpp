#ifndef FCS_DETAIL_JOURNAL_HPP
#define FCS_DETAIL_JOURNAL_HPP

// The commit journal of storage::directory: its text format, and the parser that decides what
// a journal found on disk may make this process rename. A journal can be planted by an account
// that owns the data folder, so every line is checked against the layout before it is used.
//
//   fcs-journal 1
//   R<TAB>from-folder<TAB>from-file<TAB>to-folder<TAB>to-file     (one per rename, in order)
//   end

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::detail {

/// Name prefix of every temporary file a folder storage makes (recognised by open()'s clean-up
/// and ignored by the folder watches).
inline constexpr std::string_view temp_file_prefix = ".fcs-tmp-";

/// Name of the commit journal in the layout's journal folder.
inline constexpr std::string_view journal_file_name = ".fcs-journal";

/// One rename of a commit: folders relative to the data folder, plain file names.
struct journal_rename {
    std::string from_dir, from, to_dir, to;
};

/// "20261123T101500Z", optionally followed by "-N" (a second commit in the same second).
inline bool timestamp_tag(std::string_view t) {
    auto digits = [&](std::size_t from, std::size_t n) {
        return t.size() >= from + n &&
               std::all_of(t.begin() + static_cast<long>(from),
                           t.begin() + static_cast<long>(from + n),
                           [](unsigned char ch) { return std::isdigit(ch); });
    };
    if (t.size() < 16 || !digits(0, 8) || t[8] != 'T' || !digits(9, 6) || t[15] != 'Z')
        return false;
    if (t.size() == 16)
        return true;
    return t.size() <= 24 && t[16] == '-' && digits(17, t.size() - 17);
}

/// A file name without a folder: not empty, not "." or "..", no '/', '\\' or control bytes.
inline bool plain_file_name(std::string_view n) {
    return !n.empty() && n.size() <= 255 && n != "." && n != ".." &&
           std::none_of(n.begin(), n.end(), [](unsigned char ch) {
               return ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\';
           });
}

/// The layout's archive folder: its one shared folder, or a per-commit folder whose tag is a
/// UTC timestamp.
template <class Layout>
bool is_archive_folder(std::string_view folder) {
    const std::string shared = Layout::archive_folder("20000101T000000Z");
    if (shared == Layout::archive_folder("20990101T000000Z")) // one folder for all tags
        return folder == shared;
    const std::string prefix = Layout::archive_folder("");
    return folder.starts_with(prefix) && timestamp_tag(folder.substr(prefix.size()));
}

/// A folder of the layout, or one of its archive folders.
template <class Layout>
bool is_layout_folder(std::string_view folder) {
    for (auto& f : Layout::folders())
        if (folder == f.path)
            return true;
    return is_archive_folder<Layout>(folder);
}

/// The journal text for `ops` (cleansed buffer: it names only files, but it is written with
/// the key's mode all the same).
inline secret_bytes format_journal(const std::vector<journal_rename>& ops) {
    secret_bytes text;
    auto put = [&](std::string_view s) { text.insert(text.end(), s.begin(), s.end()); };
    put("fcs-journal 1\n");
    for (auto& o : ops) {
        put("R\t");
        put(o.from_dir);
        put("\t");
        put(o.from);
        put("\t");
        put(o.to_dir);
        put("\t");
        put(o.to);
        put("\n");
    }
    put("end\n");
    return text;
}

/// The journal's renames, each checked: folders of this layout only (an archive folder
/// of its own tag form), plain file names, and only the moves a commit makes (within a
/// folder, or into the archive).
template <class Layout>
std::vector<journal_rename> parse_journal(std::string_view s, const std::string& shown) {
    auto damaged = [&](const std::string& why) {
        return error(errc::parse_failed, shown, "recover",
                     "the commit journal is damaged or not fcs's (" + why +
                         "); refusing to replay it, it is left in place for an admin to "
                         "inspect");
    };
    if (!s.starts_with("fcs-journal 1\n") || !s.ends_with("\nend\n"))
        throw damaged("incomplete");
    std::vector<journal_rename> ops;
    std::size_t pos = s.find('\n') + 1;
    while (pos < s.size()) {
        auto nl = s.find('\n', pos);
        auto line = s.substr(pos, nl - pos);
        pos = nl + 1;
        if (line == "end") {
            if (pos != s.size())
                throw damaged("text after the end line");
            break;
        }
        std::vector<std::string> f;
        std::size_t lp = 0;
        while (f.size() < 6) {
            auto t = line.find('\t', lp);
            f.emplace_back(
                line.substr(lp, t == std::string_view::npos ? line.size() - lp : t - lp));
            if (t == std::string_view::npos)
                break;
            lp = t + 1;
        }
        if (f.size() != 5 || f[0] != "R")
            throw damaged("a line is not a rename");
        for (int i : {2, 4})
            if (!plain_file_name(f[i]))
                throw damaged("'" + printable_name(f[i]) + "' is not a plain file name");
        for (int i : {1, 3})
            if (!is_layout_folder<Layout>(f[i]))
                throw damaged("'" + printable_name(f[i]) + "' is not a folder of this layout");
        if (f[1] != f[3] && !is_archive_folder<Layout>(f[3]))
            throw damaged("a move from '" + printable_name(f[1]) + "' to '" + printable_name(f[3]) +
                          "' is not one a commit makes");
        ops.push_back({f[1], f[2], f[3], f[4]});
    }
    return ops;
}

} // namespace fcs::detail

#endif // FCS_DETAIL_JOURNAL_HPP
