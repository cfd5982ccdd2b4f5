#ifndef FCS_CRYPTO_BORINGSSL_INSPECT_HPP
#define FCS_CRYPTO_BORINGSSL_INSPECT_HPP

// Reading what a certificate or key says: names, dates, SANs, fingerprints, key kinds; encoding.

#include <fcs/config.hpp>
#include <fcs/crypto/boringssl/handles.hpp>
#include <fcs/crypto/boringssl/pem.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/names.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/x509v3.h>

#include <string>

namespace fcs::crypto::boringssl_detail {

FCS_DECL std::string name_text(const X509_NAME* n);

/// A GeneralName other than dNSName and iPAddress, for display: "URI:...", "email:...",
/// "DirName:...", or its type.
/// `quoted` puts the value in quotes, so a value holding ", DNS:..." reads as one value.
FCS_DECL std::string other_name_text(const GENERAL_NAME* gn, bool quoted = false);

FCS_DECL std::string key_description(EVP_PKEY* k);

/// "EC P-256", "RSA 2048", "Ed25519".
FCS_DECL std::string key_description(const private_key& k);

FCS_DECL void check_usable(EVP_PKEY* k, std::string_view where);

FCS_DECL void check_usable(const private_key& k, std::string_view where);

FCS_DECL bool matches(const certificate& cert, const private_key& key);

/// SHA-256 over the DER certificate, "AB:CD:...".
FCS_DECL std::string fingerprint(const certificate& cert);

FCS_DECL cert_info describe(const certificate& cert);

/// The public half of a key, as a new EVP_PKEY.
FCS_DECL public_key public_of(const private_key& key);

FCS_DECL bytes encode(const certificate& cert, encoding e);

/// PKCS#8, unencrypted (the file's protection is its mode and folder).
FCS_DECL secret_bytes encode(const private_key& key, encoding e);

/// True when both keys are the same private key (their PKCS#8 encodings are equal,
/// compared in constant time).
FCS_DECL bool same_key(const private_key& a, const private_key& b);

FCS_DECL std::string key_description(const public_key& k);

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/inspect.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_INSPECT_HPP
