#include <fcs/tls/ticket_keys.hpp>
#include <fcs/tls/server_context.hpp>

#include "support/service.hpp"
#include "support/tls_pair.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
namespace t = fcs::test;
} // namespace

BOOST_AUTO_TEST_SUITE(tls_ticket_keys)

BOOST_AUTO_TEST_CASE(keyring_rotates_on_schedule_and_round_trips) {
    tls::ticket_keyring ring;
    auto t0 = std::chrono::system_clock::now();
    BOOST_TEST(ring.rotate(t0));
    BOOST_TEST(ring.keys().size() == 1u);
    BOOST_TEST(!ring.rotate(t0 + 11h)); // not due yet
    BOOST_TEST(ring.rotate(t0 + 12h));  // a new encrypting key, the old one still decrypts
    BOOST_TEST(ring.keys().size() == 2u);
    BOOST_TEST(ring.keys()[0].created > ring.keys()[1].created);
    BOOST_TEST(ring.rotate(t0 + 37h)); // the first key aged out, a third came in
    BOOST_TEST(ring.keys().size() == 2u);
    auto bytes = ring.serialize();
    auto back = tls::ticket_keyring::parse(bytes, "k");
    BOOST_TEST(back.keys().size() == 2u);
    BOOST_TEST((back.keys()[0].name == ring.keys()[0].name));
    BOOST_TEST((back.keys()[1].aes_key == ring.keys()[1].aes_key));
    bytes.pop_back();
    BOOST_CHECK_THROW(tls::ticket_keyring::parse(bytes, "k"), error);
    BOOST_CHECK_THROW(tls::ticket_keyring::parse(t::as_bytes("garbage"), "k"), error);
}

BOOST_FIXTURE_TEST_CASE(two_servers_on_one_storage_resume_each_others_sessions,
                        t::service_fixture) {
    // Two services on the same data folder: the active and the backup server after failover.
    auto a = make();
    a.start();
    auto b = make();
    b.start();
    tls::ticket_keys keys_a, keys_b;
    BOOST_TEST(keys_a.sync(a));  // made and stored the keyring
    BOOST_TEST(!keys_b.sync(b)); // found it: nothing to change
    auto stored = dir / "Certificates/Keys/" FCS_DEFAULT_CERT_NAME ".tickets";
    BOOST_TEST(t::mode_of(stored) == 0600u);
    tls::server_context tls_a, tls_b;
    tls_a.follow(a);
    tls_b.follow(b);
    keys_a.attach(tls_a.native_handle());
    keys_b.attach(tls_b.native_handle());
    auto client = t::permissive_client();
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        BOOST_TEST_CONTEXT("version " << std::hex << version) {
            SSL_CTX_set_max_proto_version(client.get(), version);
            auto first = t::handshake(tls_a.native_handle(), client.get());
            BOOST_REQUIRE_MESSAGE(first.ok, first.error);
            BOOST_TEST(!first.resumed);
            auto on_b = t::handshake(tls_b.native_handle(), client.get(), first.session.get());
            BOOST_REQUIRE_MESSAGE(on_b.ok, on_b.error);
            BOOST_TEST(on_b.resumed); // the backup decrypted the active's ticket
        }
    }
    // A server with a keyring of its own cannot resume them: the sharing is what does it.
    tls::ticket_keys stranger;
    tls::ticket_keyring other;
    other.rotate(std::chrono::system_clock::now());
    stranger.publish(other);
    tls::server_context tls_c;
    tls_c.follow(a);
    stranger.attach(tls_c.native_handle());
    SSL_CTX_set_max_proto_version(client.get(), TLS1_3_VERSION);
    auto first = t::handshake(tls_a.native_handle(), client.get());
    auto on_c = t::handshake(tls_c.native_handle(), client.get(), first.session.get());
    BOOST_REQUIRE(on_c.ok);
    BOOST_TEST(!on_c.resumed);
}

BOOST_FIXTURE_TEST_CASE(after_rotation_old_tickets_still_resume_until_they_age_out,
                        t::service_fixture) {
    auto svc = make();
    svc.start();
    tls::ticket_keys keys;
    keys.sync(svc);
    tls::server_context tls;
    tls.follow(svc);
    keys.attach(tls.native_handle());
    auto client = t::permissive_client();
    SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION); // TLS 1.2: ticket lifetime is ours
    auto first = t::handshake(tls.native_handle(), client.get());
    BOOST_REQUIRE(first.ok);
    clock.advance(12h);
    BOOST_TEST(keys.sync(svc)); // rotated and stored
    BOOST_TEST(keys.current()->keys().size() == 2u);
    auto again = t::handshake(tls.native_handle(), client.get(), first.session.get());
    BOOST_REQUIRE(again.ok);
    BOOST_TEST(again.resumed);
    clock.advance(37h);
    keys.sync(svc);
    auto stale = t::handshake(tls.native_handle(), client.get(), first.session.get());
    BOOST_REQUIRE(stale.ok);
    BOOST_TEST(!stale.resumed); // its key aged out: a full handshake instead
    // Rotation wrote the keyring without filling the archive.
    BOOST_TEST(archive().empty());
}

BOOST_AUTO_TEST_SUITE_END()
