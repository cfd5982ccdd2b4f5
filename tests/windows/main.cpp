// The Windows test program: Boost.Test's header-only variant (Debian ships no mingw build of
// the library), so this is the one unit that includes it.
#define BOOST_TEST_MODULE fcs_windows_tests
#include <boost/test/included/unit_test.hpp>
