#ifndef FCS_TLS_WINDOWS_ROOTS_HPP
#define FCS_TLS_WINDOWS_ROOTS_HPP

// The Windows trust store (the ROOT system store: the machine's and the user's trusted root
// CAs) as DER certificates, for a client that validates with BoringSSL (fcs/tls/client.hpp).
// <wincrypt.h> defines macros named like OpenSSL types (X509_NAME, X509_EXTENSIONS, ...): they
// are undone right after it, so this header may come before or after <openssl/x509.h>.
#ifndef _WIN32
#error "fcs/tls/windows_roots.hpp is for Windows builds only"
#endif

#include <fcs/detail/win32.hpp>

#include <wincrypt.h>
#undef X509_NAME
#undef X509_EXTENSIONS
#undef X509_CERT_PAIR
#undef PKCS7_ISSUER_AND_SERIAL
#undef PKCS7_SIGNER_INFO
#undef OCSP_REQUEST
#undef OCSP_RESPONSE

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#ifdef _MSC_VER
#pragma comment(lib, "crypt32")
#endif

namespace fcs::tls {

/// What the store may hold at most: certificates (Windows ships a few hundred roots) and bytes
/// per certificate. A store over either bound is refused, not cut.
inline constexpr std::size_t max_trust_store_certificates = 10000;
inline constexpr std::size_t max_trust_store_certificate_size = 64 * 1024;

/// The DER certificates of the ROOT system store. `step` names the caller's step in errors.
/// @throws fcs::error(errc::io_failed) when the store cannot be opened,
///         fcs::error(errc::too_large) when it exceeds the bounds above.
inline std::vector<std::vector<std::uint8_t>> windows_root_certificates(const std::string& step) {
    const std::string shown = "the Windows trust store (ROOT)";
    HCERTSTORE store = ::CertOpenSystemStoreW(0, L"ROOT");
    if (!store)
        detail::throw_win32(shown, step, ::GetLastError());
    struct closer {
        HCERTSTORE s;
        ~closer() { ::CertCloseStore(s, 0); }
    } close_store{store};
    std::vector<std::vector<std::uint8_t>> out;
    const CERT_CONTEXT* c = nullptr;
    while ((c = ::CertEnumCertificatesInStore(store, c)) != nullptr) {
        if ((c->dwCertEncodingType & X509_ASN_ENCODING) == 0 || c->pbCertEncoded == nullptr)
            continue;
        const bool too_big = c->cbCertEncoded > max_trust_store_certificate_size;
        if (too_big || out.size() == max_trust_store_certificates) {
            ::CertFreeCertificateContext(c); // ends the enumeration early
            throw error(errc::too_large, shown, step,
                        too_big
                            ? "holds a certificate over " +
                                  std::to_string(max_trust_store_certificate_size) + " bytes"
                            : "holds more than " + std::to_string(max_trust_store_certificates) +
                                  " certificates");
        }
        out.emplace_back(c->pbCertEncoded, c->pbCertEncoded + c->cbCertEncoded);
    }
    return out;
}

} // namespace fcs::tls

#endif // FCS_TLS_WINDOWS_ROOTS_HPP
