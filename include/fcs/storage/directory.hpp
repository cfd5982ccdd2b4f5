#ifndef FCS_STORAGE_DIRECTORY_HPP
#define FCS_STORAGE_DIRECTORY_HPP

#include <fcs/detail/commit.hpp>
#include <fcs/detail/fault.hpp>
#include <fcs/detail/fs.hpp>
#include <fcs/detail/journal.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/directory_watch.hpp>
#include <fcs/storage/layout.hpp>

#include <fcs/detail/movable_mutex.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/file.h>

namespace fcs::storage {

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
    /// Refuses a data folder that group or others may write, and a folder owned by an account
    /// other than this process's, the configured owner or root: whoever owns a folder can
    /// plant files in it.
    std::vector<std::string> open(const protections& p) {
        std::lock_guard lock(mutex_);
        prot_ = p;
        std::vector<std::string> notes;
        root_fd_ = open_root(true);
        for (auto& f : Layout::folders()) {
            const protection& fp = prot_.of(f.access);
            auto fd = detail::open_dir(root_fd_.get(), f.path, true, fp.dir_mode);
            struct stat st {};
            if (::fstat(fd.get(), &st) != 0)
                detail::throw_io(f.path, "check folder", errno);
            check_owner(st, fp, f.path);
            mode_t have = st.st_mode & 07777;
            if ((have & ~fp.dir_mode) != 0 && !prot_.repair_folders)
                throw error(errc::unsafe_file, f.path, "check folder",
                            "permissions " + octal(have) + " are too open; it must be " +
                                octal(fp.dir_mode) + " (run chmod " + octal(fp.dir_mode) +
                                " on it, or enable repair_permissions to let fcs do it)");
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
            if (prot_.extend_folder)
                prot_.extend_folder(fd.get(), f.path, f.access);
        }
        folder_lock other_processes(root_fd_.get(), root_path_.string());
        if (recover_locked())
            notes.push_back(std::string(Layout::journal_folder) +
                            ": finished a change that was interrupted (crash or power loss)");
        remove_stray_temps();
        return notes;
    }

