#ifndef FCS_CRYPTO_BORINGSSL_PARSE_HPP
#define FCS_CRYPTO_BORINGSSL_PARSE_HPP

// Parsing by content: certificates (PEM or DER), private keys, PKCS#12 bundles.

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/pkcs8.hpp>

#include <openssl/bytestring.h>
#include <openssl/pkcs8.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace fcs::crypto::boringssl_detail {

/// True when `in` looks like DER PKCS#12 (SEQUENCE { INTEGER 3, SEQUENCE { OID data ... } }).
FCS_DECL bool looks_like_pkcs12(std::span<const std::uint8_t> in);

/// True when `in` starts like DER PKCS#12 (version 3) even if it is cut short: used to say
/// "truncated PKCS#12" instead of "garbage".
FCS_DECL bool starts_like_pkcs12(std::span<const std::uint8_t> in);

/// Every certificate in `in` (PEM blocks, or one DER certificate). Throws when none.
FCS_DECL std::vector<certificate> parse_certificates(std::span<const std::uint8_t> in,
                                                     std::string_view where);

/// The private key in `in`: PKCS#8 (plain or encrypted), PKCS#1, SEC1, legacy encrypted
/// PEM; PEM or DER. `password` may be null. Checks that a TLS server can use the key.
FCS_DECL private_key parse_private_key(std::span<const std::uint8_t> in,
                                       const secret_bytes* password, std::string_view where);

/// A PKCS#12 bundle. No password: the empty one is tried, then errc::key_encrypted.
FCS_DECL bundle parse_pkcs12(std::span<const std::uint8_t> in, const secret_bytes* password,
                             std::string_view where);

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/parse.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_PARSE_HPP
