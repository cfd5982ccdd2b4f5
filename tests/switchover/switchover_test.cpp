#define BOOST_TEST_MODULE fcs_switchover
#include <boost/test/unit_test.hpp>

#include <fcs/switchover.hpp> // first: the header is self-contained

#include "support/san.hpp"
#include "support/support.hpp"

#include <map>

using namespace fcs;
using namespace fcs::test;

namespace {

using group_storage = storage::directory<storage::server_group_layout>;
using group_service = FailoverCertService<group_storage, acl::posix, log::memory, manual_clock>;

const std::string cert_rel = "Certificates/ServerGroup/ServerGroupCertificate.cer";
const std::string key_rel = "Certificates/ServerGroup/ServerGroupPrivateKey.bin";

struct group_fixture {
    temp_dir dir;
    log::memory log;
    manual_clock clock;

    group_service make(const fs::path& data, bool generate = true) {
        service_options o;
        o.name = std::string(storage::server_group_layout::slot);
        o.profile = profile_kind::group_ca;
        o.generate_when_missing = generate;
        return group_service(o, group_storage(data), acl::posix{}, log, clock);
    }
    /// Every file below DATA/Certificates with its bytes.
    static std::map<std::string, std::string> snapshot(const fs::path& data) {
        return fcs::test::snapshot(data / "Certificates", data);
    }
};

std::string openssl_fingerprint(const fs::path& pem) {
    auto r = run("openssl x509 -in " + shell_quote(pem.string()) + " -noout -fingerprint -sha256");
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    auto eq = r.output.find('=');
    return r.output.substr(eq + 1, r.output.find_last_not_of("\r\n") - eq);
}

/// A certificate request made with BoringSSL, so a subjectAltName can hold any bytes a
/// hostile requester chooses: `dns` and `uris` as given, `ips` as raw octets.
void write_csr(const fs::path& file, const std::string& cn, const std::vector<std::string>& dns,
               const std::vector<std::string>& ips = {},
               const std::vector<std::string>& uris = {}) {
    crypto::boringssl c;
    auto key = c.generate_key(key_type::ec_p256);
    bssl::UniquePtr<X509_REQ> req(X509_REQ_new());
    BOOST_REQUIRE(req && X509_REQ_set_version(req.get(), X509_REQ_VERSION_1));
    BOOST_REQUIRE(
        X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const std::uint8_t*>(cn.c_str()), -1, -1, 0));
    bssl::UniquePtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
    auto add = [&](int type, const std::string& value) {
        bssl::UniquePtr<GENERAL_NAME> gn(GENERAL_NAME_new());
        bssl::UniquePtr<ASN1_STRING> str(type == GEN_IPADD ? ASN1_OCTET_STRING_new()
                                                           : ASN1_IA5STRING_new());
        BOOST_REQUIRE(gn && str && ASN1_STRING_set(str.get(), value.data(), value.size()));
        GENERAL_NAME_set0_value(gn.get(), type, str.release());
        BOOST_REQUIRE(bssl::PushToStack(names.get(), std::move(gn)));
    };
    for (auto& d : dns)
        add(GEN_DNS, d);
    for (auto& i : ips)
        add(GEN_IPADD, i);
    for (auto& u : uris)
        add(GEN_URI, u);
    STACK_OF(X509_EXTENSION)* raw = nullptr;
    BOOST_REQUIRE(X509V3_add1_i2d(&raw, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT));
    bssl::UniquePtr<STACK_OF(X509_EXTENSION)> exts(raw);
    BOOST_REQUIRE(X509_REQ_add_extensions(req.get(), exts.get()));
    BOOST_REQUIRE(X509_REQ_set_pubkey(req.get(), key.get()));
    BOOST_REQUIRE(X509_REQ_sign(req.get(), key.get(), EVP_sha256()));
    std::uint8_t* der = nullptr;
    int len = i2d_X509_REQ(req.get(), &der);
    BOOST_REQUIRE(len > 0);
    bssl::UniquePtr<std::uint8_t> owner(der);
    write_text(file,
               std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
}

/// Every GeneralName of a PEM certificate's subjectAltName, read with BoringSSL directly (not
/// through describe()): "DNS:x", "IP:" + octets in hex, "URI:x" or "type N".
std::vector<std::string> san_entries(const fs::path& pem) {
    crypto::boringssl c;
    auto text = read_text(pem);
    auto chain = c.parse_certificates(as_bytes(text), pem.string());
    return fcs::test::san_entries(chain.front().get());
}

const std::string injected = "a.example,URI:spiffe://corp/admin,IP:10.0.0.1";

} // namespace

