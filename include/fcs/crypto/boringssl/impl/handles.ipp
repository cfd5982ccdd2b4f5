#ifndef FCS_CRYPTO_BORINGSSL_IMPL_HANDLES_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_HANDLES_IPP

// The bodies of fcs/crypto/boringssl/handles.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/handles.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace fcs::crypto {

FCS_DECL std::string with_ssl_error(std::string cause) {
    if (std::uint32_t e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        cause += " (";
        cause += buf;
        cause += ")";
    }
    ERR_clear_error();
    return cause;
}

} // namespace fcs::crypto

namespace fcs::crypto::boringssl_detail {

[[noreturn]] FCS_DECL void fail(std::string_view where, std::string step, std::string cause) {
    throw error(errc::crypto_failed, std::string(where), std::move(step),
                with_ssl_error(std::move(cause)));
}

[[noreturn]] FCS_DECL void fail_parse(std::string_view where, std::string step, std::string cause) {
    ERR_clear_error();
    throw error(errc::parse_failed, std::string(where), std::move(step), std::move(cause));
}

FCS_DECL void check_size(std::span<const std::uint8_t> in, std::string_view where) {
    if (in.size() > max_input_size)
        throw error(errc::too_large, std::string(where), "read",
                    "larger than 1 MiB; not a certificate or key");
}

FCS_DECL bssl::UniquePtr<X509> der_to_x509(std::span<const std::uint8_t> der) {
    const std::uint8_t* p = der.data();
    bssl::UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (x && p != der.data() + der.size())
        x.reset(); // trailing garbage
    ERR_clear_error();
    return x;
}

/// A certificate's time as a time_point. X.509 reaches the year 9999 (RFC 5280's "no
/// well-defined expiration" is 99991231235959Z) and back to year 0, a time_point of
/// system_clock (64-bit nanoseconds) only 1677 to 2262. Times are clamped to [1970, 1970 +
/// 2^62 ns] (2116-02-20): every difference of two of them, and up to a century added to one,
/// stay representable (lifetimes, days_remaining, warning windows), so a planted certificate
/// cannot make that arithmetic overflow. A certificate valid until 9999 is then "valid until
/// 2116", one from before 1970 "valid since 1970": the same for a service.
FCS_DECL time_point to_time_point(const ASN1_TIME* t) {
    bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
    int days = 0, secs = 0;
    if (!t || !epoch || !ASN1_TIME_diff(&days, &secs, epoch.get(), t)) {
        ERR_clear_error();
        return time_point{};
    }
    constexpr std::int64_t limit =
        (std::int64_t{1} << 62) /
        std::chrono::duration_cast<time_point::duration>(std::chrono::seconds(1)).count();
    const std::int64_t s = std::clamp(std::int64_t(days) * 86400 + secs, std::int64_t{0}, limit);
    return time_point{} + std::chrono::duration_cast<time_point::duration>(std::chrono::seconds(s));
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_HANDLES_IPP
