// fcs/crypto/boringssl/encoding.hpp: base64 (RFC 4648), bounded, canonical input only.
#include <fcs/crypto/boringssl/encoding.hpp>
#include <fcs/crypto/boringssl/encoding.hpp> // guard

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace

BOOST_AUTO_TEST_SUITE(crypto_encoding)

// RFC 4648 section 10.
BOOST_AUTO_TEST_CASE(encodes_and_decodes_the_rfc_4648_vectors) {
    const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                     {"f", "Zg=="},
                                                                     {"fo", "Zm8="},
                                                                     {"foo", "Zm9v"},
                                                                     {"foob", "Zm9vYg=="},
                                                                     {"fooba", "Zm9vYmE="},
                                                                     {"foobar", "Zm9vYmFy"}};
    for (auto [plain, text] : vectors) {
        BOOST_TEST(fcs::crypto::base64_encode(bytes_of(plain)) == text);
        std::string back = "untouched";
        BOOST_TEST_REQUIRE(fcs::crypto::base64_decode(text, back));
        BOOST_TEST(back == plain);
    }
}

BOOST_AUTO_TEST_CASE(decodes_every_byte_value_into_any_byte_container) {
    std::vector<std::uint8_t> all;
    for (unsigned c = 0; c < 256; ++c)
        all.push_back(static_cast<std::uint8_t>(c));
    auto text = fcs::crypto::base64_encode(all);
    BOOST_TEST(text.size() == 344u); // 256 bytes: 86 groups of 4, the last padded
    BOOST_TEST(text.find('\n') == std::string::npos);
    std::vector<std::uint8_t> as_vector;
    fcs::secret_bytes as_secret;
    BOOST_TEST_REQUIRE(fcs::crypto::base64_decode(text, as_vector));
    BOOST_TEST_REQUIRE(fcs::crypto::base64_decode(text, as_secret));
    BOOST_TEST(as_vector == all);
    BOOST_TEST(std::vector<std::uint8_t>(as_secret.begin(), as_secret.end()) == all);
}

BOOST_AUTO_TEST_CASE(refuses_text_that_is_not_canonical_base64_and_leaves_the_output) {
    const std::string_view bad[] = {
        "Zg",                                // unpadded
        "Zg=",                               // length not a multiple of 4
        "Zm9v\n",                            // a line break
        "Zm9v YmFy",                         // a space
        "Zm-v",                              // the URL-safe alphabet
        "Zm_v",                              //
        "Z===",                              // too much padding
        "=Zm9",                              // padding first
        "Zg==Zm9v",                          // padding in the middle
        std::string_view("Zm9v\0\0\0\0", 8), // NUL bytes
        "Zm9*",                              // outside the alphabet
    };
    for (auto text : bad) {
        std::string out = "untouched";
        BOOST_TEST(!fcs::crypto::base64_decode(text, out), "accepted: " << text);
        BOOST_TEST(out == "untouched");
    }
}

BOOST_AUTO_TEST_CASE(bounds_both_directions) {
    // Text: one group of 4 past the bound is refused before anything is decoded.
    std::string longest(fcs::crypto::base64_max_text, 'A');
    std::string too_long = longest + "AAAA";
    BOOST_TEST(fcs::crypto::base64_decoded_max(too_long.size()) == 0u);
    std::vector<std::uint8_t> out{7};
    BOOST_TEST(!fcs::crypto::base64_decode(too_long, out));
    BOOST_TEST(out.size() == 1u);
    BOOST_TEST_REQUIRE(fcs::crypto::base64_decode(longest, out));
    BOOST_TEST(out.size() == fcs::crypto::base64_max_bytes);

    // Bytes: the most encode to the longest text; one more is refused.
    BOOST_TEST(fcs::crypto::base64_encode(out).size() == fcs::crypto::base64_max_text);
    out.push_back(0);
    try {
        (void)fcs::crypto::base64_encode(out);
        BOOST_FAIL("encoded more than base64_max_bytes");
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::too_large);
    }
}

BOOST_AUTO_TEST_SUITE_END()
