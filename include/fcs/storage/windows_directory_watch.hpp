#ifndef FCS_STORAGE_WINDOWS_DIRECTORY_WATCH_HPP
#define FCS_STORAGE_WINDOWS_DIRECTORY_WATCH_HPP

// The change watch of the Windows folder storage (ReadDirectoryChangesW): what
// fcs::storage::windows_directory<L>::watch returns, the counterpart of directory_watch
// (inotify). One thread per watch, no Asio: it waits on the overlapped read and a stop event.
#ifndef _WIN32
#error                                                                                             \
    "fcs/storage/windows_directory_watch.hpp is for Windows; on POSIX use fcs/storage/directory_watch.hpp"
#endif

#include <fcs/detail/win32.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/watch_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace fcs::storage {

/**
 * Watches folders of a data folder with ReadDirectoryChangesW and calls `on_change` (on its
 * own thread) once they have been quiet for the settle time after a relevant event.
 *
 * - One overlapped read per watched folder and per folder above it up to the data folder
 *   (as the inotify watch does): a watched folder that is created, deleted, renamed or
 *   recreated is seen in its parent, watched again once it is back, and reported.
 * - Only file events that `relevant(folder, file)` accepts count (the storage's rule from its
 *   layout and its own temporary/journal names, windows_directory<L>::watch).
 * - Lost events (the buffer overflowed: Windows then reports nothing) count as a change.
 * - A folder that does not exist yet is opened once it appears (checked every 500 ms) and its
 *   appearance is reported; one that cannot be watched is said once through `on_log`.
 * Destruction stops and joins the thread (a callback must not destroy its watch).
 */
class windows_directory_watch {
public:
    using change_fn = policy::watch_change_fn;
    using log_fn = policy::watch_log_fn;
    /// `folder` is relative to the data folder, '/'-separated ("Certificates/Keys").
    using filter_fn = std::function<bool(std::string_view folder, std::string_view file)>;

