#ifndef FCS_TESTS_SUPPORT_UNIX_RECEIVER_HPP
#define FCS_TESTS_SUPPORT_UNIX_RECEIVER_HPP

// A stand-in for syslogd / journald: a unix datagram socket the test binds at the fixed path
// the C library (/dev/log) or libsystemd (/run/systemd/journal/socket) sends to, so the tests
// read exactly what a real daemon would receive. Made only where no such socket exists (a
// container without a syslog daemon or systemd); removed again afterwards.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace fcs::test {

inline bool ci_run() {
    const char* ci = std::getenv("CI");
    return ci && std::string_view(ci) == "true";
}

/// Why a socket cannot be bound at `path` by this test ("" when it can be tried): the path
/// exists (a real daemon's socket, not ours to read) or its folder cannot be made by us.
inline std::string why_not_bindable(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
        return path.string() + " exists (a running syslog daemon or journald owns it)";
    auto dir = path.parent_path();
    while (!dir.empty() && !std::filesystem::exists(dir, ec))
        dir = dir.parent_path();
    if (::access(dir.c_str(), W_OK) != 0)
        return "cannot create " + path.string() + " (" + dir.string() +
               " is not writable; run as root)";
    return {};
}

/**
 * Precondition of the suites that bind a daemon's socket: where that is not possible the suite
 * says "SKIPPED: why" (ctest's SKIP_REGULAR_EXPRESSION reports it skipped, never passed). Under
 * CI=true it runs anyway, and the receiver's constructor fails the test.
 */
struct socket_path_free {
    std::filesystem::path path;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        auto why = why_not_bindable(path);
        if (why.empty() || ci_run())
            return true;
        std::cout << "SKIPPED: " << why << std::endl;
        boost::test_tools::assertion_result r(false);
        r.message() << why;
        return r;
    }
};

/// A unix datagram socket bound at `path`, with the folders it needed; all removed on
/// destruction (the socket only if it is still the one bound here).
class unix_datagram_receiver {
public:
    explicit unix_datagram_receiver(std::filesystem::path path)
        : path_(std::move(path)) {
        if (auto why = why_not_bindable(path_); !why.empty())
            throw std::runtime_error(why +
                                     (ci_run() ? " (CI=true: fails instead of skipping)" : ""));
        for (auto d = path_.parent_path(); !d.empty() && !std::filesystem::exists(d);
             d = d.parent_path())
            made_.insert(made_.begin(), d);
        for (auto& d : made_)
            if (::mkdir(d.c_str(), 0755) != 0)
                throw std::runtime_error("mkdir " + d.string() + ": " + std::strerror(errno));
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (fd_ < 0 || path_.native().size() >= sizeof a.sun_path)
            throw std::runtime_error("socket for " + path_.string());
        std::memcpy(a.sun_path, path_.c_str(), path_.native().size() + 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            throw std::runtime_error("bind " + path_.string() + ": " + std::strerror(errno));
        ::chmod(path_.c_str(), 0666); // like the daemons' sockets: any user may send
        struct stat st {};
        ::stat(path_.c_str(), &st);
        ino_ = st.st_ino;
    }
    ~unix_datagram_receiver() {
        struct stat st {};
        if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == ino_)
            ::unlink(path_.c_str());
        if (fd_ >= 0)
            ::close(fd_);
        for (auto it = made_.rbegin(); it != made_.rend(); ++it)
            ::rmdir(it->c_str());
    }
    unix_datagram_receiver(const unix_datagram_receiver&) = delete;
    unix_datagram_receiver& operator=(const unix_datagram_receiver&) = delete;

    /// The next datagram (at most 64 KiB), or nullopt when none arrives within `timeout`.
    std::optional<std::string>
    receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
            return std::nullopt;
        std::string buf(65536, '\0');
        auto n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n < 0)
            return std::nullopt;
        buf.resize(static_cast<std::size_t>(n));
        return buf;
    }

private:
    std::filesystem::path path_;
    std::vector<std::filesystem::path> made_;
    int fd_ = -1;
    ino_t ino_ = 0;
};

/**
 * The fields of one journal native-protocol datagram (systemd's "Native Journal Protocol"):
 * `KEY=VALUE\n`, or `KEY\n` + 64-bit little-endian length + VALUE + `\n` for a value that may
 * hold line breaks or any byte. Throws on a malformed datagram.
 */
inline std::multimap<std::string, std::string> parse_journal_datagram(std::string_view d) {
    std::multimap<std::string, std::string> out;
    while (!d.empty()) {
        auto nl = d.find('\n');
        if (nl == std::string_view::npos)
            throw std::runtime_error("journal datagram: a field without its line end");
        auto line = d.substr(0, nl);
        if (auto eq = line.find('='); eq != std::string_view::npos) {
            out.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
            d.remove_prefix(nl + 1);
            continue;
        }
        d.remove_prefix(nl + 1);
        if (d.size() < 8)
            throw std::runtime_error("journal datagram: a binary field without its length");
        std::uint64_t len = 0;
        for (int i = 7; i >= 0; --i)
            len = (len << 8) | static_cast<unsigned char>(d[static_cast<std::size_t>(i)]);
        d.remove_prefix(8);
        if (d.size() < len + 1 || d[len] != '\n')
            throw std::runtime_error("journal datagram: a binary field of a wrong length");
        out.emplace(std::string(line), std::string(d.substr(0, len)));
        d.remove_prefix(len + 1);
    }
    return out;
}

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_UNIX_RECEIVER_HPP
