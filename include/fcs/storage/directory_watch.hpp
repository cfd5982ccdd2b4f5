#ifndef FCS_STORAGE_DIRECTORY_WATCH_HPP
#define FCS_STORAGE_DIRECTORY_WATCH_HPP

// The change watch of a folder storage (Linux inotify): what fcs::storage::directory<L>::watch
// returns. One thread per watch, no Asio: it polls the inotify descriptor and a stop event.

#include <fcs/detail/fs.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/watch_options.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace fcs::storage {

/**
 * Watches folders of a data folder with inotify and calls `on_change` (on its own thread) once
 * the folders have been quiet for the settle time after a relevant event.
 *
 * - Only file events that `relevant(folder, file)` accepts count; the storage passes a rule
 *   made from its layout and its own temporary/journal names (directory<L>::watch).
 * - A watched folder deleted, moved away or recreated (an admin restoring Certificates/), or
 *   one that did not exist at the start, is watched again as soon as it appears: its parents up
 *   to the data folder are watched for new folders. Such a change is itself reported.
 * - inotify unavailable, or a folder that cannot be watched at the start: said once through
 *   `on_log` (a reload is then only done on request).
 * Destruction stops and joins the thread (a callback must not destroy its watch).
 */
class directory_watch {
public:
    using change_fn = policy::watch_change_fn;
    using log_fn = policy::watch_log_fn;
    /// `folder` is relative to the data folder ("Certificates/Keys"), `file` a plain name.
    using filter_fn = std::function<bool(std::string_view folder, std::string_view file)>;

    /// Watches `folders` (relative to `root`, the data folder). Every watch is in place when
    /// the constructor returns: a change made after it is reported.
    directory_watch(std::filesystem::path root, std::vector<std::string> folders,
                    filter_fn relevant, change_fn on_change, log_fn on_log,
                    directory_watch_options o = {})
        : root_(std::move(root))
        , relevant_(std::move(relevant))
        , on_change_(std::move(on_change))
        , on_log_(std::move(on_log))
        , opts_(o) {
        plan(folders);
        inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        stop_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!inotify_ || !stop_) {
            log(policy::level::warning,
                std::string("cannot watch the certificate folders (") + std::strerror(errno) +
                    "); changes are picked up only when a reload is requested");
            inotify_.reset();
            return;
        }
        add_watches(true);
        thread_ = std::thread([this] { run(); });
    }

    ~directory_watch() {
        if (thread_.joinable()) {
            const std::uint64_t one = 1;
            // Cannot fail short of a closed descriptor: the counter is far from its maximum.
            [[maybe_unused]] auto n = ::write(stop_.get(), &one, sizeof one);
            thread_.join();
        }
    }
    directory_watch(const directory_watch&) = delete;
    directory_watch& operator=(const directory_watch&) = delete;

    /// True when inotify runs (false: changes are seen only on request).
    bool active() const noexcept { return thread_.joinable(); }

