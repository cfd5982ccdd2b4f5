#ifndef FCS_DETAIL_TIME_HPP
#define FCS_DETAIL_TIME_HPP

#include <fcs/types.hpp>

#include <chrono>
#include <ctime>
#include <string>

namespace fcs::detail {

/// `t` in UTC with a strftime format; the one place fcs turns a time into text.
inline std::string format_utc(time_point t, const char* format) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
#ifdef _WIN32
    ::gmtime_s(&tm, &tt); // the CRT's, arguments the other way round
#else
    ::gmtime_r(&tt, &tm);
#endif
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

/// "2026-11-23T10:15:00Z" (messages, JSON, the log)
inline std::string iso8601(time_point t) {
    return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

/// "20261123T101500Z" (archive and backup names)
inline std::string utc_tag(time_point t) {
    return format_utc(t, "%Y%m%dT%H%M%SZ");
}

} // namespace fcs::detail

#endif // FCS_DETAIL_TIME_HPP
