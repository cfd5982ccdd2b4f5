// Must not compile: declares the storage kind but has none of its operations.
#include <fcs/fcs.hpp>
struct broken_storage {
    using policy_kind = fcs::policy::kind::storage;
    void open() {}
};
int main() {
    fcs::FailoverCertService<broken_storage> svc({}, broken_storage{});
    (void)svc;
}
