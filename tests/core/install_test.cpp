#include "support/service.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
namespace t = fcs::test;
using lv = policy::level;

using fcs::test::snapshot;
} // namespace

BOOST_AUTO_TEST_SUITE(install)

BOOST_FIXTURE_TEST_CASE(install_commits_the_new_pair_and_archives_the_previous_one,
                        t::service_fixture) {
    auto svc = make();
    auto old = svc.start().status;
    auto old_cert = t::read_text(cert()), old_key = t::read_text(key());
    auto ca = t::openssl_ca_issued(dir / "work", "new.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    std::vector<std::string> seen;
    svc.on_change([&](auto& c) { seen.push_back(c->info.sha256_fingerprint); });
    auto st = svc.install(t::as_bytes(ca.cert), t::as_bytes(ca.key), "leaf.crt", "leaf.key");
    BOOST_TEST(st.info.subject == "CN=new.example");
    BOOST_TEST((st.origin == origin::installed));
    BOOST_TEST(svc.current()->info.sha256_fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST(seen == std::vector<std::string>{st.info.sha256_fingerprint});
    BOOST_TEST(t::mode_of(key()) == 0600u);
    // The previous pair is in the archive, byte for byte.
    auto a = archive(); // NAME.<tag>.crt, .key, .meta
    BOOST_REQUIRE(a.size() == 3u);
    BOOST_TEST(t::read_text(dir / "Certificates/Archive" / a[0]) == old_cert);
    BOOST_TEST(t::read_text(dir / "Certificates/Archive" / a[1]) == old_key);
    BOOST_TEST(t::read_text(dir / "Certificates/Archive" / a[2]).find("origin=generated") == 0u);
    BOOST_TEST(log.count(lv::info, old.info.sha256_fingerprint + ") is in the archive") == 1u);
    // A restart serves the installed pair and still knows it was installed.
    auto svc2 = make();
    auto st2 = svc2.start().status;
    BOOST_TEST(st2.info.sha256_fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST((st2.origin == origin::installed));
}

BOOST_FIXTURE_TEST_CASE(origin_survives_a_restart_and_a_stale_record_is_ignored,
                        t::service_fixture) {
    {
        auto svc = make();
        auto ca = t::openssl_ca_issued(dir / "work", "new.example");
        clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
        svc.start();
        svc.install(t::as_bytes(ca.cert), t::as_bytes(ca.key), "c", "k", origin::imported);
    }
    BOOST_TEST(t::read_text(dir / "Certificates/FailoverService.meta").find("origin=imported\n") ==
               0u);
    BOOST_TEST((make().start().status.origin == origin::imported));
    // The admin swaps the files by hand: the record is about another certificate now.
    auto other = t::openssl_ca_issued(dir / "work2", "other.example");
    clock.set(std::chrono::system_clock::now());
    t::write_text(cert(), other.cert, 0644);
    t::write_text(key(), other.key, 0600);
    BOOST_TEST((make().start().status.origin == origin::installed));
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_refused_with_the_file_and_cause_and_changes_nothing,
                        t::service_fixture) {
    auto svc = make();
    auto fp = svc.start().status.info.sha256_fingerprint;
    auto ca = t::openssl_ca_issued(dir / "work", "new.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto other = t::openssl_ca_issued(dir / "work2", "other.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto enc =
        t::run("openssl pkey -in " + (dir / "work/leaf.key").string() + " -aes256 -passout pass:x")
            .output;
    auto expired =
        t::run(
            "cd " + (dir / "work").string() +
            " && openssl req -x509 -key leaf.key -subj /CN=old -days 1 -not_after 20200101000000Z"
            " -not_before 20190101000000Z 2>/dev/null || true")
            .output;
    auto before = snapshot(dir.path());
    struct bad {
        std::string what, cert, key;
        errc code;
        std::string message;
    };
    std::vector<bad> cases = {
        {"mismatched", ca.cert, other.key, errc::key_mismatch,
         "new.crt: install: the private key does not match"},
        {"protected key", ca.cert, enc, errc::key_encrypted,
         "new.key: install: key is password-protected; the failover service needs an unprotected "
         "key"},
        {"garbage cert", "hello", ca.key, errc::parse_failed, "new.crt: load certificate: "},
        {"empty key", ca.cert, "", errc::parse_failed, "new.key: load key: the file is empty"},
        {"truncated key", ca.cert, ca.key.substr(0, ca.key.size() / 2), errc::parse_failed,
         "new.key: load key: malformed or truncated PEM"},
    };
    for (auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            try {
                svc.install(t::as_bytes(c.cert), t::as_bytes(c.key), "new.crt", "new.key");
                BOOST_FAIL("accepted");
            } catch (const error& e) {
                BOOST_TEST((e.fcs_code() == c.code));
                BOOST_TEST(std::string(e.what()).find(c.message) == 0u, e.what());
            }
            BOOST_TEST(svc.current()->info.sha256_fingerprint == fp);
            BOOST_TEST((snapshot(dir.path()) == before));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(an_expired_certificate_is_refused_by_install, t::service_fixture) {
    auto svc = make();
    auto fp = svc.start().status.info.sha256_fingerprint;
    auto ca = t::openssl_ca_issued(dir / "work", "new.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto before = snapshot(dir.path());
    clock.advance(std::chrono::days(366)); // the CA-issued certificate is valid 365 days
    try {
        svc.install(t::as_bytes(ca.cert), t::as_bytes(ca.key), "new.crt", "new.key");
        BOOST_FAIL("accepted an expired certificate");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::certificate_expired));
        BOOST_TEST(std::string(e.what()).find("new.crt: install: the certificate expired on") == 0u,
                   e.what());
    }
    BOOST_TEST(svc.current()->info.sha256_fingerprint == fp);
    BOOST_TEST((snapshot(dir.path()) == before));
}

BOOST_FIXTURE_TEST_CASE(reload_picks_up_a_pair_dropped_into_the_folders_and_ignores_a_bad_one,
                        t::service_fixture) {
    auto svc = make();
    auto fp = svc.start().status.info.sha256_fingerprint;
    // A bad pair: reported, the pair in use is kept, nothing is moved.
    auto ca = t::openssl_ca_issued(dir / "work", "dropped.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto other = t::openssl_ca_issued(dir / "work2", "other.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    t::write_text(dir / "Certificates/MyCertificate.crt", ca.cert, 0644);
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", other.key, 0600);
    auto r = svc.reload();
    BOOST_TEST(r.failed);
    BOOST_TEST(!r.changed);
    BOOST_TEST(svc.current()->info.sha256_fingerprint == fp);
    BOOST_TEST(log.count(lv::error, "does not match") == 2u);
    BOOST_TEST(archive().empty());
    // The right key arrives: the CA-issued pair is now used.
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", ca.key, 0600);
    r = svc.reload();
    BOOST_TEST(r.changed);
    BOOST_TEST(!r.failed);
    BOOST_TEST(svc.current()->name == "MyCertificate");
    BOOST_TEST(!svc.reload().changed);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(install_listeners)

BOOST_FIXTURE_TEST_CASE(a_failing_listener_neither_undoes_nor_hides_the_new_pair,
                        t::service_fixture) {
    auto svc = make();
    svc.start();
    int second_called = 0;
    svc.on_change([](auto&) { throw std::runtime_error("listener broke"); });
    svc.on_change([&](auto&) { ++second_called; });
    auto ca = t::openssl_ca_issued(dir / "work", "new.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto st = svc.install(t::as_bytes(ca.cert), t::as_bytes(ca.key), "c.crt", "c.key");
    BOOST_TEST(svc.current()->info.sha256_fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST(second_called == 1); // the other listeners still hear of it
    BOOST_TEST(log.count(lv::error, "a listener of the new certificate failed: listener broke") ==
               1u);
}

BOOST_AUTO_TEST_SUITE_END()
