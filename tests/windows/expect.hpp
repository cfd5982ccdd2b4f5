#ifndef FCS_TESTS_WINDOWS_EXPECT_HPP
#define FCS_TESTS_WINDOWS_EXPECT_HPP

// What the Windows tests expect of a call that must fail: its fcs::errc (and the message in
// the test log).
#include <fcs/error.hpp>

#include <boost/test/unit_test.hpp>

namespace fcs::test {

/// The fcs::errc that `f()` throws; fails the test when it throws none.
template <class F>
fcs::errc error_of(F f) {
    try {
        f();
    } catch (const fcs::error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.fcs_code();
    }
    BOOST_FAIL("no fcs::error");
    return {};
}

} // namespace fcs::test

#endif // FCS_TESTS_WINDOWS_EXPECT_HPP
