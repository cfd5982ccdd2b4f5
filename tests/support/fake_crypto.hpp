#ifndef FCS_TESTS_SUPPORT_FAKE_CRYPTO_HPP
#define FCS_TESTS_SUPPORT_FAKE_CRYPTO_HPP

// A second model of fcs::policy::CryptoBackend with no BoringSSL in it: the proof that the
// concept names everything the core uses. Its "certificates" and "keys" are lines of text
// (nothing here is cryptography); the lifecycle runs on it with real files and storage.
//
//   key:         "FAKE-KEY <id>"            (an encrypted one: "FAKE-KEY-ENCRYPTED <id>")
//   certificate: "FAKE-CERT <key id> <not_before> <not_after> <ca 0|1> <common name>"
//   a chain is several certificate lines.

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fcs::test {

struct fake_crypto {
    using policy_kind = policy::kind::crypto;

    struct private_key {
        std::string id;
    };
    struct certificate {
        std::string key_id;
        std::int64_t not_before = 0, not_after = 0;
        bool ca = false;
        std::string common_name;
        std::string line() const {
            return "FAKE-CERT " + key_id + " " + std::to_string(not_before) + " " +
                   std::to_string(not_after) + " " + (ca ? "1" : "0") + " " + common_name;
        }
    };

    private_key generate_key(key_type) const {
        static std::mt19937_64 rng{std::random_device{}()};
        char buf[20];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
        return {buf};
    }

    certificate self_sign(const private_key& key, const certificate_profile& p, time_point nb,
                          time_point na) const {
        return {key.id, seconds(nb), seconds(na), p.ca, p.common_name};
    }

    std::string key_description(const private_key&) const { return "fake key"; }

    std::vector<certificate> parse_certificates(std::span<const std::uint8_t> in,
                                                std::string_view where) const {
        std::vector<certificate> out;
        std::istringstream lines(std::string(in.begin(), in.end()));
        for (std::string l; std::getline(lines, l);) {
            std::istringstream f(l);
            std::string tag;
            certificate c;
            int ca = 0;
            if (!(f >> tag >> c.key_id >> c.not_before >> c.not_after >> ca) || tag != "FAKE-CERT")
                throw error(errc::parse_failed, std::string(where), "parse certificate",
                            "not a fake certificate");
            c.ca = ca == 1;
            std::getline(f >> std::ws, c.common_name);
            out.push_back(std::move(c));
        }
        if (out.empty())
            throw error(errc::parse_failed, std::string(where), "parse certificate",
                        "no certificate");
        return out;
    }

    private_key parse_private_key(std::span<const std::uint8_t> in, const secret_bytes* password,
                                  std::string_view where) const {
        std::istringstream f(std::string(in.begin(), in.end()));
        std::string tag, id;
        if (!(f >> tag >> id))
            throw error(errc::parse_failed, std::string(where), "parse key", "not a fake key");
        if (tag == "FAKE-KEY-ENCRYPTED" && !password)
            throw error(errc::key_encrypted, std::string(where), "parse key", "encrypted");
        if (tag != "FAKE-KEY" && tag != "FAKE-KEY-ENCRYPTED")
            throw error(errc::parse_failed, std::string(where), "parse key", "not a fake key");
        return {id};
    }

    bool matches(const certificate& c, const private_key& k) const { return c.key_id == k.id; }

    cert_info describe(const certificate& c) const {
        cert_info i;
        i.subject = "CN=" + c.common_name;
        i.issuer = i.subject;
        i.not_before = time_point(std::chrono::seconds(c.not_before));
        i.not_after = time_point(std::chrono::seconds(c.not_after));
        i.self_signed = true;
        i.is_ca = c.ca;
        // Not SHA-256 (nothing here is cryptography): a stable hex digest of the line.
        std::uint64_t h = 1469598103934665603ull;
        for (unsigned char ch : c.line())
            h = (h ^ ch) * 1099511628211ull;
        char buf[24];
        std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
        i.sha256_fingerprint = buf;
        i.serial = buf;
        return i;
    }

    bytes encode(const certificate& c, encoding) const {
        auto l = c.line() + "\n";
        return bytes(l.begin(), l.end());
    }
    secret_bytes encode(const private_key& k, encoding) const {
        return to_secret("FAKE-KEY " + k.id + "\n");
    }

private:
    static std::int64_t seconds(time_point t) {
        return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    }
};

static_assert(policy::CryptoBackend<fake_crypto>, "the test double must model CryptoBackend");

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_FAKE_CRYPTO_HPP
