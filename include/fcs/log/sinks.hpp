#ifndef FCS_LOG_SINKS_HPP
#define FCS_LOG_SINKS_HPP

// Log sinks: the "message log". Each receives leveled messages that never contain key bytes.

#ifndef _WIN32
#include <fcs/detail/fs.hpp>
#else
#include <fcs/detail/win32.hpp>
#include <fcs/detail/win32_fs.hpp>
#endif
#include <fcs/detail/time.hpp>
#include <fcs/detail/movable_mutex.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fcs::log {

/// "2026-11-23T10:15:00Z WARNING message\n"
inline std::string format_line(time_point t, policy::level l, std::string_view msg) {
    std::string line = detail::iso8601(t);
    line += ' ';
    line += policy::to_string(l);
    line += ' ';
    for (char c : msg) // one message, one line
        line.push_back(c == '\n' || c == '\r' ? ' ' : c);
    line += '\n';
    return line;
}

/// Writes to standard error.
class stderr_sink {
public:
    using policy_kind = policy::kind::log;
    void write(policy::level l, std::string_view msg) {
        auto line = format_line(std::chrono::system_clock::now(), l, msg);
        std::lock_guard lock(mutex_);
#ifdef _WIN32
        (void)std::fwrite(line.data(), 1, line.size(), stderr);
        (void)std::fflush(stderr);
#else
        (void)!::write(2, line.data(), line.size());
#endif
    }

private:
    detail::movable_mutex mutex_;
};

#ifndef _WIN32
/// The message log file (default DATA/Logs/messages.log), one line per message, appended
/// with O_APPEND so several processes (server and CLI) can share it. Mode 0644.
class file {
public:
    using policy_kind = policy::kind::log;
    explicit file(std::filesystem::path path, bool also_stderr = false)
        : path_(std::move(path))
        , also_stderr_(also_stderr) {}
    file(const file& o)
        : path_(o.path_)
        , also_stderr_(o.also_stderr_) {}

    const std::filesystem::path& path() const { return path_; }

