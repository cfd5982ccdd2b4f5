#include "support/key_leak.hpp"
#include "support/service.hpp"

#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
namespace t = fcs::test;
using lv = policy::level;

struct file_id {
    ino_t ino;
    std::int64_t mtime_ns;
    bool operator==(const file_id&) const = default;
};
file_id id_of(const std::filesystem::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return {st.st_ino, std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}
} // namespace

BOOST_AUTO_TEST_SUITE(lifecycle)

// Rule 1
BOOST_FIXTURE_TEST_CASE(first_start_generates_a_self_signed_pair_valid_15_years,
                        t::service_fixture) {
    clock.set(std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + 10h);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(std::filesystem::exists(cert()));
    BOOST_TEST(std::filesystem::exists(key()));
    BOOST_TEST(t::mode_of(dir / "Certificates") == 0755u);
    BOOST_TEST(t::mode_of(cert()) == 0644u);
    BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0700u);
    BOOST_TEST(t::mode_of(key()) == 0600u);
    BOOST_TEST(t::mode_of(dir / "Certificates/Archive") == 0700u);
    auto& st = r.status;
    BOOST_TEST(st.info.self_signed);
    BOOST_TEST((st.origin == origin::generated));
    BOOST_TEST((st.state == cert_state::valid));
    BOOST_TEST((st.info.not_before == clock.now()));
    BOOST_TEST(
        (st.info.not_after == std::chrono::sys_days{std::chrono::year{2041} / 11 / 23} + 10h));
    BOOST_TEST(st.days_remaining == 5479);
    BOOST_TEST((std::find(st.info.sans.begin(), st.info.sans.end(), "DNS:localhost") !=
                st.info.sans.end()));
    BOOST_TEST((std::find(st.info.sans.begin(), st.info.sans.end(), "IP:127.0.0.1") !=
                st.info.sans.end()));
    BOOST_TEST(log.count(lv::info, "generated a new self-signed certificate") == 1u);
    BOOST_TEST(log.count(lv::info, st.info.sha256_fingerprint) == 1u);
    // The files on disk are what the status says, checked with openssl.
    auto fp = t::run("openssl x509 -in " + cert().string() + " -noout -fingerprint -sha256");
    BOOST_TEST(fp.output.find(st.info.sha256_fingerprint) != std::string::npos, fp.output);
    auto match =
        t::run("test \"$(openssl x509 -in " + cert().string() +
               " -noout -pubkey)\" = \"$(openssl pkey -in " + key().string() + " -pubout)\"");
    BOOST_TEST(match.exit_code == 0);
}

BOOST_FIXTURE_TEST_CASE(restart_keeps_the_same_certificate_and_does_not_rewrite_the_files,
                        t::service_fixture) {
    std::string fp;
    {
        auto svc = make();
        fp = svc.start().status.info.sha256_fingerprint;
    }
    auto cert_before = id_of(cert()), key_before = id_of(key());
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint == fp);
    BOOST_TEST((id_of(cert()) == cert_before));
    BOOST_TEST((id_of(key()) == key_before));
    BOOST_TEST(archive().empty());
}

// Rule 2
BOOST_FIXTURE_TEST_CASE(archives_a_certificate_without_its_key_and_regenerates,
                        t::service_fixture) {
    std::string old_fp;
    {
        auto svc = make();
        old_fp = svc.start().status.info.sha256_fingerprint;
    }
    std::filesystem::remove(key());
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint != old_fp);
    BOOST_REQUIRE(archive().size() == 2u); // the certificate and its origin record
    BOOST_TEST(archive()[0].ends_with(".crt"));
    BOOST_TEST(archive()[1].ends_with(".meta"));
    BOOST_TEST(log.count(lv::warning, "moved to the archive: certificate without a private key") ==
               1u);
}