BOOST_AUTO_TEST_SUITE(switchover_import)

BOOST_FIXTURE_TEST_CASE(imports_over_existing_pair_backs_it_up_and_reports_each_step,
                        group_fixture) {
    auto pair = openssl_ca_issued(dir / "in");
    auto svc = make(dir / "data");
    svc.start();
    auto old = snapshot(dir / "data");
    std::vector<std::string> steps;
    switchover::import_source src;
    src.cert_file = dir / "in/leaf.crt";
    src.key_file = dir / "in/leaf.key";
    auto r = switchover::import_pair(svc, src, nullptr,
                                     [&](switchover::import_step s, const std::string&) {
                                         steps.push_back(switchover::to_string(s));
                                     });
    BOOST_TEST(!r.already_present);
    BOOST_TEST((steps == std::vector<std::string>{"validate", "stage", "back up", "commit"}));
    BOOST_TEST(r.status.info.sha256_fingerprint == openssl_fingerprint(dir / "in/leaf.crt"));
    BOOST_TEST(std::string(to_string(r.status.origin)) == "imported");
    BOOST_TEST(std::string(to_string(svc.current()->origin)) == "imported");
    BOOST_REQUIRE(!r.backup_folder.empty());
    BOOST_TEST(read_text(dir / "data" / r.backup_folder / "ServerGroupCertificate.cer") ==
               old[cert_rel]);
    BOOST_TEST(read_text(dir / "data" / r.backup_folder / "ServerGroupPrivateKey.bin") ==
               old[key_rel]);
    BOOST_TEST(mode_of(dir / "data" / key_rel) == 0600u);
}

BOOST_FIXTURE_TEST_CASE(identical_pair_is_already_present_and_changes_nothing, group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    auto exported = switchover::export_to(svc, dir / "usb");
    auto before = snapshot(dir / "data");
    switchover::import_source src;
    src.cert_file = exported.certificate;
    src.key_file = exported.key;
    auto r = switchover::import_pair(svc, src, nullptr);
    BOOST_TEST(r.already_present);
    BOOST_TEST((snapshot(dir / "data") == before));
}

BOOST_FIXTURE_TEST_CASE(refused_inputs_leave_files_byte_identical_and_are_logged, group_fixture) {
    auto a = openssl_ca_issued(dir / "a", "a.example");
    auto b = openssl_ca_issued(dir / "b", "b.example");
    auto svc = make(dir / "data");
    svc.start();
    auto before = snapshot(dir / "data");
    auto refuse = [&](switchover::import_source src, errc want, const secret_bytes* pw = nullptr) {
        try {
            switchover::import_pair(svc, src, pw);
            BOOST_ERROR("import of " + src.cert_file.string() + src.bundle_file.string() +
                        " was accepted");
        } catch (const error& e) {
            BOOST_TEST(static_cast<int>(e.fcs_code()) == static_cast<int>(want), e.what());
            BOOST_TEST(!e.file().empty(), e.what());
        }
        BOOST_TEST((snapshot(dir / "data") == before));
    };
    switchover::import_source mismatch;
    mismatch.cert_file = dir / "a/leaf.crt";
    mismatch.key_file = dir / "b/leaf.key";
    refuse(mismatch, errc::key_mismatch);
    write_text(dir / "empty.pem", "");
    switchover::import_source empty;
    empty.bundle_file = dir / "empty.pem";
    refuse(empty, errc::parse_failed);
    BOOST_REQUIRE_EQUAL(run("openssl pkcs12 -export -in " +
                            shell_quote((dir / "a/leaf.crt").string()) + " -inkey " +
                            shell_quote((dir / "a/leaf.key").string()) + " -passout pass:pw -out " +
                            shell_quote((dir / "a.p12").string()))
                            .exit_code,
                        0);
    switchover::import_source p12;
    p12.bundle_file = dir / "a.p12";
    auto wrong = to_secret("nope");
    refuse(p12, errc::wrong_password, &wrong);
    refuse(p12, errc::key_encrypted);
    BOOST_TEST(log.count(policy::level::warning, "import refused") == 4u);
    auto right = to_secret("pw");
    BOOST_TEST(!switchover::import_pair(svc, p12, &right).already_present);
}

