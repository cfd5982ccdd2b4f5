#ifndef FCS_CRYPTO_BORINGSSL_PKCS8_HPP
#define FCS_CRYPTO_BORINGSSL_PKCS8_HPP

// Private key parsing (PKCS#8 plain and encrypted, PKCS#1, SEC1, legacy PEM encryption) and the
// compatibility layer that names a cipher BoringSSL cannot decrypt or mends GnuTLS's PBES2 PRF.

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/inspect.hpp>

#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/pkcs8.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace fcs::crypto::boringssl_detail {

/// The PKCS#8-library reasons on the error queue, first (the cause) first; clears it.
FCS_DECL std::vector<int> drain_pkcs8_reasons();

/// An AlgorithmIdentifier found in a structure: OID (dotted) and whether it has parameters.
struct algorithm_use {
    std::string oid;
    bool has_parameters = false;
};

/// Every SEQUENCE that starts with an OID, walking constructed elements and OCTET STRINGs
/// that hold DER (PKCS#12 nests its contents that way). Bounded depth and count.
FCS_DECL void collect_algorithms(CBS in, int depth, std::vector<algorithm_use>& out);

/**
 * Why BoringSSL cannot decrypt `der` (a PKCS#12 bundle or an encrypted PKCS#8 key), named
 * exactly, or nullopt when the encryption it uses is one BoringSSL supports.
 */
FCS_DECL std::optional<std::string> unsupported_encryption(std::span<const std::uint8_t> der,
                                                           const std::vector<int>& reasons);

FCS_DECL bool rewrite_prf(CBS in, CBB* out, int depth);

/// `der` with a NULL parameter added to every parameterless hmacWithSHA* AlgorithmIdentifier
/// (1.2.840.113549.2.7 .. .11); nullopt when it is not DER.
FCS_DECL std::optional<secret_bytes> add_null_prf_parameters(std::span<const std::uint8_t> der);

FCS_DECL private_key decrypt_pkcs8(std::span<const std::uint8_t> der, const secret_bytes* password,
                                   std::string_view where);

/// DER: PKCS#8 PrivateKeyInfo, EncryptedPrivateKeyInfo, PKCS#1 RSAPrivateKey, SEC1.
FCS_DECL private_key parse_der_key(std::span<const std::uint8_t> der, const secret_bytes* password,
                                   std::string_view where);

FCS_DECL private_key parse_pem_key(const detail::pem_block& b, const secret_bytes* password,
                                   std::string_view where);

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/pkcs8.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_PKCS8_HPP
