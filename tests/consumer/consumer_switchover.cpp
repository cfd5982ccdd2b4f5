// A consumer of fcs::switchover (fcs/switchover.hpp): it compiles and links with what the
// package config finds (range-v3), and signs a child certificate with an in-memory group CA.
#include <fcs/fcs.hpp>
#include <fcs/switchover.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

int main() {
    fcs::service_options o;
    o.profile = fcs::profile_kind::group_ca;
    fcs::memory_service<> svc(o, fcs::storage::memory{});
    svc.start();
    fcs::switchover::issue_request req;
    req.common_name = "child.example";
    req.dns_names = {"child.example"};
    req.ip_addresses = {"10.0.0.7"};
    req.out_dir = std::filesystem::temp_directory_path() /
                  ("fcs-consumer-switchover-" + std::to_string(::getpid()));
    auto r = fcs::switchover::issue(svc, req);
    std::filesystem::remove_all(req.out_dir);
    const bool ok = r.sans.size() == 2 && r.sans[0] == "DNS:child.example";
    std::cout << (ok ? "consumer_switchover ok " : "consumer_switchover FAILED ") << r.sans.size()
              << "\n";
    return ok ? 0 : 1;
}
