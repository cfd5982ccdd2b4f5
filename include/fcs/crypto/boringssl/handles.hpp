#ifndef FCS_CRYPTO_BORINGSSL_HANDLES_HPP
#define FCS_CRYPTO_BORINGSSL_HANDLES_HPP

// The BoringSSL backend's handles and error helpers (fcs::crypto::boringssl names them).

#include <fcs/config.hpp>
#include <fcs/error.hpp>
#include <fcs/types.hpp>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::crypto {

/// `cause` plus " (BoringSSL's reason)" for the first error queued, and the queue cleared.
FCS_DECL std::string with_ssl_error(std::string cause);

} // namespace fcs::crypto

namespace fcs::crypto::boringssl_detail {

[[noreturn]] FCS_DECL void fail(std::string_view where, std::string step, std::string cause);

[[noreturn]] FCS_DECL void fail_parse(std::string_view where, std::string step, std::string cause);

FCS_DECL void check_size(std::span<const std::uint8_t> in, std::string_view where);

FCS_DECL bssl::UniquePtr<X509> der_to_x509(std::span<const std::uint8_t> der);

FCS_DECL time_point to_time_point(const ASN1_TIME* t);

/// A shared, immutable BoringSSL object: copies take a reference (bssl::UpRef), the last one
/// frees it. `Tag` keeps handles of one C type apart (a private key is not a public key).
template <class T, class Tag>
class shared_handle {
public:
    shared_handle() = default;
    explicit shared_handle(bssl::UniquePtr<T> p) noexcept
        : p_(std::move(p)) {}
    shared_handle(const shared_handle& o)
        : p_(o.p_ ? bssl::UpRef(o.p_) : nullptr) {}
    shared_handle& operator=(const shared_handle& o) {
        if (this != &o)
            p_ = o.p_ ? bssl::UpRef(o.p_) : nullptr;
        return *this;
    }
    shared_handle(shared_handle&&) noexcept = default;
    shared_handle& operator=(shared_handle&&) noexcept = default;
    T* get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    bssl::UniquePtr<T> p_;
};

/// A parsed X.509 certificate (shared, immutable).
using certificate = shared_handle<X509, struct certificate_tag>;
/// A private key (shared, immutable). Never printable.
using private_key = shared_handle<EVP_PKEY, struct private_key_tag>;
/// The public half of a key (shared, immutable): what a certificate is issued for.
using public_key = shared_handle<EVP_PKEY, struct public_key_tag>;

/// A key and its certificate chain read from one input (PKCS#12 or a combined PEM).
struct bundle {
    private_key key;
    std::vector<certificate> chain;
};

} // namespace fcs::crypto::boringssl_detail

#if !defined(FCS_SEPARATE_COMPILATION) || defined(FCS_SOURCE)
#include <fcs/crypto/boringssl/impl/handles.ipp>
#endif

#endif // FCS_CRYPTO_BORINGSSL_HANDLES_HPP
