// libFuzzer target: certificate files (PEM, DER, chains, anything) through the backend.
#include <fcs/crypto/boringssl.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fcs::crypto::boringssl c;
    try {
        auto certs = c.parse_certificates({data, size}, "fuzz.crt");
        for (auto& cert : certs) {
            auto info = c.describe(cert);
            (void)c.encode(cert, fcs::encoding::pem);
            (void)c.encode(cert, fcs::encoding::der);
            if (info.sha256_fingerprint.size() != 95)
                __builtin_trap();
        }
    } catch (const fcs::error&) {
    }
    return 0;
}
