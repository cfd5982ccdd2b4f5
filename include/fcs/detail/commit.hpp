#ifndef FCS_DETAIL_COMMIT_HPP
#define FCS_DETAIL_COMMIT_HPP

// The crash-safe commit protocol of the folder storages, written once for every platform:
// storage::directory (POSIX: openat, renameat, fsync) and storage::windows_directory (Win32:
// CreateFileW, MoveFileExW WRITE_THROUGH) supply only the file steps. The protocol:
//   1. under the folder lock, finish a journal another process left (it crashed mid-commit);
//   2. check the change set (tag, names, the expected contents);
//   3. write every backup copy and every new item to a temporary file in its final folder;
//   4. write the journal of the renames that make the change (the decision point);
//   5. perform the renames (each idempotent: a rename whose source is gone was done), remove
//      the journal.
// After a crash before 4 the next open() removes the temporary files (the old state); after 4
// it replays the journal (the new state). The crash and failure points (detail/fault.hpp) are
// named here, so the crash test kills each platform at the same steps.
//
// A file-step backend `Fs` offers (folders are the layout's '/'-separated relative paths):
//   std::optional<stored_item> read_unlocked(name, part)
//   bool exists(folder, file)
//   std::string write_temp(folder, data, item_class)   // final protection, flushed; its name
//   void remove_quietly(folder, file) noexcept
//   std::string make_archive_folder(tag)               // created; its relative path
//   void write_journal(const std::vector<journal_rename>&)
//   void rename_item(const journal_rename&)            // throws fcs::error naming the target
//   void sync_folders(const std::vector<std::string>&) // make the renames durable
//   void remove_journal()
//   bool recover_locked()                              // replays a journal left behind

#include <fcs/detail/fault.hpp>
#include <fcs/detail/journal.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcs::detail {

/// True for the files a folder storage makes for itself (temporary files, the journal): never
/// a change by someone else.
inline bool is_own_file(std::string_view file) noexcept {
    return file.starts_with(temp_file_prefix) || file == journal_file_name;
}

/// True when `file` in `folder` holds a certificate, key or metadata item of a slot: what a
/// reload reads to choose the pair (not session-ticket keys, not the storage's own files).
template <class Layout>
bool is_pair_item(std::string_view folder, std::string_view file) {
    if (is_own_file(file))
        return false;
    for (part p : {part::certificate, part::private_key, part::metadata})
        if (Layout::folder(p) == folder)
            if (auto n = Layout::slot_of(file, p); n && storage::valid_slot_name(*n))
                return true;
    return false;
}

/// The folders that hold a pair's items, each once: what a watch observes.
template <class Layout>
std::vector<std::string> pair_folders() {
    std::vector<std::string> folders;
    for (part p : {part::certificate, part::private_key, part::metadata})
        if (std::find(folders.begin(), folders.end(), Layout::folder(p)) == folders.end())
            folders.push_back(Layout::folder(p));
    return folders;
}

/// A folder storage's watch of the pair's folders (Watch: directory_watch or
/// windows_directory_watch, which take the same arguments), reporting pair items only.
template <class Layout, class Watch, class Root, class Options>
std::unique_ptr<Watch> make_pair_watch(const Root& root, policy::watch_change_fn on_change,
                                       policy::watch_log_fn on_log, Options o) {
    return std::make_unique<Watch>(
        root, pair_folders<Layout>(),
        [](std::string_view folder, std::string_view file) {
            return is_pair_item<Layout>(folder, file);
        },
        std::move(on_change), std::move(on_log), o);
}

/// The entries under the layout's folders that keep replaced items (Archive, Backup), sorted;
/// `collect(folder, out)` lists one folder (recursively) as the storage sees it.
template <class Layout, class Collect>
std::vector<std::string> archive_listing(Collect&& collect) {
    std::vector<std::string> out;
    for (auto& f : Layout::folders())
        if (f.path.find("Archive") != std::string::npos ||
            f.path.find("Backup") != std::string::npos)
            collect(f.path, out);
    std::sort(out.begin(), out.end());
    return out;
}

/// An archive tag becomes part of file and folder names: letters, digits and '-' only, and a
/// UTC timestamp where it names a folder (recovery accepts no other).
template <class Layout>
void check_archive_tag(const std::string& tag) {
    if (tag.empty() || tag.size() > 64 ||
        !std::all_of(tag.begin(), tag.end(),
                     [](unsigned char ch) { return std::isalnum(ch) || ch == '-'; }) ||
        !is_archive_folder<Layout>(Layout::archive_folder(tag)))
        throw error(errc::invalid_argument, tag, "commit",
                    "not a valid archive tag (a UTC timestamp such as 20261123T101500Z)");
}

