#include <fcs/tls/ticket_keys.hpp>
#include <fcs/tls/server_context.hpp>

#include "support/service.hpp"
#include "support/tls_pair.hpp"

#include <boost/test/unit_test.hpp>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
namespace t = fcs::test;

/// The data folder storage, with a hook that runs once just before the first commit that
/// writes ticket keys: the moment another server's write would land in a real race.
struct racing_storage : t::dir_storage {
    using t::dir_storage::dir_storage;
    std::shared_ptr<std::function<void()>> before_ticket_commit =
        std::make_shared<std::function<void()>>();
    void commit(const change_set& c) {
        bool tickets = std::any_of(c.puts.begin(), c.puts.end(),
                                   [](auto& p) { return p.part == part::ticket_keys; });
        if (tickets && *before_ticket_commit) {
            auto f = std::move(*before_ticket_commit);
            *before_ticket_commit = nullptr;
            f();
        }
        t::dir_storage::commit(c);
    }
};
using racing_service =
    FailoverCertService<racing_storage, acl::posix, log::memory, t::manual_clock>;

std::vector<std::array<std::uint8_t, 16>> key_names(const tls::ticket_keys& k) {
    std::vector<std::array<std::uint8_t, 16>> out;
    for (auto& key : k.current()->keys())
        out.push_back(key.name);
    return out;
}
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
    // A sync that finds what is in use publishes nothing new (the handshakes keep theirs).
    auto in_use = keys_b.current();
    BOOST_TEST(!keys_b.sync(b));
    BOOST_TEST(keys_b.current() == in_use);
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

BOOST_AUTO_TEST_CASE(a_keyring_round_trips_and_planted_ones_are_refused) {
    tls::ticket_keyring ring;
    auto now = std::chrono::system_clock::now();
    ring.rotate(now - 13h);
    ring.rotate(now);
    BOOST_REQUIRE(ring.keys().size() == 2u);
    auto bytes = ring.serialize();
    auto back = tls::ticket_keyring::parse(bytes, "k");
    BOOST_TEST(back.serialize() == bytes);
    // A creation time past 9999 (a planted file: 2^63 would overflow the rotation arithmetic).
    auto far = bytes;
    far[7 + 1 + 80] = 0x80;
    BOOST_CHECK_EXCEPTION(tls::ticket_keyring::parse(far, "k"), error, [](const error& e) {
        return std::string(e.what()).find("outside 1970..9999") != std::string::npos;
    });
    // Two keys with one name.
    auto twin = bytes;
    std::copy(twin.begin() + 8, twin.begin() + 8 + 16, twin.begin() + 8 + 88);
    BOOST_CHECK_EXCEPTION(tls::ticket_keyring::parse(twin, "k"), error, [](const error& e) {
        return std::string(e.what()).find("same name") != std::string::npos;
    });
    auto cut = bytes;
    cut.pop_back();
    BOOST_CHECK_THROW(tls::ticket_keyring::parse(cut, "k"), error);
}

BOOST_FIXTURE_TEST_CASE(a_ticket_key_file_others_can_read_is_refused_like_a_private_key,
                        t::service_fixture) {
    auto svc = make();
    svc.start();
    tls::ticket_keys keys;
    keys.sync(svc);
    auto tickets = dir / ("Certificates/Keys/" FCS_DEFAULT_CERT_NAME ".tickets");
    BOOST_TEST_REQUIRE(t::mode_of(tickets) == 0600u);
    ::chmod(tickets.c_str(), 0644);
    try {
        keys.sync(svc);
        BOOST_FAIL("used session-ticket keys that everyone can read");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::unsafe_file));
        BOOST_TEST(std::string(e.what()).find(".tickets: read: permissions 0644 are too open") !=
                       std::string::npos,
                   e.what());
    }
    BOOST_TEST(t::mode_of(tickets) == 0644u); // left for the admin, not rewritten
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

