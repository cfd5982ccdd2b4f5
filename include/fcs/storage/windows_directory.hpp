#ifndef FCS_STORAGE_WINDOWS_DIRECTORY_HPP
#define FCS_STORAGE_WINDOWS_DIRECTORY_HPP

// The Windows folder storage: storage::directory's layout and commit protocol
// (detail/commit.hpp) on the Win32 file steps of detail/win32_fs.hpp.
#ifndef _WIN32
#error                                                                                             \
    "fcs/storage/windows_directory.hpp is the Windows storage; on POSIX use fcs/storage/directory.hpp"
#endif

#include <fcs/detail/commit.hpp>
#include <fcs/detail/fault.hpp>
#include <fcs/detail/journal.hpp>
#include <fcs/detail/movable_mutex.hpp>
#include <fcs/detail/win32.hpp>
#include <fcs/detail/win32_fs.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/windows_directory_watch.hpp>

#include <knownfolders.h>
#include <objbase.h>
#include <shlobj.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef _MSC_VER
#pragma comment(lib, "shell32")
#pragma comment(lib, "ole32")
#endif

namespace fcs::storage {

/**
 * The default data folder of a product on Windows: `%PROGRAMDATA%\<vendor>\<product>`, from
 * SHGetKnownFolderPath(FOLDERID_ProgramData) (not the environment, which the caller controls).
 * `vendor` and `product` are UTF-8 folder names.
 * @throws fcs::error for a name that is not a plain folder name, or when Windows does not
 *         know the folder.
 */
inline std::filesystem::path program_data_folder(std::string_view vendor,
                                                 std::string_view product) {
    for (auto n : {vendor, product})
        if (!detail::plain_file_name(n) || n.find_first_of(":*?\"<>|") != std::string_view::npos)
            throw error(errc::invalid_argument, std::string(n), "choose the data folder",
                        "not a plain folder name");
    PWSTR raw = nullptr;
    const HRESULT hr = ::SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &raw);
    struct co_free {
        void operator()(PWSTR p) const noexcept { ::CoTaskMemFree(p); }
    };
    std::unique_ptr<wchar_t, co_free> owned(raw);
    if (FAILED(hr) || !raw)
        throw error(errc::io_failed, "FOLDERID_ProgramData", "choose the data folder",
                    "SHGetKnownFolderPath failed (HRESULT " +
                        std::to_string(static_cast<unsigned long>(hr)) + ")");
    return std::filesystem::path(std::wstring(raw)) / detail::widen(vendor) /
           detail::widen(product);
}

/**
 * Storage in a data folder on Windows, laid out by `Layout` (failover_layout:
 * `Certificates\NAME.crt`, `Certificates\Keys\NAME.key`, `Certificates\Archive\`).
 *
 * The same commit protocol as storage::directory (detail/commit.hpp): temporary files in the
 * final folders, a journal of the renames, the renames, the journal removed; open() replays a
 * journal a crash left and removes stray temporary files. The Win32 steps: every folder and
 * file is created with its final security descriptor (protection::dir_security/file_security,
 * from acl::windows) through SECURITY_ATTRIBUTES, files with CREATE_NEW and FlushFileBuffers,
 * renames with MoveFileExW(REPLACE_EXISTING | WRITE_THROUGH) (durable when it returns: no
 * folder flush as on POSIX), reads bounded and refusing reparse points (links, junctions) and
 * hard-linked keys' link counts reported to the ACL check, the commit serialised between
 * processes with LockFileEx on `.fcs-lock` in the data folder. Paths are UTF-16; messages
 * name items as `Certificates\Keys\NAME.key`.
 *
 * @tparam Layout the on-disk layout (storage/layout.hpp).
 * Example:
 * @code
 *   fcs::storage::windows_directory<fcs::storage::failover_layout> s(
 *       fcs::storage::program_data_folder("Vendor", "Product"));
 * @endcode
 */
template <class Layout>
class windows_directory {
public:
    using policy_kind = policy::kind::storage;
    using layout = Layout;

    explicit windows_directory(std::filesystem::path root)
        : root_path_(std::move(root)) {
        root_path_.make_preferred();
    }

    const std::filesystem::path& root() const noexcept { return root_path_; }

