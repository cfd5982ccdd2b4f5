// Each public header compiles on its own (included first in its own translation unit would be
// stricter; here every header is included alone inside a namespace-free block in order).
#include <fcs/error.hpp>
#include <fcs/types.hpp>
#include <fcs/policy/kind.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/memory.hpp>
#include <fcs/storage/directory.hpp>
#include <fcs/acl/none.hpp>
#include <fcs/acl/posix.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/config.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/fcs.hpp>

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(self_contained)
BOOST_AUTO_TEST_CASE(every_policy_meets_its_concept) {
    static_assert(fcs::policy::Storage<fcs::storage::directory<fcs::storage::failover_layout>>);
    static_assert(fcs::policy::Storage<fcs::storage::directory<fcs::storage::server_group_layout>>);
    static_assert(fcs::policy::Storage<fcs::storage::memory>);
    static_assert(fcs::policy::Acl<fcs::acl::posix> && fcs::policy::Acl<fcs::acl::none>);
    static_assert(fcs::policy::CryptoBackend<fcs::crypto::boringssl>);
    static_assert(fcs::policy::LogSink<fcs::log::file> && fcs::policy::LogSink<fcs::log::memory> &&
                  fcs::policy::LogSink<fcs::log::stderr_sink>);
    static_assert(fcs::policy::Clock<fcs::clock::system>);
    BOOST_TEST(true); // the static_asserts above are the test
}
BOOST_AUTO_TEST_SUITE_END()
