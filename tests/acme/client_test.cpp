// fcs/acme/client.hpp without a CA: URL splitting, the identifiers of an order, the CSR of
// finalize (parsed and verified with BoringSSL), reading the EAB key file; and the group claim
// of fcs/acme/renewer.hpp. The protocol against a real CA is tests/e2e_server/test_acme.py.
// Included first: the header is self-contained.
#include <fcs/acme/client.hpp>
#include <fcs/acme/renewer.hpp>

#include "support/support.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/x509.h>

#include <string>
#include <vector>

namespace {

using fcs::acme::identifier;
using fcs::acme::acme_detail::claim;
using fcs::acme::acme_detail::split_url;

identifier dns(std::string v) { return {identifier::kind::dns, std::move(v)}; }
identifier ip(std::string v) { return {identifier::kind::ip, std::move(v)}; }

void refused_url(const std::string& url) {
    try {
        (void)split_url(url);
        BOOST_ERROR("URL accepted: " << url);
    } catch (const fcs::error& e) {
        BOOST_TEST(e.fcs_code() == fcs::errc::invalid_argument, url);
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(acme_client)

BOOST_AUTO_TEST_CASE(split_url_fills_in_port_443_and_the_root_target) {
    auto u = split_url("https://ca.example/dir");
    BOOST_TEST(u.ep.host == "ca.example");
    BOOST_TEST(u.ep.port == "443");
    BOOST_TEST(u.ep.tls);
    BOOST_TEST(u.ep.url == "https://ca.example");
    BOOST_TEST(u.target == "/dir");
    auto root = split_url("https://ca.example");
    BOOST_TEST(root.target == "/");
    BOOST_TEST(root.ep.port == "443");
}

BOOST_AUTO_TEST_CASE(split_url_takes_an_explicit_port_and_keeps_the_query) {
    auto u = split_url("https://127.0.0.1:14000/acme/order/5?x=1");
    BOOST_TEST(u.ep.host == "127.0.0.1");
    BOOST_TEST(u.ep.port == "14000");
    BOOST_TEST(u.ep.url == "https://127.0.0.1:14000");
    BOOST_TEST(u.target == "/acme/order/5?x=1");
}

BOOST_AUTO_TEST_CASE(split_url_takes_a_bracketed_ipv6_host) {
    auto u = split_url("https://[::1]:14000/dir");
    BOOST_TEST(u.ep.host == "::1");
    BOOST_TEST(u.ep.port == "14000");
    BOOST_TEST(u.target == "/dir");
    auto d = split_url("https://[2001:db8::1]/dir");
    BOOST_TEST(d.ep.host == "2001:db8::1");
    BOOST_TEST(d.ep.port == "443");
}

BOOST_AUTO_TEST_CASE(split_url_refuses_what_is_not_a_plain_https_url) {
    refused_url("http://ca.example/dir");            // RFC 8555 6.1: https only
    refused_url("HTTP://ca.example/dir");
    refused_url("ftp://ca.example/dir");
    refused_url("ca.example/dir");
    refused_url("https://user:pw@ca.example/dir");   // user info
    refused_url("https://@ca.example/dir");
    refused_url("https:///dir");                     // no host
    refused_url("https://");
    refused_url("https://:443/dir");
    refused_url("https://ca.example:0/dir");         // bad ports
    refused_url("https://ca.example:65536/dir");
    refused_url("https://ca.example:443x/dir");
    refused_url("https://ca.example:/dir");
    refused_url("https://ca.example:-1/dir");
    refused_url("https://[::1/dir");                 // unclosed bracket
    refused_url("https://[::1]x/dir");
    refused_url("https://[]:443/dir");
    refused_url("https://ca.example/" + std::string(5000, 'a')); // too long
}

BOOST_AUTO_TEST_CASE(identifiers_json_writes_rfc8555_identifiers) {
    auto j = fcs::acme::identifiers_json(
        {dns("svc.example"), ip("127.0.0.1"), ip("2001:db8::1"), dns("*.svc.example")});
    const nlohmann::json want = nlohmann::json::array(
        {{{"type", "dns"}, {"value", "svc.example"}},
         {{"type", "ip"}, {"value", "127.0.0.1"}},
         {{"type", "ip"}, {"value", "2001:db8::1"}},
         {{"type", "dns"}, {"value", "*.svc.example"}}});
    BOOST_TEST(j == want);
}

BOOST_AUTO_TEST_CASE(identifiers_json_refuses_bad_names_and_addresses) {
    for (auto& bad : std::vector<identifier>{dns(""), dns("bad name"), dns("a..b"),
                                             dns("under_score.example"), dns(std::string(300, 'a')),
                                             ip("1.2.3"), ip("256.1.1.1"), ip("svc.example"),
                                             ip("fe80::1%eth0"), ip("10.0.0.0/8"), ip("")}) {
        BOOST_CHECK_THROW(fcs::acme::identifiers_json({dns("ok.example"), bad}), fcs::error);
    }
}

BOOST_AUTO_TEST_CASE(certificate_request_carries_exactly_the_identifiers_and_verifies) {
    fcs::crypto::boringssl b;
    auto key = b.generate_key(fcs::key_type::ec_p256);
    auto der = fcs::acme::certificate_request_der(
        key, {dns("svc.example"), ip("127.0.0.1"), dns("www.svc.example"), ip("2001:db8::1")});
    // parse_csr refuses a request whose signature does not verify with its own key.
    auto csr = b.parse_csr(der, "finalize");
    BOOST_TEST(csr.dns_names == (std::vector<std::string>{"svc.example", "www.svc.example"}),
               boost::test_tools::per_element());
    BOOST_TEST(csr.ip_addresses == (std::vector<std::string>{"127.0.0.1", "2001:db8::1"}),
               boost::test_tools::per_element());
    BOOST_TEST(csr.other_names.empty());
    BOOST_TEST(csr.common_name == "svc.example");
    // The request is for this key.
    BOOST_TEST(EVP_PKEY_cmp(csr.public_key.get(), key.get()) == 1);
    auto other = b.generate_key(fcs::key_type::ec_p256);
    BOOST_TEST(EVP_PKEY_cmp(csr.public_key.get(), other.get()) != 1);

    // And the signature, checked here too.
    const std::uint8_t* p = der.data();
    bssl::UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    BOOST_REQUIRE(req);
    BOOST_TEST(X509_REQ_verify(req.get(), key.get()) == 1);
    BOOST_TEST(X509_REQ_verify(req.get(), other.get()) != 1);
    ERR_clear_error();
}

BOOST_AUTO_TEST_CASE(certificate_request_for_an_ip_only_order_has_no_common_name) {
    fcs::crypto::boringssl b;
    auto key = b.generate_key(fcs::key_type::ec_p256);
    auto csr = b.parse_csr(fcs::acme::certificate_request_der(key, {ip("127.0.0.1")}), "finalize");
    BOOST_TEST(csr.dns_names.empty());
    BOOST_TEST(csr.ip_addresses == std::vector<std::string>{"127.0.0.1"},
               boost::test_tools::per_element());
    BOOST_TEST(csr.common_name == "");
}

BOOST_AUTO_TEST_CASE(certificate_request_refuses_no_or_bad_identifiers) {
    fcs::crypto::boringssl b;
    auto key = b.generate_key(fcs::key_type::ec_p256);
    BOOST_CHECK_THROW(fcs::acme::certificate_request_der(key, {}), fcs::error);
    BOOST_CHECK_THROW(fcs::acme::certificate_request_der(key, {dns("bad name")}), fcs::error);
    BOOST_CHECK_THROW(fcs::acme::certificate_request_der(key, {ip("1.2.3")}), fcs::error);
}

BOOST_AUTO_TEST_CASE(read_eab_key_accepts_an_owner_only_file_with_a_trailing_newline) {
    fcs::test::temp_dir dir;
    // base64url of 0xfb 0xff 0x00 ... ('-' and '_' in it).
    fcs::test::write_text(dir / "eab.key", "-_8AAQ\n", 0600);
    auto key = fcs::acme::read_eab_key(dir / "eab.key");
    BOOST_TEST((std::vector<std::uint8_t>(key.begin(), key.end()) ==
                std::vector<std::uint8_t>{0xfb, 0xff, 0x00, 0x01}));
    fcs::test::write_text(dir / "eab2.key", "  Zm9vYmFy  \r\n", 0400);
    BOOST_TEST(std::string(fcs::as_text(fcs::acme::read_eab_key(dir / "eab2.key"))) == "foobar");
}

BOOST_AUTO_TEST_CASE(read_eab_key_refuses_an_open_file) {
    fcs::test::temp_dir dir;
    for (mode_t mode : {0640, 0604, 0644, 0660}) {
        fcs::test::write_text(dir / "eab.key", "Zm9vYmFy\n", mode);
        try {
            (void)fcs::acme::read_eab_key(dir / "eab.key");
            BOOST_ERROR("an EAB key file with mode " << std::oct << mode << " was read");
        } catch (const fcs::error& e) {
            BOOST_TEST(e.fcs_code() == fcs::errc::unsafe_file);
            BOOST_TEST(e.file() == (dir / "eab.key").string());
        }
    }
}

BOOST_AUTO_TEST_CASE(read_eab_key_refuses_what_is_not_base64url) {
    fcs::test::temp_dir dir;
    for (std::string text : {"Zm9v+mFy\n", "Zm9v/mFy", "Zm9 vYmFy", "", "\n \n", "Zm9vY",
                             "\"Zm9vYmFy\""}) {
        fcs::test::write_text(dir / "eab.key", text, 0600);
        try {
            (void)fcs::acme::read_eab_key(dir / "eab.key");
            BOOST_ERROR("EAB key text accepted: " << text);
        } catch (const fcs::error& e) {
            BOOST_TEST(e.fcs_code() == fcs::errc::parse_failed, text);
        }
    }
    BOOST_CHECK_THROW((void)fcs::acme::read_eab_key(dir / "missing.key"), fcs::error);
}

BOOST_AUTO_TEST_CASE(claim_text_parses_back) {
    claim c{"node-a/123", 1798000000};
    BOOST_TEST(c.text() == "node=node-a/123\nuntil=1798000000\n");
    auto back = claim::parse(c.text());
    BOOST_TEST(back.node == "node-a/123");
    BOOST_TEST(back.until == 1798000000);
    // Without the final newline too.
    auto no_nl = claim::parse("node=b\nuntil=42");
    BOOST_TEST(no_nl.node == "b");
    BOOST_TEST(no_nl.until == 42);
}

BOOST_AUTO_TEST_CASE(a_malformed_claim_reads_as_nobodys) {
    for (std::string_view t : {std::string_view(""), std::string_view("garbage"),
                               std::string_view("node=a"), std::string_view("node=a\n"),
                               std::string_view("until=5\nnode=a\n"),
                               std::string_view("node=a\nuntil=\n"),
                               std::string_view("node=a\nuntil=12x\n"),
                               std::string_view("node=a\nuntil=12\n\n"),
                               std::string_view("node=a\nextra=1\nuntil=12\n"),
                               std::string_view("node=a\nuntil=99999999999999999999\n")}) {
        auto c = claim::parse(t);
        BOOST_TEST(c.node.empty(), t);
        BOOST_TEST(c.until == 0, t);
    }
    const std::string huge = "node=" + std::string(2000, 'a') + "\nuntil=5\n";
    BOOST_TEST(claim::parse(huge).until == 0);
}

BOOST_AUTO_TEST_SUITE_END()