BOOST_FIXTURE_TEST_CASE(expiry_is_judged_by_the_service_clock, group_fixture) {
    auto pair = openssl_ca_issued(dir / "in", "server.example", 30);
    auto svc = make(dir / "data");
    svc.start();
    auto before = snapshot(dir / "data");
    clock.advance(std::chrono::days(31));
    switchover::import_source src;
    src.cert_file = dir / "in/leaf.crt";
    src.key_file = dir / "in/leaf.key";
    BOOST_CHECK_EXCEPTION(switchover::import_pair(svc, src, nullptr), error,
                          [](const error& e) { return e.fcs_code() == errc::certificate_expired; });
    BOOST_TEST((snapshot(dir / "data") == before));
    clock.advance(-std::chrono::days(60));
    BOOST_CHECK_EXCEPTION(switchover::import_pair(svc, src, nullptr), error,
                          [](const error& e) { return e.fcs_code() == errc::not_yet_valid; });
    clock.advance(std::chrono::days(30));
    BOOST_TEST(!switchover::import_pair(svc, src, nullptr).already_present);
}

BOOST_FIXTURE_TEST_CASE(backup_server_imports_without_generating_a_pair_first, group_fixture) {
    auto pair = openssl_ca_issued(dir / "in");
    auto svc = make(dir / "data", false);
    auto report = svc.start();
    BOOST_TEST(!report.generated);
    BOOST_TEST(!svc.current());
    BOOST_TEST(!fs::exists(dir / "data" / cert_rel));
    switchover::import_source src;
    src.bundle_file = dir / "in/both.pem";
    write_text(src.bundle_file, pair.key + pair.cert + pair.ca_cert);
    auto r = switchover::import_pair(svc, src, nullptr);
    BOOST_TEST(r.previous_fingerprint.empty());
    BOOST_TEST(r.backup_folder.empty());
    BOOST_TEST(r.notes.size() == 1u); // the CA certificate of the chain is not stored
    BOOST_TEST(svc.storage().archive_entries().empty());
}

BOOST_FIXTURE_TEST_CASE(input_over_one_mib_is_refused_from_its_size, group_fixture) {
    { std::ofstream f(dir / "huge", std::ios::binary); }
    fs::resize_file(dir / "huge", std::uintmax_t(8) << 30); // sparse: reading it would take long
    auto t0 = std::chrono::steady_clock::now();
    BOOST_CHECK_EXCEPTION(switchover::read_input(dir / "huge"), error,
                          [](const error& e) { return e.fcs_code() == errc::too_large; });
    bool fast = std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1);
    BOOST_TEST(fast);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(switchover_export_verify)

BOOST_FIXTURE_TEST_CASE(export_is_tight_and_the_peer_verifies_identical, group_fixture) {
    auto active = make(dir / "active");
    active.start();
    auto r = switchover::export_to(active, dir / "usb");
    BOOST_TEST(mode_of(dir / "usb") == 0700u);
    BOOST_TEST(mode_of(r.key) == 0600u);
    BOOST_TEST(read_text(r.key) == read_text(dir / "active" / key_rel));
    BOOST_TEST(r.fingerprint == active.status().info.sha256_fingerprint);
    auto backup = make(dir / "backup", false);
    backup.start();
    switchover::import_source src;
    src.cert_file = r.certificate;
    src.key_file = r.key;
    switchover::import_pair(backup, src, nullptr);
    auto v = switchover::verify_identical(backup, dir / "active");
    BOOST_TEST(v.identical);
    BOOST_TEST(v.peer_fingerprint == r.fingerprint);
    BOOST_TEST(switchover::verify_identical(active, dir / "usb").identical);
}

