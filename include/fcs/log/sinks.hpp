#ifndef FCS_LOG_SINKS_HPP
#define FCS_LOG_SINKS_HPP

// Log sinks: the "message log". Each receives leveled messages that never contain key bytes.

#include <fcs/detail/fs.hpp>
#include <fcs/detail/time.hpp>
#include <fcs/detail/movable_mutex.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

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
        (void)!::write(2, line.data(), line.size());
    }

private:
    detail::movable_mutex mutex_;
};

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
        if (!fd_) {
            std::error_code ec;
            std::filesystem::create_directories(path_.parent_path(), ec);
            fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                             0644));
        }
        if (fd_)
            (void)!::write(fd_.get(), line.data(), line.size());
        if (also_stderr_ || !fd_)
            (void)!::write(2, line.data(), line.size());
    }

private:
    std::filesystem::path path_;
    bool also_stderr_ = false;
    detail::unique_fd fd_;
    detail::movable_mutex mutex_;
};

/// Keeps messages in memory (tests). Copies share the same record.
class memory {
public:
    using policy_kind = policy::kind::log;
    struct entry {
        policy::level level;
        std::string message;
    };
    void write(policy::level l, std::string_view msg) {
        std::lock_guard lock(state_->mutex);
        state_->entries.push_back({l, std::string(msg)});
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
