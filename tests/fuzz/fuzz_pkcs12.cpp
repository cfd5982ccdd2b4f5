// libFuzzer target: PKCS#12 bundles, without and with a fixed password.
#include <fcs/crypto/boringssl.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fcs::crypto::boringssl c;
    static const fcs::secret_bytes password = fcs::to_secret("fuzz-password");
    for (const fcs::secret_bytes* pw :
         {static_cast<const fcs::secret_bytes*>(nullptr), &password}) {
        try {
            auto b = c.parse_pkcs12({data, size}, pw, "fuzz.p12");
            for (auto& cert : b.chain)
                (void)c.matches(cert, b.key);
        } catch (const fcs::error&) {
        }
    }
    return 0;
}
