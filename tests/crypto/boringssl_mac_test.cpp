// fcs/crypto/boringssl/mac.hpp: HMAC-SHA256, HKDF-SHA256 and the constant-time comparison.
#include <fcs/crypto/boringssl/mac.hpp>
#include <fcs/crypto/boringssl/mac.hpp> // guard

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string hex(std::span<const std::uint8_t> b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}
std::vector<std::uint8_t> counting(std::uint8_t from, std::uint8_t to) {
    std::vector<std::uint8_t> v;
    for (unsigned c = from; c <= to; ++c)
        v.push_back(static_cast<std::uint8_t>(c));
    return v;
}
} // namespace

BOOST_AUTO_TEST_SUITE(crypto_mac)

// RFC 4231 section 4.2 and 4.3 (test cases 1 and 2), the HMAC-SHA-256 lines.
BOOST_AUTO_TEST_CASE(hmac_sha256_gives_the_rfc_4231_values) {
    const std::vector<std::uint8_t> key1(20, 0x0b);
    fcs::crypto::hmac_sha256_value mac{};
    BOOST_TEST_REQUIRE(fcs::crypto::hmac_sha256(key1, bytes_of("Hi There"), mac));
    BOOST_TEST(hex(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    BOOST_TEST_REQUIRE(
        fcs::crypto::hmac_sha256(bytes_of("Jefe"), bytes_of("what do ya want for nothing?"), mac));
    BOOST_TEST(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 5869 appendix A.1 (test case 1) and A.3 (test case 3: no salt, no info, as the etcd
// storage derives its bundle MAC key with no salt).
BOOST_AUTO_TEST_CASE(hkdf_sha256_gives_the_rfc_5869_values) {
    const std::vector<std::uint8_t> ikm(22, 0x0b);
    fcs::secret_bytes okm;
    BOOST_TEST_REQUIRE(
        fcs::crypto::hkdf_sha256(ikm, counting(0x00, 0x0c), counting(0xf0, 0xf9), 42, okm));
    BOOST_TEST(hex(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                           "34007208d5b887185865");

    BOOST_TEST_REQUIRE(fcs::crypto::hkdf_sha256(ikm, {}, {}, 42, okm));
    BOOST_TEST(hex(okm) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                           "9d201395faa4b61a96c8");
}

BOOST_AUTO_TEST_CASE(hkdf_sha256_refuses_more_than_255_hash_lengths_and_leaves_the_output) {
    const std::vector<std::uint8_t> ikm(32, 1);
    fcs::secret_bytes okm{1, 2, 3};
    BOOST_TEST(
        !fcs::crypto::hkdf_sha256(ikm, {}, {}, fcs::crypto::hkdf_sha256_max_length + 1, okm));
    BOOST_TEST(okm == fcs::secret_bytes({1, 2, 3}));
    BOOST_TEST_REQUIRE(
        fcs::crypto::hkdf_sha256(ikm, {}, {}, fcs::crypto::hkdf_sha256_max_length, okm));
    BOOST_TEST(okm.size() == fcs::crypto::hkdf_sha256_max_length);
}

BOOST_AUTO_TEST_CASE(equal_constant_time_compares_sizes_and_every_byte) {
    using fcs::crypto::equal_constant_time;
    BOOST_TEST(equal_constant_time(std::string_view("abc"), std::string_view("abc")));
    BOOST_TEST(equal_constant_time(std::string_view(), std::string_view()));
    BOOST_TEST(!equal_constant_time(std::string_view("abc"), std::string_view("abd")));
    BOOST_TEST(!equal_constant_time(std::string_view("xbc"), std::string_view("abc")));
    BOOST_TEST(!equal_constant_time(std::string_view("abc"), std::string_view("abcd")));
    BOOST_TEST(!equal_constant_time(std::string_view("abc"), std::string_view()));
    const std::vector<std::uint8_t> a{0, 1, 2}, b{0, 1, 2}, c{0, 1, 3};
    BOOST_TEST(equal_constant_time(std::span<const std::uint8_t>(a), b));
    BOOST_TEST(!equal_constant_time(std::span<const std::uint8_t>(a), c));
}

BOOST_AUTO_TEST_SUITE_END()
