#ifndef FCS_NAMES_HPP
#define FCS_NAMES_HPP

// The names a certificate may carry: host-name and IP-address syntax, checked before any name
// reaches a certificate (from an operator, a configuration or a certificate request), and a
// safe way to show an untrusted name in a message.

#include <fcs/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef _WIN32
#include <fcs/detail/win32.hpp> // NOMINMAX, WIN32_LEAN_AND_MEAN before any Windows header
#include <ws2tcpip.h>           // inet_pton (ws2_32)
#ifdef _MSC_VER
#pragma comment(lib, "ws2_32")
#endif
#else
#include <arpa/inet.h>
#endif

namespace fcs {

/// `s` for a message: printable ASCII as it is, every other byte (and `\` and `"`, so a quoted
/// value cannot end early) as \xHH, at most 300 bytes shown. A name from a request can hold
/// anything, a terminal escape included.
inline std::string printable_name(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < 300; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    if (s.size() > 300)
        out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

/**
 * Why `name` cannot be a dNSName of a certificate, or nullopt when it can. A host name is
 * labels of letters, digits and hyphens (not first or last in a label), 1 to 63 characters
 * each, 253 in all, separated by single dots, without a trailing dot; the last label is not
 * all digits (that is an IP address). The leftmost label may be "*" (a wildcard), and only
 * as a whole label. Internationalised names are given in their ASCII form (xn--...).
 */
inline std::optional<std::string> dns_name_problem(std::string_view name) {
    if (name.empty())
        return std::string("it is empty");
    if (name.size() > 253)
        return std::to_string(name.size()) + " characters is over the limit of 253";
    for (char ch : name) {
        auto c = static_cast<unsigned char>(ch);
        const bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*';
        if (!ldh)
            return "it holds " +
                   (c >= 0x21 && c < 0x7f
                        ? "'" + std::string(1, ch) + "'"
                        : "the byte " + printable_name(std::string_view(&ch, 1))) +
                   "; a host name holds only letters, digits, hyphens and dots (an "
                   "internationalised name in its xn-- form)";
    }
    if (name.back() == '.')
        return std::string("it ends with a dot; give the name without it");
    std::size_t start = 0;
    std::string_view last;
    for (int index = 0;; ++index) {
        auto dot = name.find('.', start);
        auto label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
        if (label.empty())
            return std::string("it has an empty label (a leading dot or two dots in a row)");
        if (label.find('*') != std::string_view::npos) {
            if (label != "*" || index != 0)
                return std::string("a wildcard is allowed only as the whole leftmost label, as "
                                   "in \"*.example.com\"");
            if (dot == std::string_view::npos)
                return std::string("a wildcard needs a domain after it, as in \"*.example.com\"");
        }
        if (label.size() > 63)
            return "the label \"" + std::string(label.substr(0, 20)) + "...\" has " +
                   std::to_string(label.size()) + " characters; at most 63";
        if (label.front() == '-' || label.back() == '-')
            return "the label \"" + std::string(label) + "\" " +
                   (label.front() == '-' ? "starts" : "ends") + " with a hyphen";
        last = label;
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::string("its last label is all digits; an IP address goes in as an IP "
                           "address, not a host name");
    return std::nullopt;
}

/// The octets (4 for IPv4, 16 for IPv6) of an address in its text form (dotted quad, or IPv6
/// as inet_pton reads it: no zone, no prefix length), or nullopt when it is not one.
inline std::optional<std::vector<std::uint8_t>> ip_address_octets(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN ||
        text.find('\0') != std::string_view::npos)
        return std::nullopt;
    const std::string z(text); // inet_pton reads up to a NUL
    std::uint8_t buf[16] = {};
    const bool v6 = z.find(':') != std::string::npos;
    if (::inet_pton(v6 ? AF_INET6 : AF_INET, z.c_str(), buf) != 1)
        return std::nullopt;
    return std::vector<std::uint8_t>(buf, buf + (v6 ? 16 : 4));
}

/// Throws errc::invalid_argument naming `where` and the name when `name` is not a valid host
/// name for a certificate (dns_name_problem says why).
inline void check_dns_name(std::string_view name, std::string_view where) {
    if (auto why = dns_name_problem(name))
        throw error(errc::invalid_argument, std::string(where), "check names",
                    "DNS name \"" + printable_name(name) + "\" is not a valid host name: " + *why);
}

/// Throws errc::invalid_argument naming `where` and the address when `ip` is not an IPv4 or
/// IPv6 address in text form.
inline void check_ip_address(std::string_view ip, std::string_view where) {
    if (!ip_address_octets(ip))
        throw error(errc::invalid_argument, std::string(where), "check names",
                    "IP address \"" + printable_name(ip) +
                        "\" is not an IPv4 (a.b.c.d) or IPv6 address (no zone, no prefix length)");
}

} // namespace fcs

#endif // FCS_NAMES_HPP