    /// Creates the data folder and the layout's folders with their descriptors, finishes an
    /// interrupted commit, removes stray temporary files. Returns notes for the message log.
    /// A folder that is a reparse point is refused. With protections::repair_folders, the
    /// layout's existing folders get their configured DACL again.
    std::vector<std::string> open(const protections& p) {
        std::lock_guard lock(mutex_);
        prot_ = p;
        std::vector<std::string> notes;
        open_root(true);
        for (auto& f : Layout::folders()) {
            const protection& fp = prot_.of(f.access);
            const bool created =
                detail::create_folder_w(wpath(f.path), fp.dir_security, shown(f.path));
            if (!created && prot_.repair_folders && !fp.dir_security.empty()) {
                detail::set_dacl_w(wpath(f.path), fp.dir_security, shown(f.path));
                notes.push_back(shown(f.path) + ": folder DACL set to the configured one");
            }
        }
        opened_ = true;
        auto other_processes = folder_lock();
        if (recover_locked())
            notes.push_back(shown(std::string(Layout::journal_folder)) +
                            ": finished a change that was interrupted (crash or power loss)");
        remove_stray_temps();
        return notes;
    }

    /// Opens an existing data folder for reading only: creates nothing, finishes no
    /// interrupted change (a pending one is reported in the notes).
    /// @throws fcs::error(errc::not_found) when the data folder does not exist.
    std::vector<std::string> open_read_only(const protections& p) {
        std::lock_guard lock(mutex_);
        prot_ = p;
        open_root(false);
        opened_ = true;
        std::vector<std::string> notes;
        const std::string jdir(Layout::journal_folder);
        if (::GetFileAttributesW(wpath(jdir, journal_name()).c_str()) != INVALID_FILE_ATTRIBUTES)
            notes.push_back(shown(jdir, journal_name()) +
                            ": a change was interrupted (crash or power loss); it is finished "
                            "when the service next starts");
        return notes;
    }

    std::vector<std::string> names(part p) const {
        std::lock_guard lock(mutex_);
        check_opened();
        std::vector<std::string> out;
        for (auto& e : detail::list_w(wpath(Layout::folder(p))))
            if (!(e.attributes & FILE_ATTRIBUTE_DIRECTORY))
                if (auto n = Layout::slot_of(e.name, p); n && valid_slot_name(*n))
                    out.push_back(*n);
        std::sort(out.begin(), out.end());
        return out;
    }

    std::optional<stored_item> read(const std::string& name, part p) const {
        std::lock_guard lock(mutex_);
        check_opened();
        return read_unlocked(name, p);
    }

    /// "Certificates\Keys\NAME.key"
    std::string location(const std::string& name, part p) const {
        return shown(Layout::folder(p), Layout::file_name(name, p));
    }

    fcs::encoding encoding(part p) const { return Layout::encoding_of(p); }

    /// Gives the item its configured protected DACL again.
    void repair(const std::string& name, part p) {
        std::lock_guard lock(mutex_);
        check_opened();
        detail::set_dacl_w(wpath(Layout::folder(p), Layout::file_name(name, p)),
                           prot_.of(class_of(p)).file_security, location(name, p));
    }

    /// Applies the change set as one step (see the class comment and detail/commit.hpp).
    void commit(const change_set& c) {
        std::lock_guard lock(mutex_);
        check_opened();
        // Another process (a second service instance, an admin tool) may commit too.
        auto other_processes = folder_lock();
        file_steps fs{*this};
        detail::run_commit<Layout>(fs, c,
                                   [this](const std::string& n, part p) { return location(n, p); });
    }

    /// Name of the commit journal in Layout::journal_folder.
    static constexpr std::string_view journal_file = detail::journal_file_name;
    /// Name of the lock file in the data folder (LockFileEx: one committing process at a time).
    static constexpr std::wstring_view lock_file = L".fcs-lock";

    static bool is_own_file(std::string_view file) noexcept { return detail::is_own_file(file); }
    static bool is_pair_item(std::string_view folder, std::string_view file) {
        return detail::is_pair_item<Layout>(folder, file);
    }

    /**
     * Watches the folders of the pair (fcs::policy::WatchableStorage) with
     * ReadDirectoryChangesW: `on_change` runs on the watch's thread once the folders have
     * been quiet for `o.settle` after a change to a certificate, key or metadata file. See
     * storage/windows_directory_watch.hpp.
     */
    std::unique_ptr<windows_directory_watch> watch(const std::string& name,
                                                   policy::watch_change_fn on_change,
                                                   policy::watch_log_fn on_log = {},
                                                   directory_watch_options o = {}) const {
        (void)name;
        return detail::make_pair_watch<Layout, windows_directory_watch>(
            root_path_, std::move(on_change), std::move(on_log), o);
    }

