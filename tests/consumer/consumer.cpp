// A consumer of the installed fcs package: starts a service on an in-memory storage and
// checks it generated a certificate.
#include <fcs/fcs.hpp>
#include <iostream>
int main() {
    fcs::FailoverCertService<fcs::storage::memory, fcs::acl::none, fcs::log::null_sink> svc(
        {}, fcs::storage::memory{}, fcs::acl::none{}, fcs::log::null_sink{});
    auto report = svc.start();
    std::cout << "consumer ok " << report.status.info.sha256_fingerprint << "\n";
    return report.generated && report.status.info.sha256_fingerprint.size() == 95 ? 0 : 1;
}