BOOST_FIXTURE_TEST_CASE(verify_names_what_differs, group_fixture) {
    auto one = make(dir / "one");
    one.start();
    auto two = make(dir / "two");
    two.start();
    auto v = switchover::verify_identical(one, dir / "two");
    BOOST_TEST(!v.identical);
    BOOST_REQUIRE_EQUAL(v.differences.size(), 2u);
    BOOST_TEST(v.differences[0].find("certificate differs") != std::string::npos);
    BOOST_TEST(v.differences[1].find("private key differs") != std::string::npos);
    fs::remove(dir / "two" / key_rel);
    v = switchover::verify_identical(one, dir / "two");
    BOOST_TEST(v.differences.back().find("missing") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(switchover_issue)

BOOST_FIXTURE_TEST_CASE(child_verifies_against_the_group_certificate, group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    switchover::issue_request req;
    req.common_name = "sub.example";
    req.dns_names = {"sub.example"};
    req.out_dir = dir / "out";
    auto r = switchover::issue(svc, req);
    BOOST_TEST(mode_of(r.key) == 0600u);
    auto v =
        run("openssl verify -purpose sslserver -CAfile " + shell_quote(r.ca_certificate.string()) +
            " " + shell_quote(r.certificate.string()) +
            " && openssl verify -purpose sslclient -CAfile " +
            shell_quote(r.ca_certificate.string()) + " " + shell_quote(r.certificate.string()));
    BOOST_TEST(v.exit_code == 0, v.output);
    // Never overwrites.
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error,
                          [](const error& e) { return e.fcs_code() == errc::conflict; });
}

BOOST_FIXTURE_TEST_CASE(signs_a_request_only_when_its_signature_verifies, group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    auto q = [&](const char* f) { return shell_quote((dir / f).string()); };
    BOOST_REQUIRE_EQUAL(
        run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
            q("s.key") + " -out " + q("s.csr") +
            " -subj /CN=csr.example -addext subjectAltName=IP:10.9.8.7")
            .exit_code,
        0);
    switchover::issue_request req;
    req.csr_file = dir / "s.csr";
    req.out_dir = dir / "out";
    req.accept_csr_names = true;
    auto r = switchover::issue(svc, req);
    BOOST_TEST(r.key.empty());
    BOOST_TEST(r.info.subject.find("CN=csr.example") != std::string::npos);
    BOOST_TEST((r.info.sans == std::vector<std::string>{"IP:10.9.8.7"}));
    // The same request with one byte of its body changed no longer verifies.
    auto der = run("openssl req -in " + q("s.csr") + " -outform DER -out " + q("s.der")).exit_code;
    BOOST_REQUIRE_EQUAL(der, 0);
    auto bytes = read_text(dir / "s.der");
    auto at = bytes.find("csr.example"); // change the signed subject, keep the structure
    BOOST_REQUIRE(at != std::string::npos);
    bytes[at] = 'x';
    write_text(dir / "bad.der", bytes);
    req.csr_file = dir / "bad.der";
    req.out_dir = dir / "out2";
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        return e.fcs_code() == errc::parse_failed && e.file().ends_with("bad.der") &&
               e.cause().find("signature does not verify") != std::string::npos;
    });
    BOOST_TEST(!fs::exists(dir / "out2"));
}

BOOST_FIXTURE_TEST_CASE(refuses_when_the_group_certificate_is_not_a_ca, group_fixture) {
    auto pair =
        openssl_ca_issued(dir / "in"); // a server certificate, CA:FALSE by default in x509 -req
    auto svc = make(dir / "data", false);
    svc.start();
    switchover::import_source src;
    src.cert_file = dir / "in/leaf.crt";
    src.key_file = dir / "in/leaf.key";
    switchover::import_pair(svc, src, nullptr);
    BOOST_REQUIRE(!svc.status().info.is_ca);
    switchover::issue_request req;
    req.common_name = "x";
    req.out_dir = dir / "out";
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error,
                          [](const error& e) { return e.fcs_code() == errc::not_a_ca; });
    BOOST_TEST(!fs::exists(dir / "out"));
}

