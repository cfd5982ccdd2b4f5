// A consumer of fcs::etcd (the etcd storage): it compiles and links with what the package
// config finds (nlohmann_json, Boost's headers) and parses a storage URL.
#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/storage/etcd.hpp>

#include <iostream>
int main() {
    auto o = fcs::storage::etcd_options::from_url("etcds://10.0.0.1:2379,10.0.0.2:2379/fcs");
    std::cout << "consumer_etcd ok " << o.endpoints.size() << "\n";
    return o.endpoints.size() == 2 && o.prefix == "/fcs" ? 0 : 1;
}