    /// The archive/backup entries (folder-relative, '/'-separated like storage::directory's),
    /// for status and tests.
    std::vector<std::string> archive_entries() const {
        std::lock_guard lock(mutex_);
        return detail::archive_listing<Layout>(
            [this](const std::string& f, std::vector<std::string>& out) { collect(f, out); });
    }

private:
    /// The file steps of the commit protocol (detail/commit.hpp) on this data folder.
    struct file_steps {
        windows_directory& d;
        std::optional<stored_item> read_unlocked(const std::string& n, part p) const {
            return d.read_unlocked(n, p);
        }
        bool exists(const std::string& folder, const std::string& file) const {
            return ::GetFileAttributesW(d.wpath(folder, file).c_str()) != INVALID_FILE_ATTRIBUTES;
        }
        std::string write_temp(const std::string& folder, std::span<const std::uint8_t> data,
                               item_class c) const {
            return detail::narrow(detail::write_temp_w(
                d.wpath(folder), data, d.prot_.of(c).file_security, d.shown(folder)));
        }
        void remove_quietly(const std::string& folder, const std::string& file) const noexcept {
            try {
                ::DeleteFileW(d.wpath(folder, file).c_str());
            } catch (...) { // widen() of a name this storage made cannot fail; be safe
            }
        }
        std::string make_archive_folder(const std::string& tag) const {
            return d.make_archive_folder(tag);
        }
        void write_journal(const std::vector<detail::journal_rename>& ops) const {
            d.write_journal(ops);
        }
        void rename_item(const detail::journal_rename& o) const {
            if (FCS_FAIL_POINT("rename.item"))
                throw error(errc::io_failed, d.shown(o.to_dir, o.to), "rename into place",
                            "failure injected");
            detail::replace_w(d.wpath(o.from_dir, o.from), d.wpath(o.to_dir, o.to),
                              d.shown(o.to_dir, o.to));
        }
        // MoveFileExW(MOVEFILE_WRITE_THROUGH) returns once the rename is on disk: there is no
        // folder to flush as fsync(dir) does on POSIX.
        void sync_folders(const std::vector<std::string>&) const noexcept {}
        void remove_journal() const { d.remove_journal(); }
        bool recover_locked() const { return d.recover_locked(); }
    };

    void check_opened() const {
        if (!opened_)
            throw error(errc::io_failed, root_path_.string(), "use storage", "storage not opened");
    }

    /// The data folder, created with the certificate folders' descriptor (its parents as
    /// Windows makes them, inheriting %PROGRAMDATA%'s), refused when it is a reparse point.
    void open_root(bool create) const {
        const std::string where = detail::narrow(root_path_.native());
        if (!create) {
            if (::GetFileAttributesW(root_path_.c_str()) == INVALID_FILE_ATTRIBUTES)
                throw error(errc::not_found, where, "open data folder", "does not exist");
        } else {
            std::error_code ec;
            if (root_path_.has_parent_path())
                std::filesystem::create_directories(root_path_.parent_path(), ec);
            if (ec)
                throw error(errc::io_failed, where, "create data folder", ec.message());
            detail::create_folder_w(root_path_.native(), prot_.public_items.dir_security, where);
        }
        detail::check_folder_w(root_path_.native(), where);
    }

    detail::folder_lock_w folder_lock() const {
        return detail::folder_lock_w(root_path_.native() + L"\\" + std::wstring(lock_file),
                                     prot_.secret_items.file_security,
                                     detail::narrow(root_path_.native()) + "\\.fcs-lock");
    }

    /// The Win32 path of a layout folder ("Certificates/Keys") and optionally a file in it.
    std::wstring wpath(const std::string& folder, const std::string& file = {}) const {
        std::wstring w = root_path_.native() + L"\\" + detail::widen(backslashed(folder));
        if (!file.empty())
            w += L"\\" + detail::widen(file);
        return w;
    }
    static std::string backslashed(std::string s) {
        std::replace(s.begin(), s.end(), '/', '\\');
        return s;
    }
    static std::string shown(const std::string& folder, const std::string& file = {}) {
        return file.empty() ? backslashed(folder) : backslashed(folder) + "\\" + file;
    }
    static std::string journal_name() { return std::string(journal_file); }

    std::optional<stored_item> read_unlocked(const std::string& name, part p) const {
        auto where = location(name, p);
        auto r = detail::read_w(wpath(Layout::folder(p), Layout::file_name(name, p)), where,
                                max_item_size);
        if (!r)
            return std::nullopt;
        return stored_item{std::move(r->data), where, std::move(r->facts)};
    }