private:
    struct target {
        std::string path; ///< relative to root_, "" for the data folder itself
        bool files;       ///< a watched folder (its files count) or only a parent of one
    };

    static constexpr std::uint32_t file_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                               IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
                                               IN_MOVE_SELF;
    static constexpr std::uint32_t parent_mask =
        IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;

    /// The folders and every parent up to the data folder (parents: for a recreated folder).
    void plan(const std::vector<std::string>& folders) {
        auto add = [&](const std::string& path, bool files) {
            auto it = std::find_if(targets_.begin(), targets_.end(),
                                   [&](const target& t) { return t.path == path; });
            if (it == targets_.end())
                targets_.push_back({path, files});
            else
                it->files = it->files || files;
        };
        for (auto& f : folders) {
            add(f, true);
            for (auto slash = f.rfind('/'); slash != std::string::npos;
                 slash = slash == 0 ? std::string::npos : f.rfind('/', slash - 1))
                add(f.substr(0, slash), false);
            add("", false);
        }
    }

    std::filesystem::path full(const std::string& rel) const {
        return rel.empty() ? root_ : root_ / rel;
    }

    /// (Re)adds every watch. Adding a watch that exists is harmless (same descriptor); a
    /// folder that is gone gets its watch when its parent reports it.
    void add_watches(bool report) {
        auto before = std::move(watched_);
        watched_.clear();
        for (std::size_t i = 0; i < targets_.size(); ++i) {
            const auto& t = targets_[i];
            int wd = ::inotify_add_watch(inotify_.get(), full(t.path).c_str(),
                                         (t.files ? file_mask : parent_mask) | IN_ONLYDIR);
            if (wd >= 0)
                watched_[wd] = i;
            else if (report && t.files)
                log(policy::level::warning,
                    t.path + ": cannot watch for changes (" + std::strerror(errno) +
                        "); changes are picked up only when a reload is requested");
        }
        // A watch on a folder that is no longer at its path (Keys/ inside a Certificates/ moved
        // away) would report another folder's files: dropped.
        for (auto& [wd, i] : before)
            if (!watched_.count(wd))
                ::inotify_rm_watch(inotify_.get(), wd);
    }

    bool is_target(const std::string& path) const {
        return std::any_of(targets_.begin(), targets_.end(),
                           [&](const target& t) { return t.path == path; });
    }

    void run() {
        using clock = std::chrono::steady_clock;
        std::optional<clock::time_point> due;
        alignas(inotify_event) char buf[8192];
        for (;;) {
            int timeout = -1;
            if (due) {
                auto left =
                    std::chrono::ceil<std::chrono::milliseconds>(*due - clock::now()).count();
                timeout = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
            }
            pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
            int n = ::poll(fds, 2, timeout);
            if (n < 0 && errno != EINTR)
                return log(policy::level::error,
                           std::string("the folder watch stopped: ") + std::strerror(errno));
            if (n > 0 && fds[0].revents)
                return;
            if (n > 0 && fds[1].revents) {
                bool rewatch = false, relevant = false;
                for (;;) {
                    ssize_t got = ::read(inotify_.get(), buf, sizeof buf);
                    if (got <= 0)
                        break; // EAGAIN: drained
                    scan(buf, static_cast<std::size_t>(got), rewatch, relevant);
                }
                if (rewatch)
                    add_watches(false);
                if (relevant)
                    due = clock::now() + opts_.settle;
            }
            if (due && clock::now() >= *due) {
                due.reset();
                // Once more: a folder made inside a recreated one before its parent was
                // watched again has not been reported; the reload below reads it anyway.
                add_watches(false);
                notify();
            }
        }
    }

    /// Reads one buffer of events. The kernel writes whole events, each aligned.
    void scan(const char* buf, std::size_t n, bool& rewatch, bool& relevant) {
        for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
            inotify_event ev;
            std::memcpy(&ev, buf + off, sizeof ev);
            if (off + sizeof ev + ev.len > n)
                break;
            std::string_view name;
            if (ev.len > 0)
                name = std::string_view(buf + off + sizeof ev,
                                        ::strnlen(buf + off + sizeof ev, ev.len));
            off += sizeof ev + ev.len;
            if (ev.mask & IN_Q_OVERFLOW) { // events were lost: assume the worst
                rewatch = relevant = true;
                continue;
            }
            auto it = watched_.find(ev.wd);
            if (it == watched_.end())
                continue; // a watch dropped at the last re-watch (a folder moved away)
            const target& t = targets_[it->second];
            if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                // The folder is gone or moved away: the watch would follow it elsewhere.
                if (ev.mask & IN_MOVE_SELF)
                    ::inotify_rm_watch(inotify_.get(), ev.wd);
                rewatch = relevant = true;
                continue;
            }
            if (ev.mask & IN_ISDIR) {
                // Only folders of the watch set (Keys/ recreated), not Archive/ or Backup/.
                std::string child =
                    t.path.empty() ? std::string(name) : t.path + "/" + std::string(name);
                if (is_target(child))
                    rewatch = relevant = true;
                continue;
            }
            if (t.files && relevant_(t.path, name))
                relevant = true;
        }
    }

    void notify() {
        try {
            on_change_();
        } catch (const std::exception& e) {
            log(policy::level::error, std::string("a change handler failed: ") + e.what());
        } catch (...) {
            log(policy::level::error, "a change handler failed");
        }
    }

    void log(policy::level l, const std::string& m) {
        if (!on_log_)
            return;
        try {
            on_log_(l, m);
        } catch (...) { // a failing log must not end the watch
        }
    }

    std::filesystem::path root_;
    filter_fn relevant_;
    change_fn on_change_;
    log_fn on_log_;
    directory_watch_options opts_;
    std::vector<target> targets_;
    std::map<int, std::size_t> watched_; ///< watch descriptor -> index in targets_
    detail::unique_fd inotify_;
    detail::unique_fd stop_;
    std::thread thread_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_DIRECTORY_WATCH_HPP