BOOST_FIXTURE_TEST_CASE(archives_a_key_without_its_certificate, t::service_fixture) {
    keys_folder();
    t::write_text(dir / "Certificates/Keys/Orphan.key", "whatever", 0600);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_REQUIRE(r.archived.size() == 1u);
    BOOST_TEST(r.archived[0] == "Certificates/Keys/Orphan.key");
    BOOST_TEST(log.count(lv::warning, "Certificates/Keys/Orphan.key: moved to the archive: private "
                                      "key without a certificate") == 1u);
    BOOST_TEST(archive().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(archives_an_unparseable_certificate_with_its_key_and_regenerates,
                        t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    auto key_bytes = t::read_text(key());
    t::write_text(cert(), "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644); // truncated
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.archived.size() == 2u);
    BOOST_TEST(log.count(lv::warning, "malformed or truncated PEM") == 2u);
    // Kept, never deleted: the archived key is the old key, byte for byte, still 0600.
    auto a = archive();
    auto k = std::find_if(a.begin(), a.end(), [](auto& n) { return n.ends_with(".key"); });
    BOOST_REQUIRE(k != a.end());
    BOOST_TEST(t::read_text(dir / "Certificates/Archive" / *k) == key_bytes);
    BOOST_TEST(t::mode_of(dir / "Certificates/Archive" / *k) == 0600u);
}

BOOST_FIXTURE_TEST_CASE(archives_a_mismatched_pair_and_regenerates, t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    crypto::boringssl c;
    t::write_text(key(), as_text(c.encode(c.generate_key(key_type::ec_p256), encoding::pem)), 0600);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.archived.size() == 2u);
    BOOST_TEST(log.count(lv::warning, "the private key does not match the certificate") == 2u);
    BOOST_TEST(svc.crypto().matches(svc.current()->chain[0], svc.current()->key));
}

// Rule 3: dates are findings. Boundaries at +-1 second with an injected clock.
BOOST_FIXTURE_TEST_CASE(warns_inside_30_days_and_errs_once_expired_but_keeps_serving,
                        t::service_fixture) {
    auto t0 = std::chrono::floor<std::chrono::seconds>(clock.now());
    std::string fp;
    time_point not_after;
    {
        auto svc = make();
        auto st = svc.start().status;
        fp = st.info.sha256_fingerprint;
        not_after = st.info.not_after;
    }
    BOOST_TEST((not_after - t0 > std::chrono::days(5000)));
    struct step {
        std::chrono::seconds before_end;
        cert_state state;
        std::size_t warnings, errors;
    };
    const step steps[] = {
        {std::chrono::days(30) + 1s, cert_state::valid, 0, 0},
        {std::chrono::days(30), cert_state::expiring, 1, 0},
        {std::chrono::days(30) - 1s, cert_state::expiring, 1, 0},
        {1s, cert_state::expiring, 1, 0},
        {0s, cert_state::expiring, 1, 0}, // notAfter itself is still inside the validity period
        {-1s, cert_state::expired, 0, 1},
        {-std::chrono::days(400), cert_state::expired, 0, 1},
    };
    for (auto& s : steps) {
        BOOST_TEST_CONTEXT("seconds before notAfter: " << s.before_end.count()) {
            clock.set(not_after - s.before_end);
            log.clear();
            auto svc = make();
            auto r = svc.start();
            BOOST_TEST((r.status.state == s.state));
            BOOST_TEST(!r.generated);
            BOOST_TEST(r.status.info.sha256_fingerprint == fp); // keeps using it
            BOOST_TEST(log.count(lv::warning, "expires in") == s.warnings);
            BOOST_TEST(log.count(lv::error, "expired on") == s.errors);
            if (s.state == cert_state::expired)
                BOOST_TEST(log.count(lv::error, "still used until it is replaced") == 1u);
        }
    }
    // recheck() logs the finding again while running (the server calls it daily).
    clock.set(not_after - std::chrono::days(3));
    auto svc = make();
    svc.start();
    log.clear();
    BOOST_TEST((svc.recheck().state == cert_state::expiring));
    BOOST_TEST(log.count(lv::warning, "expires in 2 days") +
                   log.count(lv::warning, "expires in 3 days") ==
               1u);
}

BOOST_FIXTURE_TEST_CASE(a_not_yet_valid_certificate_is_an_error_but_kept, t::service_fixture) {
    time_point not_before;
    {
        auto svc = make();
        not_before = svc.start().status.info.not_before;
    }
    clock.set(not_before - 1s);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(!r.generated);
    BOOST_TEST((r.status.state == cert_state::not_yet_valid));
    BOOST_TEST(log.count(lv::error, "is not valid before") == 1u);
    clock.set(not_before);
    BOOST_TEST((svc.status().state == cert_state::valid));
}

// Rule 4: the admin's replacement procedure.
BOOST_FIXTURE_TEST_CASE(admin_replacement_with_the_old_certificate_deleted_is_served_after_restart,
                        t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    auto ca = t::openssl_ca_issued(dir / "work", "failover.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    std::filesystem::remove(cert());
    t::write_text(dir / "Certificates/MyCertificate.crt", ca.cert, 0644);
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", ca.key, 0600);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.name == "MyCertificate");
    BOOST_TEST(r.status.info.subject == "CN=failover.example");
    BOOST_TEST(r.status.info.issuer == "CN=Test Root CA");
    BOOST_TEST((r.status.origin == origin::installed));
    // The orphaned generated key was archived, not deleted.
    BOOST_TEST(r.archived ==
               std::vector<std::string>{"Certificates/Keys/" FCS_DEFAULT_CERT_NAME ".key"});
}

BOOST_FIXTURE_TEST_CASE(a_forgotten_old_certificate_loses_to_the_ca_issued_pair_and_we_say_why,
                        t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    auto ca = t::openssl_ca_issued(dir / "work", "failover.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    t::write_text(dir / "Certificates/MyCertificate.crt", ca.cert, 0644);
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", ca.key, 0600);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.status.name == "MyCertificate");
    BOOST_TEST(log.count(lv::warning,
                         "using Certificates/MyCertificate.crt (issued by CN=Test Root CA") == 1u);
    BOOST_TEST(log.count(lv::warning,
                         "a CA-issued certificate is preferred over a self-signed one") == 1u);
    BOOST_TEST(log.count(lv::warning, "not used: Certificates/" FCS_DEFAULT_CERT_NAME
                                      ".crt (self-signed") == 1u);
    BOOST_TEST(r.archived.empty()); // both pairs are valid: nothing is moved
    // Reloads (each folder event) do not repeat the warning while nothing changes...
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(svc.reload().message == "unchanged");
    BOOST_TEST(log.count(lv::warning, "several valid certificate pairs") == 1u);
    // ...but say it again once the situation has changed and come back.
    auto aside = dir / "MyCertificate.crt.aside";
    std::filesystem::rename(dir / "Certificates/MyCertificate.crt", aside);
    std::filesystem::rename(dir / "Certificates/Keys/MyCertificate.key", dir / "key.aside");
    BOOST_TEST(svc.reload().changed); // back to the generated pair, alone
    BOOST_TEST(log.count(lv::warning, "several valid certificate pairs") == 1u);
    std::filesystem::rename(aside, dir / "Certificates/MyCertificate.crt");
    std::filesystem::rename(dir / "key.aside", dir / "Certificates/Keys/MyCertificate.key");
    BOOST_TEST(svc.reload().changed);
    BOOST_TEST(log.count(lv::warning, "several valid certificate pairs") == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_password_protected_key_is_refused_and_left_in_place, t::service_fixture) {
    keys_folder();
    auto ca = t::openssl_ca_issued(dir / "work", "failover.example");
    clock.set(std::chrono::system_clock::now()); // after openssl stamped notBefore
    auto enc =
        t::run("openssl pkey -in " + (dir / "work/leaf.key").string() + " -aes256 -passout pass:x");
    BOOST_REQUIRE(enc.exit_code == 0);
    t::write_text(dir / "Certificates/MyCertificate.crt", ca.cert, 0644);
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", enc.output, 0600);
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(log.count(lv::error,
                         "Certificates/Keys/MyCertificate.key: key is password-protected; the "
                         "failover service needs an unprotected key") == 1u);
    BOOST_TEST(std::filesystem::exists(dir / "Certificates/MyCertificate.crt"));
    BOOST_TEST(t::read_text(dir / "Certificates/Keys/MyCertificate.key") == enc.output);
    BOOST_TEST(archive().empty());
    // The service still has a certificate to serve meanwhile.
    BOOST_TEST(r.generated);
    BOOST_TEST(r.status.name == FCS_DEFAULT_CERT_NAME);
    // Once the admin puts the unprotected key there, a restart uses the CA-issued pair.
    t::write_text(dir / "Certificates/Keys/MyCertificate.key", ca.key, 0600);
    auto svc2 = make();
    BOOST_TEST(svc2.start().status.name == "MyCertificate");
}

BOOST_FIXTURE_TEST_CASE(a_key_file_that_is_too_open_is_refused_unless_repair_is_configured,
                        t::service_fixture) {
    std::string fp;
    {
        auto svc = make();
        fp = svc.start().status.info.sha256_fingerprint;
    }
    ::chmod(key().c_str(), 0644);
    {
        auto svc = make();
        BOOST_CHECK_THROW(svc.start(), error); // the only pair is unusable and holds the name
        BOOST_TEST(log.count(lv::error, "permissions 0644 are too open") == 1u);
        BOOST_TEST(t::mode_of(key()) == 0644u);
    }
    opts.repair_permissions = true;
    auto svc = make();
    auto r = svc.start();
    BOOST_TEST(r.status.info.sha256_fingerprint == fp);
    BOOST_TEST(t::mode_of(key()) == 0600u);
    BOOST_TEST(log.count(lv::warning, "repaired as configured") == 1u);
}

BOOST_FIXTURE_TEST_CASE(no_key_bytes_ever_reach_the_log, t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    t::write_text(
        key(),
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END "
        "PRIVATE KEY-----\n",
        0600);
    auto svc = make();
    svc.start();
    auto real_key = t::read_text(key());
    auto secret = t::key_secret::of(real_key);
    // The oracle sees the scalar where it is (the PEM holds it in base64) ...
    BOOST_TEST(!secret.found_in(real_key).empty());
    // ... and the log holds it in no form, nor any PEM armour.
    BOOST_TEST(log.entries().size() >= 3u); // archived, generated, ...: the log was written
    for (auto& e : log.entries()) {
        BOOST_TEST(secret.found_in(e.message).empty(), e.message);
        BOOST_TEST(e.message.find("PRIVATE KEY-----") == std::string::npos);
    }
}

namespace {
/// A folder storage whose first archiving commit is preceded by another process's commit (an
/// admin's `replace` landing while the service starts).
struct racing_storage : t::dir_storage {
    using t::dir_storage::dir_storage;
    std::shared_ptr<std::function<void()>> before_archive =
        std::make_shared<std::function<void()>>();
    void commit(const change_set& c) {
        if (!c.archives.empty() && *before_archive)
            std::exchange(*before_archive, {})();
        t::dir_storage::commit(c);
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(start_never_archives_a_pair_another_process_committed_meanwhile,
                        t::service_fixture) {
    keys_folder();
    ::chmod((dir / "Certificates").c_str(), 0755);
    t::write_text(cert("A"), "not a certificate", 0644);
    t::write_text(key("A"), "not a key", 0600);
    auto good = t::openssl_ca_issued(dir / "work");
    racing_storage storage(dir.path());
    auto hook = storage.before_archive;
    *hook = [&] {
        // The other process: its own storage object on the same folder, its own commit.
        t::dir_storage other(dir.path());
        other.open(acl::posix{}.rules());
        change_set c;
        c.archive_tag = "20260101T000000Z";
        c.puts.push_back({"A", part::certificate, to_secret(good.cert)});
        c.puts.push_back({"A", part::private_key, to_secret(good.key)});
        other.commit(c);
    };
    FailoverCertService<racing_storage, acl::posix, log::memory, t::manual_clock> svc(
        opts, std::move(storage), acl::posix{}, log, clock);
    auto r = svc.start();
    BOOST_TEST(!*hook); // the race happened
    BOOST_TEST(r.status.name == "A");
    BOOST_TEST(r.status.info.issuer.find("Test Root CA") != std::string::npos,
               r.status.info.issuer);
    BOOST_TEST(t::read_text(cert("A")) == good.cert);
    BOOST_TEST(log.count(lv::info, "the storage changed while it was checked") == 1u);
    // The garbage went to the archive as a backup of the other commit, the good pair nowhere.
    for (auto& a : archive())
        BOOST_TEST(
            t::read_text(dir / "Certificates/Archive" / a).find("BEGIN") == std::string::npos, a);
}

BOOST_FIXTURE_TEST_CASE(inspect_reports_without_creating_repairing_replaying_or_archiving,
                        t::service_fixture) {
    std::string fp;
    {
        auto svc = make();
        fp = svc.start().status.info.sha256_fingerprint;
    }
    // A broken second pair, a too-open key folder, a key too open, and a pending change.
    t::write_text(cert("B"), "not a certificate", 0644);
    t::write_text(key("B"), "not a key", 0600);
    ::chmod((dir / "Certificates/Keys").c_str(), 0750);
    t::write_text(dir / "Certificates/.fcs-tmp-1", "x", 0644);
    t::write_text(dir / "Certificates/.fcs-journal",
                  "fcs-journal 1\nR\tCertificates\t.fcs-tmp-1\tCertificates\tC.crt\nend\n", 0600);
    auto before = t::snapshot(dir.path());
    log.clear();
    opts.repair_permissions = true; // even so: inspect repairs nothing
    auto svc = make();
    auto r = svc.inspect();
    BOOST_REQUIRE(r.status);
    BOOST_TEST(r.status->info.sha256_fingerprint == fp);
    auto has = [&](std::string_view text) {
        return std::any_of(r.findings.begin(), r.findings.end(), [&](auto& f) {
            return (f.location + f.message).find(text) != std::string::npos;
        });
    };
    BOOST_TEST(has("a change was interrupted"));
    BOOST_TEST(has("Certificates/B.crt"));
    BOOST_TEST(has("the next start moves it to the archive"));
    BOOST_TEST(t::snapshot(dir.path()) == before);
    BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0750u);
    BOOST_TEST(log.entries().empty());
    BOOST_TEST(!svc.current()); // nothing published
    // A data folder that is not there is not made.
    service_fixture other;
    auto missing =
        t::failover_service(opts, t::dir_storage(other.dir / "none"), acl::posix{}, log, clock);
    BOOST_CHECK_THROW(missing.inspect(), error);
    BOOST_TEST(!std::filesystem::exists(other.dir / "none"));
}

BOOST_FIXTURE_TEST_CASE(a_host_name_that_is_not_a_dns_name_stays_out_of_the_sans,
                        t::service_fixture) {
    // The first start on a machine called "my_box": in a child with its own UTS namespace.
    BOOST_TEST_REQUIRE(::geteuid() == 0u, "the test renames the host in a namespace: root");
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int rc = 1;
        if (::unshare(CLONE_NEWUTS) == 0 && ::sethostname("my_box", 6) == 0) {
            try {
                make().start();
                rc = 0;
            } catch (...) {
                rc = 2;
            }
        }
        ::_exit(rc);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    BOOST_TEST_REQUIRE(WIFEXITED(st));
    BOOST_TEST_REQUIRE(WEXITSTATUS(st) == 0, "start() failed on host my_box");
    auto txt = t::run("openssl x509 -in " + cert().string() + " -noout -text");
    BOOST_TEST(txt.output.find("CN = my_box") != std::string::npos, txt.output);
    BOOST_TEST(txt.output.find("DNS:localhost") != std::string::npos, txt.output);
    BOOST_TEST(txt.output.find("DNS:my_box") == std::string::npos, txt.output);
}

BOOST_AUTO_TEST_CASE(memory_storage_runs_the_same_lifecycle) {
    log::memory mem;
    t::manual_clock clk;
    FailoverCertService<storage::memory, acl::none, log::memory, t::manual_clock> svc(
        {}, storage::memory{}, acl::none{}, mem, clk);
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(svc.storage().read(FCS_DEFAULT_CERT_NAME, part::private_key).has_value());
    auto fp = r.status.info.sha256_fingerprint;
    BOOST_TEST(svc.start().status.info.sha256_fingerprint == fp);
}

BOOST_FIXTURE_TEST_CASE(group_ca_profile_generates_a_ca_certificate, t::service_fixture) {
    using group_service = FailoverCertService<storage::directory<storage::server_group_layout>,
                                              acl::posix, log::memory, t::manual_clock>;
    service_options o;
    o.profile = profile_kind::group_ca;
    o.key = key_type::ec_p384;
    o.name = "ServerGroup";
    group_service svc(o, storage::directory<storage::server_group_layout>(dir.path()), acl::posix{},
                      log, clock);
    auto r = svc.start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.status.info.is_ca);
    auto der = dir / "Certificates/ServerGroup/ServerGroupCertificate.cer";
    auto txt = t::run("openssl x509 -inform DER -in " + der.string() + " -noout -text");
    BOOST_TEST(txt.output.find("CA:TRUE") != std::string::npos, txt.output);
    BOOST_TEST(txt.output.find("Certificate Sign, CRL Sign") != std::string::npos, txt.output);
    BOOST_TEST(t::mode_of(dir / "Certificates/ServerGroup/ServerGroupPrivateKey.bin") == 0600u);
    auto k =
        t::run("openssl pkey -inform DER -in " +
               (dir / "Certificates/ServerGroup/ServerGroupPrivateKey.bin").string() + " -noout");
    BOOST_TEST(k.exit_code == 0, k.output);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle_permissions)

BOOST_FIXTURE_TEST_CASE(a_keys_folder_that_is_too_open_is_refused_unless_repair_is_configured,
                        t::service_fixture) {
    std::string fp;
    {
        auto svc = make();
        fp = svc.start().status.info.sha256_fingerprint;
    }
    ::chmod((dir / "Certificates/Keys").c_str(), 0755);
    try {
        make().start();
        BOOST_FAIL("used a key folder readable by everyone");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::unsafe_file));
        BOOST_TEST(std::string(e.what()).find("Certificates/Keys: check folder: permissions 0755 "
                                              "are too open; it must be 0700") == 0u,
                   e.what());
    }
    BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0755u); // untouched without the option
    opts.repair_permissions = true;
    auto svc = make();
    BOOST_TEST(svc.start().status.info.sha256_fingerprint == fp);
    BOOST_TEST(t::mode_of(dir / "Certificates/Keys") == 0700u);
    BOOST_TEST(log.count(lv::warning, "Certificates/Keys: folder mode 0755 set to 0700") == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_hard_link_planted_in_keys_is_refused_even_with_repair,
                        t::service_fixture) {
    {
        auto svc = make();
        svc.start();
    }
    std::filesystem::create_hard_link(key(), dir / "stolen.key");
    opts.repair_permissions = true; // a chmod cannot take the second name away
    try {
        make().start(); // the only pair is unusable and holds the name
        BOOST_FAIL("used a key with a second name");
    } catch (const error&) {
    }
    BOOST_TEST(log.count(lv::error, "hard links") == 1u);
    BOOST_TEST(log.count(lv::warning, "repaired") == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_key_owned_by_another_account_is_refused_even_with_repair,
                        t::service_fixture) {
    BOOST_TEST_REQUIRE(::geteuid() == 0u, "the test gives a file away: it runs as root");
    {
        auto svc = make();
        svc.start();
    }
    BOOST_TEST_REQUIRE(::chown(key().c_str(), 12345, 12345) == 0);
    ::chmod(key().c_str(), 0640); // too open as well: repair would have set the mode
    opts.repair_permissions = true;
    BOOST_CHECK_THROW(make().start(), error);
    BOOST_TEST(log.count(lv::error, "owned by uid 12345") == 1u);
    BOOST_TEST(log.count(lv::warning, "repaired") == 0u);
    BOOST_TEST(t::mode_of(key()) == 0640u); // not touched
}

BOOST_FIXTURE_TEST_CASE(a_data_folder_others_may_write_is_refused, t::service_fixture) {
    ::chmod(dir.path().c_str(), 0777);
    try {
        make().start();
        BOOST_FAIL("used a data folder anyone can write");
    } catch (const error& e) {
        BOOST_TEST((e.fcs_code() == errc::unsafe_file));
        BOOST_TEST(std::string(e.what()).find("let group or others write it") != std::string::npos,
                   e.what());
    }
    BOOST_TEST(!std::filesystem::exists(dir / "Certificates")); // nothing was made there
}

BOOST_FIXTURE_TEST_CASE(a_layout_folder_owned_by_another_account_is_refused, t::service_fixture) {
    BOOST_TEST_REQUIRE(::geteuid() == 0u, "the test gives a folder away: it runs as root");
    keys_folder();
    BOOST_TEST_REQUIRE(::chown((dir / "Certificates/Keys").c_str(), 12345, 12345) == 0);
    try {
        make().start();
        BOOST_FAIL("used a key folder another account owns");
    } catch (const error& e) {
        BOOST_TEST(std::string(e.what()).find("Certificates/Keys: check folder: owned by uid "
                                              "12345") == 0u,
                   e.what());
    }
    BOOST_TEST(!std::filesystem::exists(key()));
}

BOOST_FIXTURE_TEST_CASE(the_data_folder_is_made_with_mode_0755_whatever_the_umask,
                        t::service_fixture) {
    for (mode_t mask : {mode_t(0), mode_t(077), mode_t(027)}) {
        auto root = dir / ("data-" + std::to_string(mask));
        mode_t old = ::umask(mask);
        { t::failover_service(opts, t::dir_storage(root), acl::posix{}, log, clock).start(); }
        ::umask(old);
        BOOST_TEST(t::mode_of(root) == 0755u, "umask " << mask);
    }
}

BOOST_AUTO_TEST_SUITE_END()