BOOST_FIXTURE_TEST_CASE(names_only_a_request_asks_for_are_not_signed_unconfirmed, group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    write_csr(dir / "evil.csr", "a.example", {injected});
    switchover::issue_request req;
    req.csr_file = dir / "evil.csr";
    req.out_dir = dir / "out";
    try {
        auto r = switchover::issue(svc, req);
        std::string all;
        for (auto& e : san_entries(r.certificate))
            all += (all.empty() ? "" : ", ") + e;
        BOOST_ERROR("signed unconfirmed request names; the certificate carries " + all);
    } catch (const error& e) {
        BOOST_TEST(static_cast<int>(e.fcs_code()) == static_cast<int>(errc::invalid_argument),
                   e.what());
        BOOST_TEST(e.file().ends_with("evil.csr"), e.what());
        // The operator sees the request's name and how to confirm.
        BOOST_TEST(e.cause().find(injected) != std::string::npos, e.what());
        BOOST_TEST(e.cause().find("--accept-csr-names") != std::string::npos, e.what());
        BOOST_TEST(e.cause().find("--dns") != std::string::npos, e.what());
    }
    BOOST_TEST(!fs::exists(dir / "out"));
}

BOOST_FIXTURE_TEST_CASE(accepted_request_names_are_checked_and_a_spliced_name_is_refused,
                        group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    write_csr(dir / "evil.csr", "a.example", {injected});
    switchover::issue_request req;
    req.csr_file = dir / "evil.csr";
    req.out_dir = dir / "out";
    req.accept_csr_names = true;
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.fcs_code() == errc::invalid_argument && e.file().ends_with("evil.csr") &&
               e.cause().find("DNS name \"" + injected + "\" is not a valid host name") !=
                   std::string::npos &&
               e.cause().find("','") != std::string::npos;
    });
    BOOST_TEST(!fs::exists(dir / "out"));
    // A request name holding a control character is refused, and shown escaped.
    write_csr(dir / "esc.csr", "b.example", {"b.example\x1b[2J"});
    req.csr_file = dir / "esc.csr";
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        return e.fcs_code() == errc::invalid_argument &&
               e.cause().find("b.example\\x1b[2J") != std::string::npos &&
               e.cause().find('\x1b') == std::string::npos;
    });
    BOOST_TEST(!fs::exists(dir / "out"));
}

BOOST_FIXTURE_TEST_CASE(names_given_by_the_operator_are_exactly_the_names_signed, group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    write_csr(dir / "evil.csr", "a.example", {injected}, {std::string("\x0a\x00\x00\x09", 4)});
    switchover::issue_request req;
    req.csr_file = dir / "evil.csr";
    req.out_dir = dir / "out";
    req.dns_names = {"a.example"};
    auto r = switchover::issue(svc, req);
    BOOST_TEST(san_entries(r.certificate) == std::vector<std::string>{"DNS:a.example"},
               boost::test_tools::per_element());
    BOOST_TEST(r.sans == std::vector<std::string>{"DNS:a.example"},
               boost::test_tools::per_element());
    // What was not signed is said.
    BOOST_REQUIRE_EQUAL(r.notes.size(), 1u);
    BOOST_TEST(r.notes[0].find("DNS:\"" + injected + "\"") != std::string::npos, r.notes[0]);
    BOOST_TEST(r.notes[0].find("IP:10.0.0.9") != std::string::npos, r.notes[0]);
    BOOST_TEST(r.notes[0].find("not signed") != std::string::npos, r.notes[0]);
    BOOST_TEST(log.count(policy::level::info, "names DNS:a.example,") == 1u);
    // The operator's own names are checked too, before anything is written.
    req.out_dir = dir / "out2";
    req.dns_names = {injected};
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        return e.fcs_code() == errc::invalid_argument &&
               e.cause().find(injected) != std::string::npos;
    });
    req.dns_names = {"ok.example"};
    req.ip_addresses = {"10.0.0.1,IP:10.0.0.2"};
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        return e.fcs_code() == errc::invalid_argument &&
               e.cause().find("IP address \"10.0.0.1,IP:10.0.0.2\"") != std::string::npos;
    });
    // Confirming both ways at once, or accepting without a request, is a mistake.
    req.ip_addresses.clear();
    req.accept_csr_names = true;
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error,
                          [](const error& e) { return e.fcs_code() == errc::invalid_argument; });
    req.dns_names.clear();
    req.csr_file.clear();
    req.common_name = "x.example";
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error,
                          [](const error& e) { return e.fcs_code() == errc::invalid_argument; });
    BOOST_TEST(!fs::exists(dir / "out2"));
}

