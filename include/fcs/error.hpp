#ifndef FCS_ERROR_HPP
#define FCS_ERROR_HPP

#include <string>
#include <string_view>
#include <system_error>

namespace fcs {

/// Error codes of fcs. Messages are plain words; the thrown fcs::error adds file, step, cause.
enum class errc {
    io_failed = 1,       ///< a read, write, rename, fsync or folder operation failed
    not_found,           ///< a file or item that must exist does not
    too_large,           ///< an input exceeds its size bound
    parse_failed,        ///< the bytes are not a certificate or key in any supported format
    key_encrypted,       ///< the key is password-protected and no password was given
    wrong_password,      ///< the password does not decrypt the key or bundle
    unsupported_cipher,  ///< the bundle is encrypted with a cipher the backend cannot decrypt
    unsupported_key,     ///< the key type or size cannot be used by a TLS server
    key_mismatch,        ///< the private key does not belong to the certificate
    certificate_expired, ///< the certificate's notAfter is in the past (refused on import)
    not_yet_valid,       ///< the certificate's notBefore is in the future (refused on import)
    not_a_ca,            ///< a CA operation was asked of a certificate that is not a CA
    unsafe_file,         ///< symlink, hard link, wrong owner or too-open mode
    crypto_failed,       ///< the crypto backend failed (key generation, signing, ...)
    conflict,            ///< a concurrent change won (compare-and-swap lost)
    unavailable,         ///< a remote store cannot be reached
    invalid_argument,    ///< a caller-supplied option is invalid
};

namespace detail {
class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "fcs"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::io_failed:
            return "input/output failed";
        case errc::not_found:
            return "not found";
        case errc::too_large:
            return "input too large";
        case errc::parse_failed:
            return "not a certificate or key in a supported format";
        case errc::key_encrypted:
            return "key is password-protected";
        case errc::wrong_password:
            return "wrong password";
        case errc::unsupported_cipher:
            return "encryption cipher not supported";
        case errc::unsupported_key:
            return "key type not usable for a TLS server";
        case errc::key_mismatch:
            return "key does not match the certificate";
        case errc::certificate_expired:
            return "certificate has expired";
        case errc::not_yet_valid:
            return "certificate is not yet valid";
        case errc::not_a_ca:
            return "certificate is not a CA";
        case errc::unsafe_file:
            return "unsafe file";
        case errc::crypto_failed:
            return "cryptographic operation failed";
        case errc::conflict:
            return "concurrent change";
        case errc::unavailable:
            return "store unavailable";
        case errc::invalid_argument:
            return "invalid argument";
        }
        return "unknown fcs error";
    }
};
} // namespace detail

inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/**
 * The exception every fcs failure throws: a std::system_error whose what() reads
 * "FILE: STEP: CAUSE", e.g. "Certificates/Keys/MyCertificate.key: load key: key is
 * password-protected; the failover service needs an unprotected key".
 */
class error : public std::system_error {
public:
    error(errc code, std::string file, std::string step, std::string cause)
        : std::system_error(make_error_code(code))
        , what_(compose(file, step, cause))
        , file_(std::move(file))
        , step_(std::move(step))
        , cause_(std::move(cause)) {}

    /// "FILE: STEP: CAUSE" (without the category's generic text).
    const char* what() const noexcept override { return what_.c_str(); }
    const std::string& file() const noexcept { return file_; }
    const std::string& step() const noexcept { return step_; }
    const std::string& cause() const noexcept { return cause_; }
    errc fcs_code() const noexcept { return static_cast<errc>(code().value()); }

private:
    static std::string compose(const std::string& file, const std::string& step,
                               const std::string& cause) {
        std::string s;
        if (!file.empty())
            s += file + ": ";
        if (!step.empty())
            s += step + ": ";
        s += cause;
        return s;
    }
    std::string what_, file_, step_, cause_;
};

} // namespace fcs

template <>
struct std::is_error_code_enum<fcs::errc> : std::true_type {};

#endif // FCS_ERROR_HPP
