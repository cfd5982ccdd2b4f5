#ifndef FCS_STORAGE_DIRECTORY_HPP
#define FCS_STORAGE_DIRECTORY_HPP

#include <fcs/detail/fault.hpp>
#include <fcs/detail/fs.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>

#include <algorithm>
#include <filesystem>
#include <sys/file.h>
#include <fcs/detail/movable_mutex.hpp>
#include <mutex>
#include <string>
#include <vector>

namespace fcs::storage {

/// Largest item a directory storage reads (1 MiB); larger files are refused from fstat.
inline constexpr std::size_t max_item_size = 1u << 20;

/**
 * Storage in a data folder, laid out by `Layout` (failover_layout, server_group_layout).
 *
 * A commit writes every new file and every backup copy to a temporary file in its final
 * folder first (created with its final mode, fsynced), then writes a journal of the renames
 * that make the change (temp + fsync + rename + fsync), then performs them, then removes the
 * journal. open() finishes a journal left by a crash (the renames are idempotent) and removes
 * stray temporary files: after any crash the next open() sees the whole old or the whole
 * new state. All paths are opened relative to the data folder with O_NOFOLLOW.
 *
 * @tparam Layout the on-disk layout.
 */
template <class Layout>
class directory {
public:
    using policy_kind = policy::kind::storage;
    using layout = Layout;

    explicit directory(std::filesystem::path root)
        : root_path_(std::move(root)) {}

    const std::filesystem::path& root() const noexcept { return root_path_; }

    /// Creates the data folder and the layout's folders with their modes, finishes an
    /// interrupted commit, removes stray temporary files. Returns notes for the message log.
    std::vector<std::string> open(const protections& p) {
        std::lock_guard lock(mutex_);
        prot_ = p;
        std::vector<std::string> notes;
        std::error_code ec;
        std::filesystem::create_directories(root_path_, ec);
        if (ec)
            throw error(errc::io_failed, root_path_.string(), "create data folder", ec.message());
        root_fd_.reset(::open(root_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd_)
            detail::throw_io(root_path_.string(), "open data folder", errno);
        for (auto& f : Layout::folders()) {
            const protection& fp = prot_.of(f.access);
            auto fd = detail::open_dir(root_fd_.get(), f.path, true, fp.dir_mode);
            struct stat st {};
            if (::fstat(fd.get(), &st) == 0) {
                mode_t have = st.st_mode & 07777;
                if ((have & ~fp.dir_mode) != 0 && !prot_.repair_folders)
                    throw error(errc::unsafe_file, f.path, "check folder",
                                "permissions " + octal(have) + " are too open; it must be " +
                                    octal(fp.dir_mode) + " (run chmod " + octal(fp.dir_mode) +
                                    " on it, or "
                                    "enable repair_permissions to let fcs do it)");
                if (have != fp.dir_mode) {
                    if (::fchmod(fd.get(), fp.dir_mode) != 0)
                        detail::throw_io(f.path, "set folder mode", errno);
                    notes.push_back(f.path + ": folder mode " + octal(have) + " set to " +
                                    octal(fp.dir_mode));
                }
                if ((fp.uid != static_cast<uid_t>(-1) && st.st_uid != fp.uid) ||
                    (fp.gid != static_cast<gid_t>(-1) && st.st_gid != fp.gid)) {
                    if (::fchown(fd.get(), fp.uid, fp.gid) != 0)
                        detail::throw_io(f.path, "set folder owner", errno);
                }
            }
            if (prot_.extend_folder)
                prot_.extend_folder(fd.get(), f.path, f.access);
        }
        folder_lock other_processes(root_fd_.get());
        if (recover_locked())
            notes.push_back(std::string(Layout::journal_folder) +
                            ": finished a change that was interrupted (crash or power loss)");
        remove_stray_temps();
        return notes;
    }

    std::vector<std::string> names(part p) const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        auto dir = detail::open_dir(root_fd(), Layout::folder(p), false, 0);
        for (auto& file : detail::list_dir(dir.get()))
            if (auto n = Layout::slot_of(file, p); n && valid_slot_name(*n))
                out.push_back(*n);
        std::sort(out.begin(), out.end());
        return out;
    }

    std::optional<stored_item> read(const std::string& name, part p) const {
        std::lock_guard lock(mutex_);
        auto shown = location(name, p);
        auto dir = detail::open_dir(root_fd(), Layout::folder(p), false, 0);
        auto file = Layout::file_name(name, p);
        if (!detail::exists_at(dir.get(), file))
            return std::nullopt;
        auto [data, facts] = detail::read_at(dir.get(), file, shown, max_item_size);
        return stored_item{std::move(data), shown, facts};
    }

