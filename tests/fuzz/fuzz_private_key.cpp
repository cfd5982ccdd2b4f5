// libFuzzer target: key files in every format, plain and encrypted (fixed password), and
// the legacy PEM encryption headers.
#include <fcs/crypto/boringssl.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fcs::crypto::boringssl c;
    static const fcs::secret_bytes password = fcs::to_secret("fuzz-password");
    for (const fcs::secret_bytes* pw :
         {static_cast<const fcs::secret_bytes*>(nullptr), &password}) {
        try {
            auto key = c.parse_private_key({data, size}, pw, "fuzz.key");
            (void)c.encode(key, fcs::encoding::der);
        } catch (const fcs::error&) {
        }
    }
    return 0;
}
