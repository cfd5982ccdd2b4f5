// A consumer of the installed fcs package: starts a service on an in-memory storage and
// checks it generated a certificate. Also the unit whose compile time BENCHMARKS.md records
// (header-only, and with FCS_SEPARATE_COMPILATION as package.separate_compilation builds it).
#include <fcs/fcs.hpp>
#include <iostream>
int main() {
    fcs::memory_service<> svc({}, fcs::storage::memory{});
    auto report = svc.start();
    std::cout << "consumer ok " << report.status.info.sha256_fingerprint << "\n";
    return report.generated && report.status.info.sha256_fingerprint.size() == 95 ? 0 : 1;
}
