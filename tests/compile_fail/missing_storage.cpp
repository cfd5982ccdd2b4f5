// Must not compile: no storage policy in the pack.
#include <fcs/fcs.hpp>
int main() {
    fcs::FailoverCertService<fcs::log::memory, fcs::acl::none> svc({}, fcs::log::memory{},
                                                                   fcs::acl::none{});
    (void)svc;
}