    std::string location(const std::string& name, part p) const {
        return detail::join(Layout::folder(p), Layout::file_name(name, p));
    }

    fcs::encoding encoding(part p) const { return Layout::encoding_of(p); }

    void repair(const std::string& name, part p) {
        std::lock_guard lock(mutex_);
        auto dir = detail::open_dir(root_fd(), Layout::folder(p), false, 0);
        auto file = Layout::file_name(name, p);
        detail::unique_fd fd(
            ::openat(dir.get(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        if (!fd)
            detail::throw_io(location(name, p), "open", errno);
        const protection& fp = prot_.of(class_of(p));
        if ((fp.uid != static_cast<uid_t>(-1) || fp.gid != static_cast<gid_t>(-1)) &&
            ::fchown(fd.get(), fp.uid, fp.gid) != 0)
            detail::throw_io(location(name, p), "set owner", errno);
        if (::fchmod(fd.get(), fp.file_mode) != 0)
            detail::throw_io(location(name, p), "set mode", errno);
    }

    /// Applies the change set as one step (see the class comment).
    void commit(const change_set& c) {
        std::lock_guard lock(mutex_);
        // Another process (the CLI's `replace` while the server runs) may commit too.
        folder_lock other_processes(root_fd());
        std::vector<rename_op> ops;
        std::vector<std::pair<std::string, std::string>> temps; // folder, file: removed on failure
        for (auto& e : c.expects) { // under the folder lock: no other process commits now
            check_name(e.name);
            auto now = read_unlocked(e.name, e.part);
            if (now ? !e.data || *e.data != now->data : e.data.has_value())
                throw error(errc::conflict, location(e.name, e.part), "commit",
                            "changed since it was read (another process wrote it); nothing was "
                            "changed");
        }
        try {
            std::string archive_dir;
            auto archive_target = [&](const std::string& name, part p) {
                if (archive_dir.empty())
                    archive_dir = make_archive_folder(c.archive_tag);
                auto adir = detail::open_dir(root_fd(), archive_dir, false, 0);
                std::string file = Layout::archive_file(name, p, c.archive_tag);
                for (int n = 2;
                     detail::exists_at(adir.get(), file) || planned(ops, archive_dir, file); ++n)
                    file = Layout::archive_file(name, p, c.archive_tag + "-" + std::to_string(n));
                return std::pair{archive_dir, file};
            };
            // 1. Backups: a copy of every item that a put replaces.
            for (auto& put : c.puts) {
                check_name(put.name);
                if (!put.backup)
                    continue;
                auto existing = read_unlocked(put.name, put.part);
                if (!existing)
                    continue;
                auto [adir_path, afile] = archive_target(put.name, put.part);
                auto adir = detail::open_dir(root_fd(), adir_path, false, 0);
                auto tmp = detail::write_temp_at(adir.get(), existing->data,
                                                 prot_.of(class_of(put.part)), adir_path);
                temps.emplace_back(adir_path, tmp);
                ops.push_back({adir_path, tmp, adir_path, afile});
            }
            // 2. Moves into the archive.
            for (auto& a : c.archives) {
                check_name(a.name);
                auto [adir_path, afile] = archive_target(a.name, a.part);
                ops.push_back(
                    {Layout::folder(a.part), Layout::file_name(a.name, a.part), adir_path, afile});
            }
            // 3. The new items.
            for (auto& put : c.puts) {
                auto folder = Layout::folder(put.part);
                auto dir = detail::open_dir(root_fd(), folder, false, 0);
                auto tmp = detail::write_temp_at(dir.get(), put.data, prot_.of(class_of(put.part)),
                                                 folder);
                temps.emplace_back(folder, tmp);
                ops.push_back({folder, tmp, folder, Layout::file_name(put.name, put.part)});
            }
            FCS_CRASH_POINT("commit.before_journal");
            write_journal(ops);
        } catch (...) {
            for (auto& [folder, file] : temps) {
                try {
                    auto dir = detail::open_dir(root_fd(), folder, false, 0);
                    ::unlinkat(dir.get(), file.c_str(), 0);
                } catch (...) {
                }
            }
            throw;
        }
        // Past this point the change is decided: finish it, now or at the next open().
        FCS_CRASH_POINT("commit.after_journal");
        try {
            apply(ops, true);
            remove_journal();
        } catch (const error& e) {
            try {
                recover_locked(); // roll forward once more
            } catch (...) {
                throw error(e.fcs_code(), e.file(), e.step(),
                            e.cause() +
                                "; the change is recorded and will be finished at the next start");
            }
        }
        FCS_CRASH_POINT("commit.done");
    }

    /// The archive/backup entries (folder-relative paths), for status and tests.
    std::vector<std::string> archive_entries() const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (auto& f : Layout::folders()) {
            if (f.path.find("Archive") == std::string::npos &&
                f.path.find("Backup") == std::string::npos)
                continue;
            collect(f.path, out);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    struct folder_lock {
        explicit folder_lock(int fd)
            : fd_(fd) {
            ::flock(fd_, LOCK_EX);
        }
        ~folder_lock() { ::flock(fd_, LOCK_UN); }
        folder_lock(const folder_lock&) = delete;
        folder_lock& operator=(const folder_lock&) = delete;
        int fd_;
    };

    struct rename_op {
        std::string from_dir, from, to_dir, to;
    };

    int root_fd() const {
        if (!root_fd_)
            throw error(errc::io_failed, root_path_.string(), "use storage", "storage not opened");
        return root_fd_.get();
    }

    static std::string octal(mode_t m) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
        return buf;
    }

    static void check_name(const std::string& n) {
        if (!valid_slot_name(n))
            throw error(errc::invalid_argument, n, "commit", "not a valid certificate name");
    }

    static bool planned(const std::vector<rename_op>& ops, const std::string& dir,
                        const std::string& file) {
        return std::any_of(ops.begin(), ops.end(),
                           [&](auto& o) { return o.to_dir == dir && o.to == file; });
    }

    std::optional<stored_item> read_unlocked(const std::string& name, part p) const {
        auto dir = detail::open_dir(root_fd(), Layout::folder(p), false, 0);
        auto file = Layout::file_name(name, p);
        if (!detail::exists_at(dir.get(), file))
            return std::nullopt;
        auto [data, facts] = detail::read_at(dir.get(), file, location(name, p), max_item_size);
        return stored_item{std::move(data), location(name, p), facts};
    }

    /// The archive folder for `tag`; for per-commit folders (Backup/<tag>/) a fresh one.
    std::string make_archive_folder(const std::string& tag) {
        std::string folder = Layout::archive_folder(tag);
        if (folder != Layout::archive_folder("")) { // one folder per commit: never reuse
            for (int n = 2;; ++n) {
                std::string parent = folder.substr(0, folder.rfind('/'));
                std::string leaf = folder.substr(folder.rfind('/') + 1);
                auto pfd = detail::open_dir(root_fd(), parent, true, prot_.secret_items.dir_mode);
                if (::mkdirat(pfd.get(), leaf.c_str(), prot_.secret_items.dir_mode) == 0) {
                    auto fd = detail::open_dir(pfd.get(), leaf, false, 0);
                    ::fchmod(fd.get(), prot_.secret_items.dir_mode);
                    detail::fsync_dir(pfd.get(), parent);
                    break;
                }
                if (errno != EEXIST)
                    detail::throw_io(folder, "create backup folder", errno);
                folder = Layout::archive_folder(tag + "-" + std::to_string(n));
            }
        } else {
            detail::open_dir(root_fd(), folder, true, prot_.secret_items.dir_mode);
        }
        return folder;
    }

    std::string journal_name() const { return ".fcs-journal"; }

    void write_journal(const std::vector<rename_op>& ops) {
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
        std::string jdir(Layout::journal_folder);
        auto dir = detail::open_dir(root_fd(), jdir, false, 0);
        auto tmp = detail::write_temp_at(dir.get(), text, prot_.secret_items, jdir);
        if (FCS_FAIL_POINT("rename.journal") ||
            ::renameat(dir.get(), tmp.c_str(), dir.get(), journal_name().c_str()) != 0) {
            int e = errno;
            ::unlinkat(dir.get(), tmp.c_str(), 0);
            detail::throw_io(detail::join(jdir, journal_name()), "write journal", e);
        }
        detail::fsync_dir(dir.get(), jdir);
    }

    void remove_journal() {
        std::string jdir(Layout::journal_folder);
        auto dir = detail::open_dir(root_fd(), jdir, false, 0);
        FCS_CRASH_POINT("commit.before_journal_removed");
        if (::unlinkat(dir.get(), journal_name().c_str(), 0) != 0 && errno != ENOENT)
            detail::throw_io(detail::join(jdir, journal_name()), "remove journal", errno);
        detail::fsync_dir(dir.get(), jdir);
    }

    /// Performs the renames; a rename whose source is gone was done before a crash.
    void apply(const std::vector<rename_op>& ops, bool inject) {
        std::vector<std::string> touched;
        int i = 0;
        for (auto& o : ops) {
            auto from = detail::open_dir(root_fd(), o.from_dir, false, 0);
            auto to = detail::open_dir(root_fd(), o.to_dir, false, 0);
            if (!detail::exists_at(from.get(), o.from))
                continue;
            if (FCS_FAIL_POINT("rename.item") ||
                ::renameat(from.get(), o.from.c_str(), to.get(), o.to.c_str()) != 0)
                detail::throw_io(detail::join(o.to_dir, o.to), "rename into place", errno);
            for (auto* d : {&o.from_dir, &o.to_dir})
                if (std::find(touched.begin(), touched.end(), *d) == touched.end())
                    touched.push_back(*d);
            if (inject) {
                std::string point = "commit.rename." + std::to_string(i);
                FCS_CRASH_POINT(point);
            }
            ++i;
        }
        for (auto& d : touched) {
            auto fd = detail::open_dir(root_fd(), d, false, 0);
            detail::fsync_dir(fd.get(), d);
        }
    }

    /// Finishes a journal left behind. Returns true when there was one.
    bool recover_locked() {
        std::string jdir(Layout::journal_folder);
        auto dir = detail::open_dir(root_fd(), jdir, false, 0);
        if (!detail::exists_at(dir.get(), journal_name()))
            return false;
        auto [text, facts] = detail::read_at(dir.get(), journal_name(),
                                             detail::join(jdir, journal_name()), 1u << 16);
        std::vector<rename_op> ops;
        std::string_view s = as_text(text);
        bool complete = s.starts_with("fcs-journal 1\n") && s.ends_with("\nend\n");
        std::size_t pos = s.find('\n') + 1;
        while (complete && pos < s.size()) {
            auto nl = s.find('\n', pos);
            auto line = s.substr(pos, nl - pos);
            pos = nl + 1;
            if (line == "end")
                break;
            std::vector<std::string> f;
            std::size_t lp = 0;
            while (true) {
                auto t = line.find('\t', lp);
                f.emplace_back(
                    line.substr(lp, t == std::string_view::npos ? line.size() - lp : t - lp));
                if (t == std::string_view::npos)
                    break;
                lp = t + 1;
            }
            if (f.size() != 5 || f[0] != "R" || f[2].find('/') != std::string::npos ||
                f[4].find('/') != std::string::npos) {
                complete = false;
                break;
            }
            ops.push_back({f[1], f[2], f[3], f[4]});
        }
        if (!complete)
            throw error(errc::parse_failed, detail::join(jdir, journal_name()), "recover",
                        "the commit journal is damaged; inspect the folder by hand");
        apply(ops, false);
        remove_journal();
        return true;
    }

    void remove_stray_temps() {
        std::vector<std::string> folders;
        for (auto& f : Layout::folders())
            folders.push_back(f.path);
        for (std::size_t i = 0; i < folders.size(); ++i) {
            detail::unique_fd dir;
            try {
                dir = detail::open_dir(root_fd(), folders[i], false, 0);
            } catch (const error&) {
                continue;
            }
            for (auto& e : detail::list_dir(dir.get())) {
                if (e.starts_with(".fcs-tmp-")) {
                    ::unlinkat(dir.get(), e.c_str(), 0);
                    continue;
                }
                // Per-commit backup folders (Backup/<tag>/) hold temporaries too.
                if (folders[i].ends_with("/Backup")) {
                    struct stat st {};
                    if (::fstatat(dir.get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISDIR(st.st_mode))
                        folders.push_back(folders[i] + "/" + e);
                }
            }
        }
    }

    void collect(const std::string& folder, std::vector<std::string>& out) const {
        detail::unique_fd dir;
        try {
            dir = detail::open_dir(root_fd(), folder, false, 0);
        } catch (const error&) {
            return;
        }
        for (auto& e : detail::list_dir(dir.get())) {
            if (e.starts_with("."))
                continue;
            struct stat st {};
            if (::fstatat(dir.get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISDIR(st.st_mode))
                collect(folder + "/" + e, out);
            else
                out.push_back(folder + "/" + e);
        }
    }

    std::filesystem::path root_path_;
    detail::unique_fd root_fd_;
    protections prot_;
    mutable detail::movable_mutex mutex_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_DIRECTORY_HPP
