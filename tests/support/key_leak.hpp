#ifndef FCS_TESTS_SUPPORT_KEY_LEAK_HPP
#define FCS_TESTS_SUPPORT_KEY_LEAK_HPP

// A leak oracle for private keys: the secret of an EC key is its scalar, so a text leaks the
// key when it holds the scalar in any usual form. (The first bytes of a PKCS#8 encoding are
// the same for every P-256 key: looking for those proves nothing.)

#include <openssl/base64.h>
#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::test {

class key_secret {
public:
    /// From a parsed EC private key.
    static key_secret of(const EVP_PKEY* pkey) {
        if (!pkey || EVP_PKEY_id(pkey) != EVP_PKEY_EC)
            throw std::runtime_error("key_secret: not an EC private key");
        const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(pkey);
        std::vector<std::uint8_t> scalar(BN_num_bytes(EC_GROUP_get0_order(EC_KEY_get0_group(ec))));
        BN_bn2bin_padded(scalar.data(), scalar.size(), EC_KEY_get0_private_key(ec));
        key_secret s(scalar);
        OPENSSL_cleanse(scalar.data(), scalar.size());
        return s;
    }

    /// From a PEM (PKCS#8, SEC1) or DER private key.
    static key_secret of(std::string_view key) {
        bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
        bssl::UniquePtr<EVP_PKEY> pkey(
            PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        if (!pkey) {
            ERR_clear_error();
            CBS cbs;
            CBS_init(&cbs, reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
            pkey.reset(EVP_parse_private_key(&cbs));
        }
        return of(pkey.get());
    }

    /// The name of the form in which `text` holds the secret, or "" when it does not. Line
    /// breaks (real ones, and "\\n" escapes as JSON writes them) are looked through: a PEM
    /// body breaks its base64 every 64 characters.
    std::string found_in(std::string_view text) const {
        static const char* names[] = {"raw", "hex", "HEX", "base64+0", "base64+1", "base64+2"};
        std::string joined;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n' || text[i] == '\r')
                continue;
            if (text[i] == '\\' && i + 1 < text.size() &&
                (text[i + 1] == 'n' || text[i + 1] == 'r')) {
                ++i;
                continue;
            }
            joined += text[i];
        }
        for (std::size_t i = 0; i < forms_.size(); ++i)
            if (text.find(forms_[i]) != std::string_view::npos ||
                joined.find(forms_[i]) != std::string::npos)
                return names[i];
        return "";
    }

    ~key_secret() {
        for (auto& f : forms_)
            OPENSSL_cleanse(f.data(), f.size());
    }
    key_secret(const key_secret&) = default;
    key_secret(key_secret&&) = default;

    /// Whether `text` holds the secret in any form.
    bool in(std::string_view text) const { return !found_in(text).empty(); }

private:
    explicit key_secret(const std::vector<std::uint8_t>& scalar) {
        forms_.emplace_back(scalar.begin(), scalar.end()); // raw
        static constexpr char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
        std::string lh, uh;
        for (auto b : scalar) {
            lh += {lower[b >> 4], lower[b & 15]};
            uh += {upper[b >> 4], upper[b & 15]};
        }
        forms_.push_back(lh);
        forms_.push_back(uh);
        // Base64 at each alignment the scalar can have inside a larger encoded blob: 27 bytes
        // from offset 0, 1 and 2 encode to 36 characters without padding.
        for (std::size_t a = 0; a < 3; ++a) {
            std::string b64(40, '\0');
            auto n =
                EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(b64.data()), scalar.data() + a, 27);
            b64.resize(n);
            forms_.push_back(b64);
        }
    }
    std::vector<std::string> forms_;
};

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_KEY_LEAK_HPP
