// fcs/crypto/boringssl/aead.hpp: AES-256-GCM sealing under a key-encryption key.
#include <fcs/crypto/boringssl/aead.hpp>
#include <fcs/crypto/boringssl/aead.hpp> // guard

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace {
using fcs::secret_bytes;
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace

BOOST_AUTO_TEST_SUITE(crypto_aead)

BOOST_AUTO_TEST_CASE(opens_what_it_sealed_only_with_the_same_key_and_place) {
    const secret_bytes key(32, 7), other(32, 8);
    const std::string_view plain = "private key bytes";
    auto box = fcs::crypto::aes256gcm_seal(key, bytes_of(plain), "slot a");
    BOOST_TEST(box.data.size() == plain.size() + 16u); // ciphertext and tag
    BOOST_TEST(std::string_view(reinterpret_cast<const char*>(box.data.data()), plain.size()) !=
               plain);
    secret_bytes out;
    BOOST_TEST_REQUIRE(fcs::crypto::aes256gcm_open(key, box.nonce, box.data, "slot a", out));
    BOOST_TEST(fcs::as_text(out) == plain);

    secret_bytes untouched{1, 2, 3};
    BOOST_TEST(!fcs::crypto::aes256gcm_open(other, box.nonce, box.data, "slot a", untouched));
    BOOST_TEST(!fcs::crypto::aes256gcm_open(key, box.nonce, box.data, "slot b", untouched));
    auto altered = box.data;
    altered[0] ^= 1;
    BOOST_TEST(!fcs::crypto::aes256gcm_open(key, box.nonce, altered, "slot a", untouched));
    BOOST_TEST(!fcs::crypto::aes256gcm_open(key, std::span(box.nonce).first(11), box.data, "slot a",
                                            untouched));
    BOOST_TEST(untouched.size() == 3u); // failures leave the output alone

    // A fresh nonce each time: the same plaintext never seals to the same bytes.
    auto again = fcs::crypto::aes256gcm_seal(key, bytes_of(plain), "slot a");
    BOOST_TEST((again.nonce != box.nonce));
    BOOST_TEST((again.data != box.data));
}

BOOST_AUTO_TEST_CASE(refuses_a_key_that_is_not_32_bytes) {
    const secret_bytes short_key(16, 1);
    BOOST_CHECK_EXCEPTION(fcs::crypto::aes256gcm_seal(short_key, bytes_of("x"), ""), fcs::error,
                          [](const fcs::error& e) {
                              return e.fcs_code() == fcs::errc::invalid_argument &&
                                     std::string(e.what()).find("32 bytes") != std::string::npos;
                          });
}

BOOST_AUTO_TEST_SUITE_END()
