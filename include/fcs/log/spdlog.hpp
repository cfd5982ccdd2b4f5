#ifndef FCS_LOG_SPDLOG_HPP
#define FCS_LOG_SPDLOG_HPP

// The message log through an spdlog logger the program already has (CMake: link fcs::spdlog;
// Debian: libspdlog-dev). Only programs that include this header need spdlog.

#include <fcs/policy/concepts.hpp>

#include <cassert>
#include <memory>
#include <string_view>
#include <utility>

#include <spdlog/logger.h>

namespace fcs::log {

/// The spdlog level of a message level: debug, info, warn, err.
constexpr ::spdlog::level::level_enum spdlog_level(policy::level l) noexcept {
    switch (l) {
    case policy::level::debug:
        return ::spdlog::level::debug;
    case policy::level::info:
        return ::spdlog::level::info;
    case policy::level::warning:
        return ::spdlog::level::warn;
    case policy::level::error:
        return ::spdlog::level::err;
    }
    return ::spdlog::level::err;
}

/**
 * Hands each message to an spdlog logger, at the level spdlog_level() says; the logger's own
 * level, sinks and pattern decide the rest. The message is passed as text, never as a format
 * string (a '{' in a file name stays a '{'). Copies share the logger. Thread-safe as the
 * logger's sinks are (spdlog's `_mt` sinks are).
 *
 * Example:
 *     auto logger = spdlog::rotating_logger_mt("fcs", "/var/log/app/fcs.log", 1 << 20, 3);
 *     fcs::FailoverCertService<Storage, fcs::log::spdlog> svc(opts, storage,
 *                                                             fcs::log::spdlog(logger));
 */
class spdlog {
public:
    using policy_kind = policy::kind::log;

    /// `logger` must not be null.
    explicit spdlog(std::shared_ptr<::spdlog::logger> logger)
        : logger_(std::move(logger)) {
        assert(logger_ && "fcs::log::spdlog needs a logger");
    }

    const std::shared_ptr<::spdlog::logger>& logger() const noexcept { return logger_; }

    void write(policy::level l, std::string_view msg) {
        logger_->log(spdlog_level(l), ::spdlog::string_view_t(msg.data(), msg.size()));
    }

private:
    std::shared_ptr<::spdlog::logger> logger_;
};

} // namespace fcs::log

#endif // FCS_LOG_SPDLOG_HPP
