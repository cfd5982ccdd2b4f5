// The process the crash harness kills. Built with FCS_ENABLE_FAULT_INJECTION, so
// FCS_CRASH_AT / FCS_FAIL_AT / FCS_FAIL_ALWAYS (fcs/detail/fault.hpp) take effect.
//   crash_driver start DIR                 start(): generate or validate (and archive)
//   crash_driver install DIR CERT KEY      start(), then install() the given PEM pair
// Prints "fingerprint <sha256>" of the pair in use at the end; errors go to stderr, exit 1.
#include <fcs/fcs.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace {
std::string slurp(const char* p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

int main(int argc, char** argv) {
    if (argc < 3)
        return 2;
    using storage = fcs::storage::directory<fcs::storage::failover_layout>;
    fcs::FailoverCertService<storage, fcs::acl::posix, fcs::log::null_sink> svc(
        {}, storage(argv[2]), fcs::acl::posix{}, fcs::log::null_sink{});
    std::string cmd = argv[1];
    try {
        auto report = svc.start();
        // What start() found broken (and archived): after a crash this must be nothing.
        std::cout << "archived " << report.archived.size() << "\n";
        if (cmd == "install" && argc == 5) {
            auto cert = slurp(argv[3]), key = slurp(argv[4]);
            // FCS_CRASH_MARK_FD=N: "I" is written to fd N as install() begins and "D" once it
            // returned, so a test that kills this process knows where the kill landed.
            int mark = -1;
            if (const char* m = std::getenv("FCS_CRASH_MARK_FD"))
                mark = std::atoi(m);
            auto say = [&](char c) {
                if (mark >= 0)
                    (void)!::write(mark, &c, 1);
            };
            try {
                say('I');
                svc.install({reinterpret_cast<const std::uint8_t*>(cert.data()), cert.size()},
                            {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()},
                            argv[3], argv[4]);
                say('D');
            } catch (const fcs::error& e) {
                // The pair in use must still be the old one.
                std::cout << "fingerprint " << svc.current()->info.sha256_fingerprint << "\n";
                std::cerr << e.what() << "\n";
                return 1;
            }
        }
    } catch (const fcs::error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    std::cout << "fingerprint " << svc.current()->info.sha256_fingerprint << "\n";
    return 0;
}
