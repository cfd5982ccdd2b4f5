// Must not compile: int declares no policy kind.
#include <fcs/fcs.hpp>
int main() {
    fcs::FailoverCertService<fcs::storage::memory, int> svc({}, fcs::storage::memory{}, 0);
    (void)svc;
}
