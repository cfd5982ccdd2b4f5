#define BOOST_TEST_MODULE fcs
#include <boost/test/unit_test.hpp>