    void write(policy::level l, std::string_view msg) {
        auto line = format_line(std::chrono::system_clock::now(), l, msg);
        std::lock_guard lock(mutex_);
        if (!fd_)
            fd_ = open_log();
        if (fd_) {
            const bool ok = write_all(fd_.get(), line);
            // Said once (on stderr, the log being what failed) until a write succeeds again.
            if (!ok && !write_failed_)
                say_on_stderr("write", errno);
            write_failed_ = !ok;
        }
        if (also_stderr_ || !fd_)
            (void)write_all(2, line);
    }

private:
    /// Opens the log for appending: missing folders are made 0755 and a new log 0644, set
    /// exactly whatever the umask; a link or anything but a regular file is refused (an
    /// invalid fd: the line goes to stderr instead).
    detail::unique_fd open_log() const {
        std::vector<std::filesystem::path> missing;
        for (auto p = path_.parent_path(); !p.empty() && !std::filesystem::exists(p);
             p = p.parent_path()) {
            missing.push_back(p);
            if (p == p.parent_path())
                break;
        }
        // The modes are set exactly (the umask may have narrowed them): a failure leaves the
        // log usable but perhaps unreadable to other users, which is said on stderr.
        for (auto it = missing.rbegin(); it != missing.rend(); ++it)
            if (::mkdir(it->c_str(), 0755) == 0 && ::chmod(it->c_str(), 0755) != 0)
                say_on_stderr("set mode 0755 of the new folder " + it->string(), errno);
        const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
        detail::unique_fd fd(::open(path_.c_str(), flags | O_CREAT | O_EXCL, 0644));
        if (fd) {
            if (::fchmod(fd.get(), 0644) != 0)
                say_on_stderr("set mode 0644", errno);
        } else if (errno == EEXIST)
            fd.reset(::open(path_.c_str(), flags));
        struct stat st {};
        if (fd && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)))
            fd.reset();
        return fd;
    }

    /// Writes all of `text` (a short write or EINTR continues). False: errno says why.
    static bool write_all(int fd, std::string_view text) {
        while (!text.empty()) {
            auto n = ::write(fd, text.data(), text.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return false;
            text.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// A problem of the log itself, said where it can still be seen.
    void say_on_stderr(const std::string& step, int err) const {
        auto line = "fcs: message log " + path_.string() + ": " + step +
                    " failed: " + std::strerror(err) + "\n";
        (void)write_all(2, line);
    }

    std::filesystem::path path_;
    bool also_stderr_ = false;
    bool write_failed_ = false; ///< the last write to the log failed (said once on stderr)
    detail::unique_fd fd_;
    detail::movable_mutex mutex_;
};

#else // _WIN32

/// The message log file on Windows (default DATA\Logs\messages.log), one line per message,
/// appended (FILE_APPEND_DATA: each line lands whole at the end, also with several processes
/// writing). Missing folders and a new log get `folder_security` / `file_security` (self-
/// relative descriptors, e.g. acl::windows's public ones: Users read, the service modify) at
/// creation; empty ones inherit. A reparse point (a link or junction planted in the log's or a
/// folder's place), a folder or a file with a second name (hard link) is refused: the line goes
/// to stderr instead, the problem is said there once, and the next line tries again.
class file {
public:
    using policy_kind = policy::kind::log;
    explicit file(std::filesystem::path path, bool also_stderr = false,
                  std::vector<std::uint8_t> folder_security = {},
                  std::vector<std::uint8_t> file_security = {})
        : path_(std::move(path))
        , also_stderr_(also_stderr)
        , folder_security_(std::move(folder_security))
        , file_security_(std::move(file_security)) {}
    file(const file& o)
        : path_(o.path_)
        , also_stderr_(o.also_stderr_)
        , folder_security_(o.folder_security_)
        , file_security_(o.file_security_) {}

    const std::filesystem::path& path() const { return path_; }

    void write(policy::level l, std::string_view msg) {
        auto line = format_line(std::chrono::system_clock::now(), l, msg);
        std::lock_guard lock(mutex_);
        if (!h_)
            h_ = open_log(); // tried again for each line while it fails, said once
        if (h_) {
            DWORD n = 0;
            const bool ok = ::WriteFile(h_.get(), line.data(), static_cast<DWORD>(line.size()),
                                        &n, nullptr) &&
                            n == line.size();
            if (!ok && !write_failed_)
                say_on_stderr("write: " + detail::win32_message(::GetLastError()));
            write_failed_ = !ok;
        }
        if (also_stderr_ || !h_) {
            (void)std::fwrite(line.data(), 1, line.size(), stderr);
            (void)std::fflush(stderr);
        }
    }

private:
    detail::unique_handle open_log() {
        const std::wstring path = path_.native();
        try {
            std::vector<std::filesystem::path> missing;
            for (auto p = path_.parent_path(); !p.empty() && p != p.parent_path();
                 p = p.parent_path()) {
                if (::GetFileAttributesW(p.c_str()) != INVALID_FILE_ATTRIBUTES) {
                    detail::check_folder_w(p.native(), detail::narrow(p.native()));
                    break;
                }
                missing.push_back(p);
            }
            for (auto it = missing.rbegin(); it != missing.rend(); ++it)
                detail::create_folder_w(it->native(), folder_security_,
                                        detail::narrow(it->native()));
        } catch (const error& e) {
            return refuse(e.what());
        }
        SECURITY_ATTRIBUTES sa{};
        sa.nLength = sizeof sa;
        sa.lpSecurityDescriptor =
            file_security_.empty() ? nullptr : const_cast<std::uint8_t*>(file_security_.data());
        detail::unique_handle h(::CreateFileW(
            path.c_str(), FILE_APPEND_DATA | SYNCHRONIZE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa, OPEN_ALWAYS,
            FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
        if (!h)
            return refuse("open: " + detail::win32_message(::GetLastError()));
        BY_HANDLE_FILE_INFORMATION info{};
        const char* refused =
            !::GetFileInformationByHandle(h.get(), &info) ? "cannot be checked"
            : info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT
                ? "is a reparse point (a link or junction); refusing to follow it"
            : info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY ? "is a folder, not a file"
            : info.nNumberOfLinks > 1 ? "has a second name (hard link); refusing it"
                                      : nullptr;
        if (refused)
            return refuse(std::string("open: ") + refused);
        open_failed_ = false;
        return h;
    }

    /// The log cannot be used now: said once on stderr (until it opens again).
    detail::unique_handle refuse(const std::string& why) {
        if (!open_failed_)
            say_on_stderr(why + " (messages go to standard error)");
        open_failed_ = true;
        return {};
    }

    /// A problem of the log itself, said where it can still be seen.
    void say_on_stderr(const std::string& what) const {
        const std::string line =
            "fcs: message log " + detail::narrow(path_.native()) + ": " + what + "\n";
        (void)std::fwrite(line.data(), 1, line.size(), stderr);
        (void)std::fflush(stderr);
    }

    std::filesystem::path path_;
    bool also_stderr_ = false;
    std::vector<std::uint8_t> folder_security_, file_security_;
    bool write_failed_ = false; ///< the last write to the log failed (said once on stderr)
    bool open_failed_ = false;  ///< the last open failed or was refused (said once)
    detail::unique_handle h_;
    detail::movable_mutex mutex_;
};

#endif // _WIN32

/// Keeps messages in memory (tests). Copies share the same record.
class memory {
public:
    using policy_kind = policy::kind::log;
    struct entry {
        policy::level level;
        std::string message;
        std::string event, cert_name, fingerprint; ///< the policy::log_fields, if any
    };
    void write(policy::level l, std::string_view msg) { write(l, msg, {}); }
    void write(policy::level l, std::string_view msg, const policy::log_fields& f) {
        std::lock_guard lock(state_->mutex);
        state_->entries.push_back({l, std::string(msg), std::string(f.event),
                                   std::string(f.cert_name), std::string(f.fingerprint)});
    }
    std::vector<entry> entries() const {
        std::lock_guard lock(state_->mutex);
        return state_->entries;
    }
    /// Messages at `l` that contain `text`.
    std::size_t count(policy::level l, std::string_view text = {}) const {
        std::lock_guard lock(state_->mutex);
        std::size_t n = 0;
        for (auto& e : state_->entries)
            n += e.level == l && e.message.find(text) != std::string::npos;
        return n;
    }
    void clear() {
        std::lock_guard lock(state_->mutex);
        state_->entries.clear();
    }

private:
    struct state {
        std::mutex mutex;
        std::vector<entry> entries;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

/// Discards everything.
struct null_sink {
    using policy_kind = policy::kind::log;
    void write(policy::level, std::string_view) {}
};

} // namespace fcs::log

#endif // FCS_LOG_SINKS_HPP
