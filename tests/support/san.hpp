#ifndef FCS_TESTS_SUPPORT_SAN_HPP
#define FCS_TESTS_SUPPORT_SAN_HPP

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

namespace fcs::test {

/// Every GeneralName of the certificate's subjectAltName, read with BoringSSL directly (not
/// through describe(), which shows only some types): "DNS:x", "IP:" + octets in hex,
/// "URI:x", "email:x", or "type N".
inline std::vector<std::string> san_entries(X509* x) {
    std::vector<std::string> out;
    bssl::UniquePtr<GENERAL_NAMES> names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    for (std::size_t i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        auto text = [](const ASN1_STRING* s) {
            return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        };
        if (gn->type == GEN_DNS) {
            out.push_back("DNS:" + text(gn->d.dNSName));
        } else if (gn->type == GEN_IPADD) {
            std::string hex;
            for (char ch : text(gn->d.iPAddress)) {
                static constexpr char digits[] = "0123456789abcdef";
                hex += digits[static_cast<unsigned char>(ch) >> 4];
                hex += digits[static_cast<unsigned char>(ch) & 15];
            }
            out.push_back("IP:" + hex);
        } else if (gn->type == GEN_URI) {
            out.push_back("URI:" + text(gn->d.uniformResourceIdentifier));
        } else if (gn->type == GEN_EMAIL) {
            out.push_back("email:" + text(gn->d.rfc822Name));
        } else {
            out.push_back("type " + std::to_string(gn->type));
        }
    }
    ERR_clear_error();
    return out;
}

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_SAN_HPP