    /// Opens an existing data folder for reading only (status queries): creates no folder,
    /// changes no mode, finishes no interrupted change. A pending change is reported in the
    /// notes; the next open() finishes it.
    /// @throws fcs::error(errc::not_found) when the data folder does not exist.
    std::vector<std::string> open_read_only(const protections& p) {
        std::lock_guard lock(mutex_);
        prot_ = p;
        root_fd_ = open_root(false);
        std::vector<std::string> notes;
        std::string jdir(Layout::journal_folder);
        try {
            auto dir = detail::open_dir(root_fd_.get(), jdir, false, 0);
            if (detail::exists_at(dir.get(), journal_name()))
                notes.push_back(detail::join(jdir, journal_name()) +
                                ": a change was interrupted (crash or power loss); it is "
                                "finished when the service next starts");
        } catch (const error& e) {
            if (e.fcs_code() != errc::not_found)
                throw;
        }
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

    /// Applies the change set as one step (see the class comment and detail/commit.hpp).
    void commit(const change_set& c) {
        std::lock_guard lock(mutex_);
        // Another process (the CLI's `replace` while the server runs) may commit too.
        folder_lock other_processes(root_fd(), root_path_.string());
        file_steps fs{*this};
        detail::run_commit<Layout>(fs, c,
                                   [this](const std::string& n, part p) { return location(n, p); });
    }

    /// Name of the commit journal in Layout::journal_folder.
    static constexpr std::string_view journal_file = detail::journal_file_name;

    /// True for the files this storage makes for itself in its folders (temporary files of a
    /// commit, the journal): never a change by someone else.
    static bool is_own_file(std::string_view file) noexcept { return detail::is_own_file(file); }

    /// True when `file` in `folder` holds a certificate, key or metadata item of a slot: what
    /// a reload reads to choose the pair. Session-ticket keys are not (they are re-read on
    /// their own schedule, and this process rotates them), nor are the storage's own files.
    static bool is_pair_item(std::string_view folder, std::string_view file) {
        return detail::is_pair_item<Layout>(folder, file);
    }

    /**
     * Watches the folders of the pair (fcs::policy::WatchableStorage): `on_change` runs on the
     * watch's thread once the folders have been quiet for `o.settle` after a change to a
     * certificate, key or metadata file (is_pair_item). Every slot counts, not only `name`:
     * a reload chooses among all of them. Works before open(); a folder that does not exist
     * yet is watched once it appears. Keep the handle while the service runs.
     */
    std::unique_ptr<directory_watch> watch(const std::string& name,
                                           policy::watch_change_fn on_change,
                                           policy::watch_log_fn on_log = {},
                                           directory_watch_options o = {}) const {
        (void)name;
        return detail::make_pair_watch<Layout, directory_watch>(root_path_, std::move(on_change),
                                                                std::move(on_log), o);
    }

    /// The archive/backup entries (folder-relative paths), for status and tests.
    std::vector<std::string> archive_entries() const {
        std::lock_guard lock(mutex_);
        return detail::archive_listing<Layout>(
            [this](const std::string& f, std::vector<std::string>& out) { collect(f, out); });
    }

private:
    struct folder_lock {
        folder_lock(int fd, const std::string& shown)
            : fd_(fd) {
            int rc;
            while ((rc = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
            }
            if (rc != 0)
                detail::throw_io(shown, "lock data folder", errno);
        }
        // Unlocking cannot fail on a valid fd, and closing the fd releases the lock anyway.
        ~folder_lock() { (void)::flock(fd_, LOCK_UN); }
        folder_lock(const folder_lock&) = delete;
        folder_lock& operator=(const folder_lock&) = delete;
        int fd_;
    };

    using rename_op = detail::journal_rename;

    int root_fd() const {
        if (!root_fd_)
            throw error(errc::io_failed, root_path_.string(), "use storage", "storage not opened");
        return root_fd_.get();
    }

    /// The data folder, created with mode 0755 whatever the umask (its parents as the
    /// system makes them), and checked: a data folder others may write is refused.
    detail::unique_fd open_root(bool create) const {
        const std::string shown = root_path_.string();
        if (create && ::mkdir(root_path_.c_str(), 0755) == 0) {
            // New: set the mode exactly (the umask may have narrowed it).
            if (::chmod(root_path_.c_str(), 0755) != 0)
                detail::throw_io(shown, "set data folder mode", errno);
        } else if (create && errno == ENOENT) {
            std::error_code ec;
            std::filesystem::create_directories(root_path_.parent_path(), ec);
            if (ec)
                throw error(errc::io_failed, shown, "create data folder", ec.message());
            if (::mkdir(root_path_.c_str(), 0755) != 0 && errno != EEXIST)
                detail::throw_io(shown, "create data folder", errno);
            if (::chmod(root_path_.c_str(), 0755) != 0)
                detail::throw_io(shown, "set data folder mode", errno);
        }
        detail::unique_fd fd(
            ::open(root_path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd)
            detail::throw_io(shown, "open data folder", errno == ENOTDIR ? ELOOP : errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            detail::throw_io(shown, "check data folder", errno);
        if (st.st_mode & 0022)
            throw error(errc::unsafe_file, shown, "check data folder",
                        "permissions " + octal(st.st_mode) +
                            " let group or others write it (they could plant files in it); "
                            "run chmod go-w on it");
        check_owner(st, prot_.public_items, shown);
        return fd;
    }

    /// A folder must belong to this process's account, the configured owner or root.
    static void check_owner(const struct stat& st, const protection& fp, const std::string& shown) {
        if (st.st_uid == ::geteuid() || st.st_uid == 0 ||
            (fp.uid != static_cast<uid_t>(-1) && st.st_uid == fp.uid))
            return;
        throw error(errc::unsafe_file, shown, "check folder",
                    "owned by uid " + std::to_string(st.st_uid) +
                        ", not by this service's account or root; refusing a folder another "
                        "account controls");
    }

    static std::string octal(mode_t m) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
        return buf;
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
                    if (::fchmod(fd.get(), prot_.secret_items.dir_mode) != 0)
                        detail::throw_io(folder, "set backup folder mode", errno);
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

    std::string journal_name() const { return std::string(journal_file); }

    void write_journal(const std::vector<rename_op>& ops) {
        auto text = detail::format_journal(ops);
        std::string jdir(Layout::journal_folder);
        auto dir = detail::open_dir(root_fd(), jdir, false, 0);
        // Owned by this process's account, 0600, whoever the items are for: recovery accepts
        // no journal another account could have written.
        auto tmp = detail::write_temp_at(dir.get(), text, protection{0700, 0600}, jdir);
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

    /// The file steps of the commit protocol (detail/commit.hpp) on this data folder.
    struct file_steps {
        directory& d;
        std::optional<stored_item> read_unlocked(const std::string& n, part p) const {
            return d.read_unlocked(n, p);
        }
        bool exists(const std::string& folder, const std::string& file) const {
            auto dir = detail::open_dir(d.root_fd(), folder, false, 0);
            return detail::exists_at(dir.get(), file);
        }
        std::string write_temp(const std::string& folder, std::span<const std::uint8_t> data,
                               item_class c) const {
            auto dir = detail::open_dir(d.root_fd(), folder, false, 0);
            return detail::write_temp_at(dir.get(), data, d.prot_.of(c), folder);
        }
        void remove_quietly(const std::string& folder, const std::string& file) const noexcept {
            try {
                auto dir = detail::open_dir(d.root_fd(), folder, false, 0);
                ::unlinkat(dir.get(), file.c_str(), 0);
            } catch (...) {
            }
        }
        std::string make_archive_folder(const std::string& tag) const {
            return d.make_archive_folder(tag);
        }
        void write_journal(const std::vector<rename_op>& ops) const { d.write_journal(ops); }
        void rename_item(const rename_op& o) const {
            auto from = detail::open_dir(d.root_fd(), o.from_dir, false, 0);
            auto to = detail::open_dir(d.root_fd(), o.to_dir, false, 0);
            if (FCS_FAIL_POINT("rename.item") ||
                ::renameat(from.get(), o.from.c_str(), to.get(), o.to.c_str()) != 0)
                detail::throw_io(detail::join(o.to_dir, o.to), "rename into place", errno);
        }
        void sync_folders(const std::vector<std::string>& folders) const {
            for (auto& f : folders) {
                auto fd = detail::open_dir(d.root_fd(), f, false, 0);
                detail::fsync_dir(fd.get(), f);
            }
        }
        void remove_journal() const { d.remove_journal(); }
        bool recover_locked() const { return d.recover_locked(); }
    };

    /// Finishes a journal left behind. Returns true when there was one. The journal is
    /// refused (and left in place for the admin) unless it is a regular file of this process's
    /// account with mode 0600 and one link, and every line names only this layout's folders
    /// and plain file names: a planted journal must not make this process rename anything
    /// anywhere else (its folder may belong to a less-privileged account).
    bool recover_locked() {
        std::string jdir(Layout::journal_folder);
        auto dir = detail::open_dir(root_fd(), jdir, false, 0);
        if (!detail::exists_at(dir.get(), journal_name()))
            return false;
        const std::string shown = detail::join(jdir, journal_name());
        auto [text, facts] = detail::read_at(dir.get(), journal_name(), shown, 1u << 16);
        if (facts.uid != ::geteuid() || facts.mode != 0600 || facts.links != 1)
            throw error(errc::unsafe_file, shown, "recover",
                        "the commit journal is not this service's own (owner uid " +
                            std::to_string(facts.uid) + ", mode " + octal(facts.mode) + ", " +
                            std::to_string(facts.links) + " links; expected owner uid " +
                            std::to_string(::geteuid()) +
                            ", mode 0600, 1 link); refusing to replay it, it is left in place "
                            "for an admin to inspect");
        auto ops = detail::parse_journal<Layout>(as_text(text), shown);
        file_steps fs{*this};
        detail::apply_renames(fs, ops, false);
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
                if (e.starts_with(detail::temp_file_prefix)) {
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
