// Must not compile: two log policies.
#include <fcs/fcs.hpp>
int main() {
    fcs::FailoverCertService<fcs::storage::memory, fcs::log::memory, fcs::log::null_sink> svc(
        {}, fcs::storage::memory{}, fcs::log::memory{}, fcs::log::null_sink{});
    (void)svc;
}
