#ifndef FCS_CRYPTO_BORINGSSL_CSR_HPP
#define FCS_CRYPTO_BORINGSSL_CSR_HPP

// PKCS#10 certificate requests: read, signature checked, names taken apart (never trusted).

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/inspect.hpp>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

namespace fcs::crypto::boringssl_detail {

/// The most subjectAltName entries read from a certificate request.
inline constexpr std::size_t max_request_names = 100;

/// A PKCS#10 certificate request whose self-signature has been checked.
struct certificate_request {
    boringssl_detail::public_key public_key;
    std::string subject;                   ///< RFC 2253
    std::string common_name;               ///< "" when the subject has none
    std::vector<std::string> dns_names;    ///< from a requested subjectAltName
    std::vector<std::string> ip_addresses; ///< from a requested subjectAltName
    /// Other names the request asks for (URI, email, ... or an iPAddress that is not 4 or
    /// 16 bytes), for display (values quoted, printable_name); never signed.
    std::vector<std::string> other_names;
};

/**
 * A certificate request (PEM "CERTIFICATE REQUEST" or DER). Refused unless its signature
 * verifies with its own public key and that key is usable by a TLS server.
 * @throws fcs::error naming `where`: errc::parse_failed, errc::unsupported_key.
 */
FCS_DECL certificate_request parse_csr(std::span<const std::uint8_t> in, std::string_view where);

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/csr.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_CSR_HPP