BOOST_FIXTURE_TEST_CASE(request_names_are_listed_dns_then_ip_and_matched_case_blind_by_value,
                        group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    const std::string v6(std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
    write_csr(dir / "two.csr", "b.example", {"b.example", "c.example"},
              {std::string("\x0a\x00\x00\x09", 4), v6});
    switchover::issue_request req;
    req.csr_file = dir / "two.csr";
    req.out_dir = dir / "out";
    // Unconfirmed: every name, DNS first, then IP, in the request's order, comma separated.
    BOOST_CHECK_EXCEPTION(switchover::issue(svc, req), error, [](const error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return e.cause().starts_with("the request asks for the names DNS:\"b.example\", "
                                     "DNS:\"c.example\", IP:10.0.0.9, IP:2001:db8::1; names from "
                                     "a request are signed only when confirmed");
    });
    // Given names match a request's names case-blind (DNS) and by value (IP): only the others
    // are listed as not signed.
    req.dns_names = {"B.Example"};
    req.ip_addresses = {"2001:0db8:0:0:0:0:0:1"};
    auto r = switchover::issue(svc, req);
    BOOST_REQUIRE_EQUAL(r.notes.size(), 1u);
    BOOST_TEST(r.notes[0] == "the request also asks for DNS:\"c.example\", IP:10.0.0.9; not "
                             "signed (only the names given with --dns/--ip are)");
    // The log names the signed names separated by spaces.
    BOOST_REQUIRE_EQUAL(r.sans.size(), 2u);
    BOOST_TEST(
        log.count(policy::level::info, "names " + r.sans[0] + " " + r.sans[1] + ", serial ") == 1u);
}

BOOST_FIXTURE_TEST_CASE(accepted_request_names_are_signed_exactly_and_other_kinds_never,
                        group_fixture) {
    auto svc = make(dir / "data");
    svc.start();
    write_csr(dir / "ok.csr", "b.example", {"b.example", "*.b.example"},
              {std::string("\x0a\x09\x08\x07", 4),
               std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16)},
              {"spiffe://corp/admin"});
    switchover::issue_request req;
    req.csr_file = dir / "ok.csr";
    req.out_dir = dir / "out";
    req.accept_csr_names = true;
    auto r = switchover::issue(svc, req);
    BOOST_TEST(san_entries(r.certificate) ==
                   (std::vector<std::string>{"DNS:b.example", "DNS:*.b.example", "IP:0a090807",
                                             "IP:20010db8000000000000000000000001"}),
               boost::test_tools::per_element());
    BOOST_TEST(r.sans == (std::vector<std::string>{"DNS:b.example", "DNS:*.b.example",
                                                   "IP:10.9.8.7", "IP:2001:db8::1"}),
               boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(r.notes.size(), 1u);
    BOOST_TEST(r.notes[0].find("URI:\"spiffe://corp/admin\"") != std::string::npos, r.notes[0]);
    BOOST_TEST(r.notes[0].find("never signed") != std::string::npos, r.notes[0]);
}

BOOST_AUTO_TEST_SUITE_END()
