#ifndef FCS_DETAIL_SOCKET_OPS_HPP
#define FCS_DETAIL_SOCKET_OPS_HPP

// The socket calls of tls/https_server.hpp that differ between POSIX and Windows (Winsock),
// in one place: the connection layer itself is written once. On POSIX these are the calls it
// made before (recv/send with MSG_NOSIGNAL and MSG_MORE, shutdown SHUT_WR, MSG_DONTWAIT,
// SO_REUSEPORT, the RLIMIT_NOFILE clamp); on Windows their Winsock forms, with what Windows
// lacks said here: no MSG_MORE (the answer, close_notify and FIN may leave as separate
// segments), no SO_REUSEPORT (one listener: the server runs one I/O thread), no descriptor
// limit to clamp to, and SO_EXCLUSIVEADDRUSE instead of SO_REUSEADDR (which on Windows would
// let another process bind the same port and take connections).

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <optional>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <cerrno>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#endif

namespace fcs::detail::socket_ops {

#ifdef _WIN32
using native = SOCKET;
/// Hold the data for a following send (none on Windows).
inline constexpr int more = 0;
/// Several listeners may share a port (SO_REUSEPORT): not on Windows.
inline constexpr bool shared_port = false;

inline bool retry_error() noexcept {
    const int e = ::WSAGetLastError();
    return e == WSAEWOULDBLOCK || e == WSAEINTR;
}
/// recv: bytes read, 0 at the end, -1 on an error (`retry`: would block or interrupted).
inline int recv_some(native s, char* out, int len, bool& retry) noexcept {
    const int n = ::recv(s, out, len, 0);
    retry = n < 0 && retry_error();
    return n;
}
/// send with `flags` (more or 0): bytes written or -1 (`retry` as for recv_some). Winsock
/// raises no SIGPIPE.
inline int send_some(native s, const char* in, int len, int flags, bool& retry) noexcept {
    const int n = ::send(s, in, len, flags);
    retry = n < 0 && retry_error();
    return n;
}
inline void shutdown_write(native s) noexcept {
    ::shutdown(s, SD_SEND);
}
/// Reads what waits, without waiting (the connection's socket is non-blocking already).
inline int recv_nowait(native s, char* out, int len) noexcept {
    return ::recv(s, out, len, 0);
}
/// Readies a listener before bind: exclusive use of the address.
inline void prepare_listener(boost::asio::ip::tcp::acceptor& a, boost::system::error_code& ec) {
    BOOL one = TRUE;
    if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                     reinterpret_cast<const char*>(&one), sizeof one) != 0)
        ec.assign(::WSAGetLastError(), boost::system::system_category());
}
/// The descriptor limit connections must fit in: none on Windows.
inline std::optional<std::size_t> descriptor_limit() noexcept {
    return std::nullopt;
}
#else
using native = int;
inline constexpr int more = MSG_MORE;
inline constexpr bool shared_port = true;

inline int recv_some(native s, char* out, int len, bool& retry) noexcept {
    auto n = ::recv(s, out, static_cast<std::size_t>(len), 0);
    retry = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    return static_cast<int>(n);
}
/// MSG_NOSIGNAL: a write to a peer that went away is EPIPE, never SIGPIPE for the process.
inline int send_some(native s, const char* in, int len, int flags, bool& retry) noexcept {
    auto n = ::send(s, in, static_cast<std::size_t>(len), MSG_NOSIGNAL | flags);
    retry = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    return static_cast<int>(n);
}
inline void shutdown_write(native s) noexcept {
    ::shutdown(s, SHUT_WR);
}
inline int recv_nowait(native s, char* out, int len) noexcept {
    return static_cast<int>(::recv(s, out, static_cast<std::size_t>(len), MSG_DONTWAIT));
}
/// SO_REUSEADDR (a restart binds at once) and SO_REUSEPORT (one listener per I/O thread).
inline void prepare_listener(boost::asio::ip::tcp::acceptor& a, boost::system::error_code& ec) {
    a.set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) {
        int one = 1;
        if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            ec.assign(errno, boost::system::system_category());
    }
}
/// RLIMIT_NOFILE's soft limit; nullopt when there is none.
inline std::optional<std::size_t> descriptor_limit() noexcept {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY)
        return std::nullopt;
    return static_cast<std::size_t>(nofile.rlim_cur);
}
#endif

} // namespace fcs::detail::socket_ops

#endif // FCS_DETAIL_SOCKET_OPS_HPP
