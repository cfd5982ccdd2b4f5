// libFuzzer target: the session-ticket keyring format (fcs/tls/ticket_keys.hpp), read from a
// file or an etcd bundle another account may have written. What parses must serialize back to
// the same bytes and rotate without overflow (UBSan watches the arithmetic).
#include <fcs/tls/ticket_keys.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fcs::tls::ticket_keyring ring;
    try {
        ring = fcs::tls::ticket_keyring::parse({data, size}, "fuzz.tickets");
    } catch (const fcs::error&) {
        return 0;
    }
    auto again = fcs::tls::ticket_keyring::parse(ring.serialize(), "fuzz.tickets");
    if (again.serialize() != ring.serialize() || ring.keys().size() > ring.max_keys)
        std::abort();
    ring.rotate(std::chrono::system_clock::now());
    return 0;
}
