// fcs/status_json.hpp: the one status document both programs' `status --json` and
// GET /certificate print (README.md, "Status JSON").

#include <fcs/status_json.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <string>

namespace {

fcs::cert_status sample() {
    using namespace std::chrono;
    fcs::cert_status s;
    s.name = "FailoverService";
    s.info.subject = "CN=a.example";
    s.info.issuer = "CN=Root";
    s.info.sans = {"DNS:a.example", "IP:10.0.0.1"};
    s.info.serial = "0A1B";
    s.info.not_before = fcs::time_point(seconds(1'700'000'000)); // 2023-11-14T22:13:20Z
    s.info.not_after = fcs::time_point(seconds(1'800'000'000));  // 2027-01-15T08:00:00Z
    s.info.sha256_fingerprint = "AB:CD";
    s.info.key_type = "EC P-256";
    s.info.is_ca = false;
    s.info.self_signed = false;
    s.days_remaining = 12;
    s.state = fcs::cert_state::expiring;
    s.origin = fcs::origin::installed;
    s.certificate_location = "Certificates/FailoverService.crt";
    s.key_location = "Certificates/Keys/FailoverService.key";
    return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(status_json)

BOOST_AUTO_TEST_CASE(every_field_of_the_schema_with_its_type_and_value) {
    auto doc = fcs::status_json(sample(), {{fcs::finding::severity::warning,
                                            "Certificates/Broken.crt", "not a certificate"}});
    std::set<std::string> keys;
    for (auto& [k, v] : doc.items())
        keys.insert(k);
    BOOST_TEST((keys == std::set<std::string>{"schema", "name", "subject", "issuer", "sans",
                                              "serial", "not_before", "not_after", "days_remaining",
                                              "sha256_fingerprint", "key_type", "state", "origin",
                                              "self_signed", "is_ca", "certificate_file",
                                              "key_file", "findings"}));
    BOOST_TEST(doc["schema"].get<int>() == 1);
    BOOST_TEST(doc["name"].get<std::string>() == "FailoverService");
    BOOST_TEST(doc["sans"].size() == 2u);
    BOOST_TEST(doc["sans"][1].get<std::string>() == "IP:10.0.0.1");
    BOOST_TEST(doc["not_before"].get<std::string>() == "2023-11-14T22:13:20Z");
    BOOST_TEST(doc["not_after"].get<std::string>() == "2027-01-15T08:00:00Z");
    BOOST_TEST(doc["days_remaining"].is_number_integer());
    BOOST_TEST(doc["days_remaining"].get<int>() == 12);
    BOOST_TEST(doc["key_type"].get<std::string>() == "EC P-256");
    BOOST_TEST(doc["state"].get<std::string>() == "expiring");
    BOOST_TEST(doc["origin"].get<std::string>() == "installed");
    BOOST_TEST(doc["self_signed"].is_boolean());
    BOOST_TEST(doc["certificate_file"].get<std::string>() == "Certificates/FailoverService.crt");
    BOOST_TEST(doc["key_file"].get<std::string>() == "Certificates/Keys/FailoverService.key");
    BOOST_TEST(doc["findings"].size() == 1u);
    BOOST_TEST(doc["findings"][0]["level"].get<std::string>() == "warning");
    BOOST_TEST(doc["findings"][0]["location"].get<std::string>() == "Certificates/Broken.crt");
    BOOST_TEST(doc["findings"][0]["message"].get<std::string>() == "not a certificate");
}

BOOST_AUTO_TEST_CASE(no_findings_is_an_empty_array) {
    auto doc = fcs::status_json(sample());
    BOOST_TEST(doc["findings"].is_array());
    BOOST_TEST(doc["findings"].empty());
}

BOOST_AUTO_TEST_CASE(odd_bytes_from_a_certificate_cannot_break_the_document) {
    auto s = sample();
    s.info.subject = std::string("CN=\"quoted\"\n\x01 and \xff\xfe bad UTF-8 \xc3\xa9");
    auto text = fcs::status_json_text(fcs::status_json(s)); // must not throw
    auto back = nlohmann::json::parse(text);
    BOOST_TEST(back["subject"].get<std::string>() ==
               "CN=\"quoted\"\n\x01 and \xef\xbf\xbd\xef\xbf\xbd bad UTF-8 \xc3\xa9");
    BOOST_TEST(text.find('\n') == std::string::npos, "one line unless indented");
    BOOST_TEST(fcs::status_json_text(fcs::status_json(s), 2).find("\n  \"schema\": 1") !=
               std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
