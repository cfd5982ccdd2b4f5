#ifndef FCS_CRYPTO_BORINGSSL_BUILD_HPP
#define FCS_CRYPTO_BORINGSSL_BUILD_HPP

// Making keys and certificates: key generation, X.509 fields and extensions built from
// BoringSSL structures (never from configuration strings), signing.

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/inspect.hpp>
#include <fcs/names.hpp>

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace fcs::crypto::boringssl_detail {

FCS_DECL private_key generate_key(key_type type);

/// Adds one extension built from its structure (never from a configuration string, so no
/// byte of a name can turn into syntax).
FCS_DECL void add_ext(X509* x, int nid, void* value, bool critical);

/// SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 4.2.1.2, method 1).
FCS_DECL bssl::UniquePtr<ASN1_OCTET_STRING> key_id_of(X509* x);

/// The subjectAltName GeneralNames for `p`: each DNS name (checked, IA5String) and each IP
/// address (checked, its octets), in order, duplicates once; null when there are none.
FCS_DECL bssl::UniquePtr<GENERAL_NAMES> alt_names_of(const certificate_profile& p);

FCS_DECL certificate sign(const certificate* issuer, const private_key& signer,
                          EVP_PKEY* subject_key, const certificate_profile& p,
                          time_point not_before, time_point not_after);

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/build.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_BUILD_HPP
