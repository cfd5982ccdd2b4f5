#ifndef FCS_ACME_SCHEDULE_HPP
#define FCS_ACME_SCHEDULE_HPP

// When a pair issued by an ACME CA is renewed (acme::renewer), also shown by `status`: a
// calculation on the certificate's dates and names, with no network and no crypto.

#include <fcs/names.hpp>
#include <fcs/types.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace fcs::acme {

using sys_clock = std::chrono::system_clock;

/// An identifier of an order: a DNS name or an IP address (RFC 8738).
struct identifier {
    enum class kind { dns, ip } type = kind::dns;
    std::string value;
    friend bool operator==(const identifier&, const identifier&) = default;
};

/**
 * True when `info`'s subjectAltName carries `id`: a DNS name compared without regard to case
 * (as DNS does; a CA may write it in lower case), an IP address by its octets (so "::1" and
 * "0:0::1" are one address).
 */
inline bool names_identifier(const cert_info& info, const identifier& id) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (auto& c : out)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        return out;
    };
    const auto want_ip = id.type == identifier::kind::ip ? ip_address_octets(id.value) : std::nullopt;
    for (auto& san : info.sans) {
        std::string_view s = san;
        if (id.type == identifier::kind::dns && s.starts_with("DNS:") &&
            lower(s.substr(4)) == lower(id.value))
            return true;
        if (want_ip && s.starts_with("IP:"))
            if (auto have = ip_address_octets(s.substr(3)); have && *have == *want_ip)
                return true;
    }
    return false;
}

/// The days before notAfter of the 30-day expiry warning.
inline constexpr std::chrono::days expiry_warning{30};

/**
 * When a pair with `info` is due for renewal: at once when it is not the CA's (self-signed, or
 * lacking one of `ids`); else `before` ahead of notAfter, by default the larger of a third of
 * its lifetime and the 30-day warning, but never more than half the lifetime (a pair just
 * issued is never due at once, however short-lived).
 */
inline sys_clock::time_point renewal_due(const cert_info& info, const std::vector<identifier>& ids,
                                         std::optional<std::chrono::seconds> before = {}) {
    bool covers = !info.self_signed;
    for (auto& id : ids)
        if (!names_identifier(info, id))
            covers = false;
    if (!covers)
        return sys_clock::time_point::min();
    const auto life = info.not_after - info.not_before;
    auto ahead = before ? std::chrono::duration_cast<sys_clock::duration>(*before)
                        : std::max<sys_clock::duration>(life / 3, expiry_warning);
    if (!before)
        ahead = std::min<sys_clock::duration>(ahead, life / 2);
    return info.not_after - ahead;
}

} // namespace fcs::acme

#endif // FCS_ACME_SCHEDULE_HPP
