#include "support/key_leak.hpp"
#include "support/service.hpp"

#include <fcs/tls/ticket_keys.hpp>

#include <boost/test/unit_test.hpp>

namespace {
/// Checks, at every free, that the bytes handed back are all zero.
struct freed {
    static inline std::size_t blocks = 0, dirty = 0;
};
template <class T>
struct recording_upstream {
    using value_type = T;
    recording_upstream() = default;
    template <class U>
    recording_upstream(const recording_upstream<U>&) {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) {
        auto* b = reinterpret_cast<const unsigned char*>(p);
        ++freed::blocks;
        for (std::size_t i = 0; i < n * sizeof(T); ++i)
            if (b[i] != 0) {
                ++freed::dirty;
                break;
            }
        std::allocator<T>{}.deallocate(p, n);
    }
};
template <class T>
concept streamable = requires(std::ostream& os, const T& v) {
    os << v;
};

using recorded_secret =
    std::vector<std::uint8_t,
                fcs::detail::cleansing_allocator<std::uint8_t, recording_upstream<std::uint8_t>>>;
} // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(secret_buffers_are_wiped_before_their_memory_is_freed) {
    freed::blocks = freed::dirty = 0;
    {
        recorded_secret s;
        for (int i = 0; i < 5000; ++i) // growth reallocates several times
            s.push_back(static_cast<std::uint8_t>(0xA5));
        recorded_secret copy = s;
        copy.resize(10);
        copy.shrink_to_fit();
    }
    BOOST_TEST(freed::blocks >= 5u);
    BOOST_TEST(freed::dirty == 0u);
}

BOOST_AUTO_TEST_CASE(secret_bytes_have_no_way_to_be_printed) {
    // No operator<< exists for secret_bytes: formatting a key needs a deliberate conversion.
    static_assert(!streamable<fcs::secret_bytes>);
    static_assert(streamable<std::string>); // the check itself works
    BOOST_TEST(!streamable<fcs::secret_bytes>);
}

BOOST_FIXTURE_TEST_CASE(errors_about_a_key_never_quote_it, fcs::test::service_fixture) {
    auto svc = make();
    svc.start();
    auto key = fcs::test::read_text(key_path());
    // A damaged copy of the real key: the error must name the input, not echo it.
    auto damaged = key.substr(0, key.size() - 40);
    auto cert = fcs::test::read_text(this->cert());
    try {
        svc.install(fcs::test::as_bytes(cert), fcs::test::as_bytes(damaged), "c.crt", "k.key");
        BOOST_FAIL("accepted a damaged key");
    } catch (const fcs::error& e) {
        std::string what = e.what();
        auto secret = fcs::test::key_secret::of(key);
        BOOST_TEST(!secret.found_in(damaged).empty()); // the damaged input still holds it
        BOOST_TEST(secret.found_in(what).empty(), what);
        BOOST_TEST(what.find("k.key") == 0u, what);
    }
}

BOOST_AUTO_TEST_SUITE_END()