BOOST_FIXTURE_TEST_CASE(two_servers_rotating_at_once_end_with_one_keyring, t::service_fixture) {
    // Server A reads the keyring, rotates, and is about to write; server B's rotation lands
    // first. A must not overwrite it (B's tickets would stop resuming anywhere): A's write is a
    // compare-and-swap, A loses, reads again and adopts B's keyring.
    racing_storage st(dir.path());
    auto hook = st.before_ticket_commit;
    racing_service a(opts, std::move(st), acl::posix{}, log, clock);
    a.start();
    auto b = make();
    b.start();
    tls::ticket_keys keys_a, keys_b;
    *hook = [&] { BOOST_TEST(keys_b.sync(b)); }; // B makes and stores its keyring first
    BOOST_TEST(!keys_a.sync(a));                 // A lost: it stored nothing
    BOOST_TEST(!*hook);                          // (the race did happen)
    BOOST_TEST(key_names(keys_a) == key_names(keys_b));
    BOOST_TEST(key_names(keys_a).size() == 1u);
    auto stored = t::read_text(dir / "Certificates/Keys/" FCS_DEFAULT_CERT_NAME ".tickets");
    BOOST_TEST(std::string(fcs::as_text(keys_b.current()->serialize())) == stored);
    // The same at the next rotation, twelve hours on: one new key, B's.
    clock.advance(12h);
    *hook = [&] { BOOST_TEST(keys_b.sync(b)); };
    BOOST_TEST(!keys_a.sync(a));
    BOOST_TEST(key_names(keys_a) == key_names(keys_b));
    BOOST_TEST(key_names(keys_a).size() == 2u);
    // Without a competitor, A rotates and B adopts A's keyring.
    clock.advance(12h);
    BOOST_TEST(keys_a.sync(a));
    BOOST_TEST(!keys_b.sync(b));
    BOOST_TEST(key_names(keys_a) == key_names(keys_b));
}

BOOST_AUTO_TEST_CASE(a_commit_whose_expectation_no_longer_holds_changes_nothing) {
    // Each storage checks the expectation atomically with the write.
    t::temp_dir dir;
    t::dir_storage disk(dir.path());
    storage::memory mem;
    disk.open(acl::posix{}.rules());
    mem.open(acl::none{}.rules());
    auto put = [](auto& s, const std::string& text, std::optional<std::string> expected) {
        change_set cs;
        cs.archive_tag = "20261123T000000Z";
        if (expected)
            cs.expects.push_back(
                {"n", part::ticket_keys, secret_bytes(expected->begin(), expected->end())});
        else
            cs.expects.push_back({"n", part::ticket_keys, std::nullopt});
        cs.puts.push_back({"n", part::ticket_keys, secret_bytes(text.begin(), text.end()), false});
        s.commit(cs);
    };
    auto stored = [](auto& s) {
        auto item = s.read("n", part::ticket_keys);
        return item ? std::string(fcs::as_text(item->data)) : std::string("(none)");
    };
    auto conflict = [](const error& e) { return e.fcs_code() == errc::conflict; };
    put(disk, "one", std::nullopt);
    put(mem, "one", std::nullopt);
    BOOST_CHECK_EXCEPTION(put(disk, "two", std::nullopt), error, conflict); // not absent now
    BOOST_CHECK_EXCEPTION(put(mem, "two", std::nullopt), error, conflict);
    BOOST_CHECK_EXCEPTION(put(disk, "two", "zero"), error, conflict); // not what was read
    BOOST_CHECK_EXCEPTION(put(mem, "two", "zero"), error, conflict);
    BOOST_TEST(stored(disk) == "one");
    BOOST_TEST(stored(mem) == "one");
    put(disk, "two", "one");
    put(mem, "two", "one");
    BOOST_TEST(stored(disk) == "two");
    BOOST_TEST(stored(mem) == "two");
    // The refused commits left no temporary file behind.
    for (auto& e : std::filesystem::directory_iterator(dir / "Certificates/Keys"))
        BOOST_TEST(e.path().filename().string() == "n.tickets");
}

BOOST_AUTO_TEST_SUITE_END()
