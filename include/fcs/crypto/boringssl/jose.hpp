#ifndef FCS_CRYPTO_BORINGSSL_JOSE_HPP
#define FCS_CRYPTO_BORINGSSL_JOSE_HPP

// What an ACME client (fcs/acme/) needs of the crypto backend: SHA-256, ES256 signatures in
// JWS's raw r||s form (RFC 7518 3.4) and the P-256 public point for the JWK, a PKCS#10 request
// for a key and its names, and the tls-alpn-01 certificate (RFC 8737: self-signed, with the
// critical acmeIdentifier extension). Built from BoringSSL structures, never from strings.

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/handles.hpp>
#include <fcs/types.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace fcs::crypto {

using sha256_value = std::array<std::uint8_t, 32>;
/// One coordinate of a P-256 point, or r or s of a P-256 signature: 32 big-endian bytes.
using p256_scalar = std::array<std::uint8_t, 32>;

/// SHA-256 of `in`.
FCS_DECL sha256_value sha256(std::span<const std::uint8_t> in);

/// True when `key` is an ECDSA key on P-256.
FCS_DECL bool is_ec_p256(const boringssl_detail::private_key& key);

/**
 * The public point (x, y) of a P-256 key.
 * @throws fcs::error(crypto_failed) for a key that is not P-256.
 */
FCS_DECL std::pair<p256_scalar, p256_scalar>
ec_p256_public_point(const boringssl_detail::private_key& key);

/**
 * ES256 (RFC 7518 3.4): SHA-256 of `input`, ECDSA with the P-256 `key`, r and s as 32 bytes
 * each.
 * @throws fcs::error(crypto_failed) when BoringSSL cannot sign.
 */
FCS_DECL std::array<std::uint8_t, 64> es256_sign(const boringssl_detail::private_key& key,
                                                 std::span<const std::uint8_t> input);

/// True when `signature` (r||s) is `key`'s ES256 signature of `input`.
FCS_DECL bool es256_verify(const boringssl_detail::public_key& key,
                           std::span<const std::uint8_t> input,
                           std::span<const std::uint8_t> signature);

/**
 * A PKCS#10 request (DER) for `key`, signed with it (SHA-256), asking for the DNS names and IP
 * addresses of `p` as subjectAltName and the first DNS name (if any) as common name.
 * @throws fcs::error (invalid_argument: a bad name, or none; crypto_failed).
 */
FCS_DECL std::vector<std::uint8_t> make_certificate_request(const boringssl_detail::private_key& key,
                                                            const certificate_profile& p);

/**
 * The tls-alpn-01 certificate (RFC 8737 3): self-signed by `key`, for the one name of `p`,
 * with the acmeIdentifier extension (1.3.6.1.5.5.7.1.31), critical, holding the DER OCTET
 * STRING of `key_authorization_digest`.
 * @throws fcs::error (invalid_argument, crypto_failed).
 */
FCS_DECL boringssl_detail::certificate
acme_challenge_certificate(const boringssl_detail::private_key& key, const certificate_profile& p,
                           time_point not_before, time_point not_after,
                           const sha256_value& key_authorization_digest);

} // namespace fcs::crypto

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/jose.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_JOSE_HPP
