// libFuzzer target: the commit journal parser (fcs/detail/journal.hpp). A journal on disk may
// have been planted by the account that owns the data folder, so the oracle checks what the
// parser lets through, not only that it does not crash: every rename names the layout's own
// folders and plain file names, moves only within a folder or into the archive, and what it
// accepts reads back the same after formatting.
#include <fcs/detail/journal.hpp>
#include <fcs/storage/layout.hpp>

#include <cstdlib>
#include <string_view>

namespace {
template <class Layout>
void check(std::string_view text) {
    std::vector<fcs::detail::journal_rename> ops;
    try {
        ops = fcs::detail::parse_journal<Layout>(text, "fuzz/.fcs-journal");
    } catch (const fcs::error&) {
        return;
    }
    for (auto& o : ops) {
        if (!fcs::detail::is_layout_folder<Layout>(o.from_dir) ||
            !fcs::detail::is_layout_folder<Layout>(o.to_dir))
            std::abort(); // a folder outside the layout
        for (auto* dir : {&o.from_dir, &o.to_dir})
            if (dir->find("..") != std::string::npos || dir->empty() || dir->front() == '/')
                std::abort(); // a path that could leave the data folder
        if (!fcs::detail::plain_file_name(o.from) || !fcs::detail::plain_file_name(o.to))
            std::abort();
        if (o.from_dir != o.to_dir && !fcs::detail::is_archive_folder<Layout>(o.to_dir))
            std::abort(); // a move no commit makes (e.g. a key into the public folder)
    }
    auto again = fcs::detail::parse_journal<Layout>(fcs::as_text(fcs::detail::format_journal(ops)),
                                                    "fuzz/.fcs-journal");
    if (again.size() != ops.size())
        std::abort();
    for (std::size_t i = 0; i < ops.size(); ++i)
        if (again[i].from_dir != ops[i].from_dir || again[i].from != ops[i].from ||
            again[i].to_dir != ops[i].to_dir || again[i].to != ops[i].to)
            std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check<fcs::storage::failover_layout>(text);
    check<fcs::storage::server_group_layout>(text);
    return 0;
}