inline void check_slot_name(const std::string& n) {
    if (!storage::valid_slot_name(n))
        throw error(errc::invalid_argument, n, "commit", "not a valid certificate name");
}

/// Performs the renames of a journal; a rename whose source is gone was done before a crash.
/// `inject`: the crash points between renames (a commit, not a recovery).
template <class Fs>
void apply_renames(Fs& fs, const std::vector<journal_rename>& ops, bool inject) {
    std::vector<std::string> touched;
    int i = 0;
    for (auto& o : ops) {
        if (!fs.exists(o.from_dir, o.from))
            continue;
        fs.rename_item(o);
        for (auto* d : {&o.from_dir, &o.to_dir})
            if (std::find(touched.begin(), touched.end(), *d) == touched.end())
                touched.push_back(*d);
        if (inject) {
            std::string point = "commit.rename." + std::to_string(i);
            FCS_CRASH_POINT(point);
        }
        ++i;
    }
    fs.sync_folders(touched);
}

/// The whole commit (the protocol above); the caller holds its own mutex and the folder lock.
template <class Layout, class Fs>
void run_commit(Fs& fs, const change_set& c, auto&& location) {
    // A journal another process left (it crashed mid-commit) is finished first: writing ours
    // over it would lose its change.
    fs.recover_locked();
    check_archive_tag<Layout>(c.archive_tag);
    for (auto& e : c.expects) { // under the folder lock: no other process commits now
        check_slot_name(e.name);
        auto now = fs.read_unlocked(e.name, e.part);
        if (now ? !e.data || *e.data != now->data : e.data.has_value())
            throw error(errc::conflict, location(e.name, e.part), "commit",
                        "changed since it was read (another process wrote it); nothing was "
                        "changed");
    }
    std::vector<journal_rename> ops;
    std::vector<std::pair<std::string, std::string>> temps; // folder, file: removed on failure
    auto planned = [&](const std::string& dir, const std::string& file) {
        return std::any_of(ops.begin(), ops.end(),
                           [&](auto& o) { return o.to_dir == dir && o.to == file; });
    };
    try {
        std::string archive_dir;
        auto archive_target = [&](const std::string& name, part p) {
            if (archive_dir.empty())
                archive_dir = fs.make_archive_folder(c.archive_tag);
            std::string file = Layout::archive_file(name, p, c.archive_tag);
            for (int n = 2; fs.exists(archive_dir, file) || planned(archive_dir, file); ++n)
                file = Layout::archive_file(name, p, c.archive_tag + "-" + std::to_string(n));
            return std::pair{archive_dir, file};
        };
        // 1. Backups: a copy of every item that a put replaces.
        for (auto& put : c.puts) {
            check_slot_name(put.name);
            if (!put.backup)
                continue;
            auto existing = fs.read_unlocked(put.name, put.part);
            if (!existing)
                continue;
            auto [adir, afile] = archive_target(put.name, put.part);
            auto tmp = fs.write_temp(adir, existing->data, class_of(put.part));
            temps.emplace_back(adir, tmp);
            ops.push_back({adir, tmp, adir, afile});
        }
        // 2. Moves into the archive.
        for (auto& a : c.archives) {
            check_slot_name(a.name);
            auto [adir, afile] = archive_target(a.name, a.part);
            ops.push_back({Layout::folder(a.part), Layout::file_name(a.name, a.part), adir, afile});
        }
        // 3. The new items.
        for (auto& put : c.puts) {
            auto folder = Layout::folder(put.part);
            auto tmp = fs.write_temp(folder, put.data, class_of(put.part));
            temps.emplace_back(folder, tmp);
            ops.push_back({folder, tmp, folder, Layout::file_name(put.name, put.part)});
        }
        FCS_CRASH_POINT("commit.before_journal");
        fs.write_journal(ops);
    } catch (...) {
        for (auto& [folder, file] : temps)
            fs.remove_quietly(folder, file);
        throw;
    }
    // Past this point the change is decided: finish it, now or at the next open().
    FCS_CRASH_POINT("commit.after_journal");
    try {
        apply_renames(fs, ops, true);
        fs.remove_journal();
    } catch (const error& e) {
        try {
            fs.recover_locked(); // roll forward once more
        } catch (...) {
            throw error(e.fcs_code(), e.file(), e.step(),
                        e.cause() +
                            "; the change is recorded and will be finished at the next start");
        }
    }
    FCS_CRASH_POINT("commit.done");
}

} // namespace fcs::detail

#endif // FCS_DETAIL_COMMIT_HPP