    /// Watches `folders` (relative to `root`). Every read is started when the constructor
    /// returns: a change made after it is reported.
    windows_directory_watch(std::filesystem::path root, std::vector<std::string> folders,
                            filter_fn relevant, change_fn on_change, log_fn on_log,
                            directory_watch_options o = {})
        : root_(std::move(root))
        , folders_(std::move(folders))
        , relevant_(std::move(relevant))
        , on_change_(std::move(on_change))
        , on_log_(std::move(on_log))
        , opts_(o) {
        root_.make_preferred();
        plan();
        stop_.reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
        detail::unique_handle armed(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
        bool events = stop_ && armed;
        for (auto& w : watches_) {
            w.done.reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
            events = events && w.done;
        }
        if (!events) {
            log(policy::level::warning, "cannot watch the certificate folders (" +
                                            detail::win32_message(::GetLastError()) +
                                            "); changes are picked up only when a reload is "
                                            "requested");
            return;
        }
        // The reads are started on the watch's own thread, which then waits for them: Wine
        // finishes an overlapped directory read in the thread that started it (a system APC),
        // so a read started here would complete only once this thread next waits in Windows.
        thread_ = std::thread([this, a = armed.get()] {
            for (auto& w : watches_)
                arm(w, false);
            ::SetEvent(a);
            run();
        });
        ::WaitForSingleObject(armed.get(), INFINITE);
    }

    ~windows_directory_watch() {
        if (thread_.joinable()) {
            ::SetEvent(stop_.get());
            thread_.join();
        }
    }
    windows_directory_watch(const windows_directory_watch&) = delete;
    windows_directory_watch& operator=(const windows_directory_watch&) = delete;

private:
    static constexpr DWORD notify_filter =
        FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME | FILE_NOTIFY_CHANGE_LAST_WRITE |
        FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SECURITY;

    /// One watched folder: its handle, its pending read and the read's buffer.
    struct watch {
        std::string folder; ///< relative, '/'-separated; "" is the data folder
        bool files = false; ///< a pair folder (its files count), else only a parent
        detail::unique_handle dir, done;
        OVERLAPPED ov{};
        bool reading = false;
        std::vector<DWORD> buffer = std::vector<DWORD>(8 * 1024); // 32 KiB, DWORD-aligned
        watch() = default;
        watch(watch&&) = default;
        ~watch() { close(); }
        /// Cancels a pending read and waits for it: the buffer must outlive the kernel's use.
        void close() {
            if (dir && reading) {
                ::CancelIoEx(dir.get(), &ov);
                DWORD n = 0;
                ::GetOverlappedResult(dir.get(), &ov, &n, TRUE);
            }
            reading = false;
            dir.reset();
        }
    };

    void log(policy::level l, const std::string& m) const {
        if (on_log_)
            on_log_(l, m);
    }

    /// The pair folders and every folder above them up to the data folder, each once.
    void plan() {
        auto add = [&](const std::string& f, bool files) {
            for (auto& w : watches_)
                if (w.folder == f) {
                    w.files = w.files || files;
                    return;
                }
            watches_.emplace_back();
            watches_.back().folder = f;
            watches_.back().files = files;
        };
        for (auto& f : folders_) {
            add(f, true);
            for (auto slash = f.rfind('/'); slash != std::string::npos;
                 slash = f.rfind('/', slash - 1)) {
                add(f.substr(0, slash), false);
                if (slash == 0)
                    break;
            }
            add("", false);
        }
    }

    std::wstring path_of(const watch& w) const {
        std::string rel = w.folder;
        std::replace(rel.begin(), rel.end(), '/', '\\');
        return rel.empty() ? root_.native() : root_.native() + L"\\" + detail::widen(rel);
    }

    /// Opens the folder (when needed) and starts one overlapped read. False when the folder
    /// cannot be watched now (a missing one is retried; anything else is also said once).
    bool arm(watch& w, bool quiet) {
        if (!w.dir) {
            w.dir.reset(::CreateFileW(path_of(w).c_str(), FILE_LIST_DIRECTORY,
                                      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                      nullptr, OPEN_EXISTING,
                                      FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr));
            if (!w.dir) {
                const DWORD e = ::GetLastError();
                if (!quiet && e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND)
                    log(policy::level::warning,
                        detail::narrow(path_of(w)) + ": cannot watch (" + detail::win32_message(e) +
                            "); changes are picked up only when a reload is requested");
                return false;
            }
        }
        w.ov = OVERLAPPED{};
        ::ResetEvent(w.done.get());
        w.ov.hEvent = w.done.get();
        if (!::ReadDirectoryChangesW(w.dir.get(), w.buffer.data(),
                                     static_cast<DWORD>(w.buffer.size() * sizeof(DWORD)), FALSE,
                                     notify_filter, nullptr, &w.ov, nullptr)) {
            if (!quiet)
                log(policy::level::warning,
                    detail::narrow(path_of(w)) + ": cannot watch (" +
                        detail::win32_message(::GetLastError()) +
                        "); changes are picked up only when a reload is requested");
            w.dir.reset();
            return false;
        }
        w.reading = true;
        return true;
    }

    /// True when `name` in the watched folder `w` concerns the pair: a relevant file in a pair
    /// folder, or a watched folder that appeared, went away or was renamed.
    bool relevant_entry(const watch& w, const std::string& name, DWORD action) const {
        const std::string child = w.folder.empty() ? name : w.folder + "/" + name;
        if (action != FILE_ACTION_MODIFIED)
            for (auto& o : watches_)
                if (o.folder == child)
                    return true;
        return w.files && relevant_(w.folder, name);
    }

    /// The events of a completed read of `w` that count.
    bool relevant_events(const watch& w, DWORD bytes) const {
        if (bytes == 0)
            return true; // the buffer overflowed: events were lost, assume the worst
        const auto* base = reinterpret_cast<const std::uint8_t*>(w.buffer.data());
        std::size_t at = 0;
        bool any = false;
        while (at + sizeof(FILE_NOTIFY_INFORMATION) <= bytes) {
            const auto* info = reinterpret_cast<const FILE_NOTIFY_INFORMATION*>(base + at);
            const std::size_t chars = info->FileNameLength / sizeof(wchar_t);
            if (at + offsetof(FILE_NOTIFY_INFORMATION, FileName) + chars * sizeof(wchar_t) > bytes)
                return true; // malformed: be safe
            if (relevant_entry(w, detail::narrow(std::wstring_view(info->FileName, chars)),
                               info->Action))
                any = true;
            if (info->NextEntryOffset == 0)
                break;
            at += info->NextEntryOffset;
        }
        return any;
    }

    void run() {
        using clock = std::chrono::steady_clock;
        bool pending = false;
        clock::time_point due{};
        auto changed = [&] {
            pending = true;
            due = clock::now() + opts_.settle;
        };
        while (true) {
            std::vector<HANDLE> handles{stop_.get()};
            std::vector<watch*> reading;
            bool missing = false;
            for (auto& w : watches_) {
                if (w.reading) {
                    handles.push_back(w.done.get());
                    reading.push_back(&w);
                } else
                    missing = true;
            }
            DWORD timeout = INFINITE;
            if (pending) {
                auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(due - clock::now());
                timeout = static_cast<DWORD>(std::max<long long>(0, left.count()));
            }
            if (missing)
                timeout = std::min<DWORD>(timeout, 500);
            const DWORD r = ::WaitForMultipleObjects(static_cast<DWORD>(handles.size()),
                                                     handles.data(), FALSE, timeout);
            if (r == WAIT_OBJECT_0)
                return;
            if (r > WAIT_OBJECT_0 && r < WAIT_OBJECT_0 + handles.size()) {
                watch& w = *reading[r - WAIT_OBJECT_0 - 1];
                DWORD bytes = 0;
                const bool ok = ::GetOverlappedResult(w.dir.get(), &w.ov, &bytes, FALSE);
                w.reading = false;
                if (!ok) { // the folder went away: watch it again once it is back
                    w.dir.reset();
                    changed();
                } else {
                    const bool counts = relevant_events(w, bytes);
                    if (!arm(w, false) || counts)
                        changed();
                }
                continue;
            }
            for (auto& w : watches_)
                if (!w.reading && arm(w, true)) // the folder (re)appeared
                    changed();
            if (pending && clock::now() >= due) {
                pending = false;
                on_change_();
            }
        }
    }

    std::filesystem::path root_;
    std::vector<std::string> folders_;
    filter_fn relevant_;
    change_fn on_change_;
    log_fn on_log_;
    directory_watch_options opts_;
    std::vector<watch> watches_;
    detail::unique_handle stop_;
    std::thread thread_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_WINDOWS_DIRECTORY_WATCH_HPP
