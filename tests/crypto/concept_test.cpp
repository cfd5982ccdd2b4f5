// The CryptoBackend concept names everything the core uses: the whole lifecycle runs on a
// backend with no BoringSSL in it (tests/support/fake_crypto.hpp), on real files.
#include "support/fake_crypto.hpp"
#include "support/service.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
namespace t = fcs::test;
using lv = policy::level;
using fake_service =
    FailoverCertService<t::dir_storage, acl::posix, t::fake_crypto, log::memory, t::manual_clock>;

struct fake_fixture : t::service_fixture {
    fake_service make_fake() {
        return fake_service(opts, t::dir_storage(dir.path()), acl::posix{}, t::fake_crypto{}, log,
                            clock);
    }
};
} // namespace

BOOST_AUTO_TEST_SUITE(crypto_concept)

BOOST_FIXTURE_TEST_CASE(a_second_backend_generates_validates_and_restarts, fake_fixture) {
    std::string fp;
    {
        auto svc = make_fake();
        auto r = svc.start();
        BOOST_TEST(r.generated);
        fp = r.status.info.sha256_fingerprint;
        BOOST_TEST(t::read_text(cert()).rfind("FAKE-CERT ", 0) == 0u);
        BOOST_TEST(t::mode_of(key()) == 0600u);
        BOOST_TEST(log.count(lv::info, "fake key") == 1u); // the backend's key description
        BOOST_TEST(r.status.days_remaining > 365 * 14);
    }
    auto svc = make_fake();
    auto r = svc.start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint == fp);
}

BOOST_FIXTURE_TEST_CASE(a_second_backend_archives_a_mismatched_pair_and_installs_a_new_one,
                        fake_fixture) {
    {
        auto svc = make_fake();
        svc.start();
    }
    t::write_text(key(), "FAKE-KEY someoneelse\n", 0600); // no longer matches the certificate
    auto svc = make_fake();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.archived.size() >= 2u);
    BOOST_TEST(log.count(lv::warning, "does not match") >= 1u);
    // The admin's replacement, through the same validated commit.
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
    std::string cert_text = "FAKE-CERT k2 " + std::to_string(now - 60) + " " +
                            std::to_string(now + 86400 * 10) + " 0 replaced.example\n";
    auto st =
        svc.install(t::as_bytes(cert_text), t::as_bytes("FAKE-KEY k2\n"), "new.crt", "new.key");
    BOOST_TEST(st.info.subject == "CN=replaced.example");
    BOOST_TEST((st.state == cert_state::expiring)); // 10 days left: inside the 30-day window
    BOOST_TEST(t::read_text(key()) == "FAKE-KEY k2\n");
    BOOST_CHECK_THROW(svc.install(t::as_bytes(cert_text), t::as_bytes("FAKE-KEY-ENCRYPTED k2\n"),
                                  "new.crt", "new.key"),
                      error);
}

BOOST_AUTO_TEST_SUITE_END()
