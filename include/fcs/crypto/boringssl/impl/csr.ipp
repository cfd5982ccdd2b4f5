#ifndef FCS_CRYPTO_BORINGSSL_IMPL_CSR_IPP
#define FCS_CRYPTO_BORINGSSL_IMPL_CSR_IPP

// The bodies of fcs/crypto/boringssl/csr.hpp: included by that header (header-only use), or
// compiled once by the translation unit that includes <fcs/src.hpp> (FCS_SEPARATE_COMPILATION).

#include <fcs/crypto/boringssl/csr.hpp>

namespace fcs::crypto::boringssl_detail {

FCS_DECL certificate_request parse_csr(std::span<const std::uint8_t> in, std::string_view where) {
    check_size(in, where);
    secret_bytes der;
    if (detail::looks_like_pem(in)) {
        auto blocks = detail::pem_blocks(in);
        if (!blocks)
            fail_parse(where, "load request", "malformed or truncated PEM");
        for (auto& b : *blocks)
            if (b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST") {
                der = b.der;
                break;
            }
        if (der.empty())
            fail_parse(where, "load request", "no CERTIFICATE REQUEST block found");
    } else {
        der.assign(in.begin(), in.end());
    }
    if (der.empty())
        fail_parse(where, "load request", "the file is empty");
    const std::uint8_t* p = der.data();
    bssl::UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    if (!req || p != der.data() + der.size())
        fail_parse(where, "load request",
                   "not a PKCS#10 certificate request (truncated or garbage?)");
    certificate_request out;
    out.public_key = public_key(bssl::UniquePtr<EVP_PKEY>(X509_REQ_get_pubkey(req.get())));
    if (!out.public_key) {
        ERR_clear_error();
        throw error(errc::unsupported_key, std::string(where), "load request",
                    "the request's public key algorithm is not supported");
    }
    if (X509_REQ_verify(req.get(), out.public_key.get()) != 1)
        fail_parse(where, "load request",
                   "the request's signature does not verify (altered or corrupt request)");
    ERR_clear_error();
    check_usable(out.public_key.get(), where);
    X509_NAME* name = X509_REQ_get_subject_name(req.get());
    out.subject = name_text(name);
    if (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0) {
        std::uint8_t* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n >= 0) {
            out.common_name.assign(reinterpret_cast<const char*>(utf8),
                                   static_cast<std::size_t>(n));
            OPENSSL_free(utf8);
        }
    }
    bssl::UniquePtr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
    for (std::size_t i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
        X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
            continue;
        bssl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
        if (!names)
            fail_parse(where, "load request",
                       "the request's subjectAltName extension is not valid DER");
        if (sk_GENERAL_NAME_num(names.get()) > max_request_names)
            throw error(errc::too_large, std::string(where), "load request",
                        "the request asks for " + std::to_string(sk_GENERAL_NAME_num(names.get())) +
                            " names; at most " + std::to_string(max_request_names) + " are read");
        for (std::size_t j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), j);
            if (gn->type == GEN_DNS) {
                const ASN1_STRING* s = gn->d.dNSName;
                out.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                           static_cast<std::size_t>(ASN1_STRING_length(s)));
            } else if (gn->type == GEN_IPADD) {
                const ASN1_STRING* s = gn->d.iPAddress;
                char buf[INET6_ADDRSTRLEN] = {};
                int len = ASN1_STRING_length(s);
                if ((len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                                         ASN1_STRING_get0_data(s), buf, sizeof buf))
                    out.ip_addresses.emplace_back(buf);
                else
                    out.other_names.push_back("IP:(" + std::to_string(len) + " bytes)");
            } else {
                out.other_names.push_back(other_name_text(gn, true));
            }
        }
    }
    ERR_clear_error();
    return out;
}

} // namespace fcs::crypto::boringssl_detail

#endif // FCS_CRYPTO_BORINGSSL_IMPL_CSR_IPP
