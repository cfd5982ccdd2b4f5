#ifndef FCS_TESTS_SUPPORT_SERVICE_HPP
#define FCS_TESTS_SUPPORT_SERVICE_HPP

#include "support/support.hpp"

namespace fcs::test {

using dir_storage = storage::directory<storage::failover_layout>;
/// The failover service as the tests build it: real files, POSIX ACL, memory log, manual clock.
using failover_service = FailoverCertService<dir_storage, acl::posix, log::memory, manual_clock>;

struct service_fixture {
    temp_dir dir;
    log::memory log;
    manual_clock clock;
    service_options opts;

    failover_service make() {
        return failover_service(opts, dir_storage(dir.path()), acl::posix{}, log, clock);
    }
    fs::path cert(const std::string& name = FCS_DEFAULT_CERT_NAME) const {
        return dir / ("Certificates/" + name + ".crt");
    }
    fs::path key_path(const std::string& name = FCS_DEFAULT_CERT_NAME) const { return key(name); }
    fs::path key(const std::string& name = FCS_DEFAULT_CERT_NAME) const {
        return dir / ("Certificates/Keys/" + name + ".key");
    }
    /// Certificates/Keys/ made by hand as the documentation says (mode 0700), before any start.
    void keys_folder() const {
        fs::create_directories(dir / "Certificates/Keys");
        ::chmod((dir / "Certificates/Keys").c_str(), 0700);
    }
    std::vector<std::string> archive() const {
        std::vector<std::string> out;
        if (fs::exists(dir / "Certificates/Archive"))
            for (auto& e : fs::directory_iterator(dir / "Certificates/Archive"))
                out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_SERVICE_HPP