    /// The archive folder for `tag`; for per-commit folders (Backup\<tag>\) a fresh one.
    std::string make_archive_folder(const std::string& tag) {
        const auto& sec = prot_.secret_items.dir_security;
        std::string folder = Layout::archive_folder(tag);
        if (folder == Layout::archive_folder("")) {
            detail::create_folder_w(wpath(folder), sec, shown(folder));
            return folder;
        }
        const std::string parent = folder.substr(0, folder.rfind('/'));
        detail::create_folder_w(wpath(parent), sec, shown(parent));
        for (int n = 2;; ++n) {
            SECURITY_ATTRIBUTES sa{};
            sa.nLength = sizeof sa;
            sa.lpSecurityDescriptor = sec.empty() ? nullptr : const_cast<std::uint8_t*>(sec.data());
            if (::CreateDirectoryW(wpath(folder).c_str(), &sa))
                return folder; // one folder per commit: never reuse
            const DWORD e = ::GetLastError();
            if (e != ERROR_ALREADY_EXISTS)
                detail::throw_win32(shown(folder), "create backup folder", e);
            folder = Layout::archive_folder(tag + "-" + std::to_string(n));
        }
    }

    void write_journal(const std::vector<detail::journal_rename>& ops) {
        auto text = detail::format_journal(ops);
        const std::string jdir(Layout::journal_folder);
        // With the keys' descriptor whoever the items are for: no other account may write it.
        auto tmp =
            detail::write_temp_w(wpath(jdir), text, prot_.secret_items.file_security, shown(jdir));
        const std::wstring tmp_path = wpath(jdir) + L"\\" + tmp;
        try {
            if (FCS_FAIL_POINT("rename.journal"))
                throw error(errc::io_failed, shown(jdir, journal_name()), "write journal",
                            "failure injected");
            detail::replace_w(tmp_path, wpath(jdir, journal_name()), shown(jdir, journal_name()));
        } catch (...) {
            ::DeleteFileW(tmp_path.c_str());
            throw;
        }
    }

    void remove_journal() {
        const std::string jdir(Layout::journal_folder);
        FCS_CRASH_POINT("commit.before_journal_removed");
        if (!::DeleteFileW(wpath(jdir, journal_name()).c_str())) {
            const DWORD e = ::GetLastError();
            if (e != ERROR_FILE_NOT_FOUND)
                detail::throw_win32(shown(jdir, journal_name()), "remove journal", e);
        }
    }

    /// Finishes a journal left behind. Returns true when there was one. Refused (and left in
    /// place for the admin) when it is a reparse point, has more than one link, is owned by
    /// anyone but this process's account, Administrators or SYSTEM (detail::owner_problem), or
    /// names anything but this layout's folders and plain file names (detail::parse_journal).
    /// Its folder's DACL lets only Administrators, SYSTEM (and a writing service account)
    /// create it.
    bool recover_locked() {
        const std::string jdir(Layout::journal_folder);
        const std::string where = shown(jdir, journal_name());
        auto r = detail::read_w(wpath(jdir, journal_name()), where, 1u << 16);
        if (!r)
            return false;
        if (r->facts.links != 1)
            throw error(errc::unsafe_file, where, "recover",
                        "the commit journal has " + std::to_string(r->facts.links) +
                            " links; refusing to replay it, it is left in place for an admin "
                            "to inspect");
        // As on POSIX (owner uid == this process's): a journal another account planted is
        // never acted on.
        if (auto problem = detail::owner_problem(r->facts.security_descriptor))
            throw error(errc::unsafe_file, where, "recover",
                        "the commit journal " + *problem +
                            "; refusing to replay it, it is left in place for an admin to "
                            "inspect");
        auto ops = detail::parse_journal<Layout>(as_text(r->data), where);
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
            for (auto& e : detail::list_w(wpath(folders[i]))) {
                if (e.name.starts_with(detail::temp_file_prefix) && !e.is_folder()) {
                    ::DeleteFileW(wpath(folders[i], e.name).c_str());
                    continue;
                }
                // Per-commit backup folders (Backup\<tag>\) hold temporaries too.
                if (folders[i].ends_with("/Backup") && e.is_folder())
                    folders.push_back(folders[i] + "/" + e.name);
            }
        }
    }

    void collect(const std::string& folder, std::vector<std::string>& out) const {
        for (auto& e : detail::list_w(wpath(folder))) {
            if (e.name.starts_with("."))
                continue;
            if (e.is_folder())
                collect(folder + "/" + e.name, out);
            else
                out.push_back(folder + "/" + e.name);
        }
    }

    std::filesystem::path root_path_;
    bool opened_ = false;
    protections prot_;
    mutable detail::movable_mutex mutex_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_WINDOWS_DIRECTORY_HPP
