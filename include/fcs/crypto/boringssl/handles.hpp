#ifndef FCS_CRYPTO_BORINGSSL_HANDLES_HPP
#define FCS_CRYPTO_BORINGSSL_HANDLES_HPP

// The BoringSSL backend's handles and error helpers (fcs::crypto::boringssl names them).

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
inline std::string with_ssl_error(std::string cause) {
    if (std::uint32_t e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        cause += " (";
        cause += buf;
        cause += ")";
    }
    ERR_clear_error();
    return cause;
}

} // namespace fcs::crypto

namespace fcs::crypto::boringssl_detail {

[[noreturn]] inline void fail(std::string_view where, std::string step, std::string cause) {
    throw error(errc::crypto_failed, std::string(where), std::move(step),
                with_ssl_error(std::move(cause)));
}

[[noreturn]] inline void fail_parse(std::string_view where, std::string step, std::string cause) {
    ERR_clear_error();
    throw error(errc::parse_failed, std::string(where), std::move(step), std::move(cause));
}

inline void check_size(std::span<const std::uint8_t> in, std::string_view where) {
    if (in.size() > max_input_size)
        throw error(errc::too_large, std::string(where), "read",
                    "larger than 1 MiB; not a certificate or key");
}

inline bssl::UniquePtr<X509> der_to_x509(std::span<const std::uint8_t> der) {
    const std::uint8_t* p = der.data();
    bssl::UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (x && p != der.data() + der.size())
        x.reset(); // trailing garbage
    ERR_clear_error();
    return x;
}

inline time_point to_time_point(const ASN1_TIME* t) {
    bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
    int days = 0, secs = 0;
    if (!t || !epoch || !ASN1_TIME_diff(&days, &secs, epoch.get(), t)) {
        ERR_clear_error();
        return time_point{};
    }
    return time_point{} + std::chrono::seconds(std::int64_t(days) * 86400 + secs);
}

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

#endif // FCS_CRYPTO_BORINGSSL_HANDLES_HPP
