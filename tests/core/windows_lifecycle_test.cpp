// The lifecycle rules of fcs::FailoverCertService on the Windows storage and ACL
// (storage::windows_directory, acl::windows, real BoringSSL), mirroring
// tests/core/lifecycle_test.cpp and tests/core/install_test.cpp. Run under Wine in CI.
#include <fcs/acl/windows.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/storage/windows_directory.hpp>

#include "windows/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

namespace {
using namespace fcs;
using namespace std::chrono_literals;
using lv = policy::level;
using win_storage = storage::windows_directory<storage::failover_layout>;
using win_service = FailoverCertService<win_storage, acl::windows, crypto::boringssl, log::memory>;

std::string read_file(const std::wstring& path) {
    std::ifstream f(std::filesystem::path(path), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::wstring& path, std::string_view content) {
    std::ofstream f(std::filesystem::path(path), std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    BOOST_REQUIRE(f.good());
}
bool exists(const std::wstring& path) {
    return ::GetFileAttributesW(path.c_str()) != INVALID_FILE_ATTRIBUTES;
}
/// The file's identity and last write: a rewrite changes it.
std::pair<std::uint64_t, std::uint64_t> id_of(const std::wstring& path) {
    fcs::detail::unique_handle h(::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr,
                                               OPEN_EXISTING, 0, nullptr));
    BY_HANDLE_FILE_INFORMATION i{};
    BOOST_REQUIRE(h && ::GetFileInformationByHandle(h.get(), &i));
    return {std::uint64_t{i.nFileIndexHigh} << 32 | i.nFileIndexLow,
            std::uint64_t{i.ftLastWriteTime.dwHighDateTime} << 32 |
                i.ftLastWriteTime.dwLowDateTime};
}

struct fixture {
    fcs::test::scratch dir;
    log::memory log;
    service_options opts;
    win_service make() {
        return win_service(opts, win_storage(std::filesystem::path(dir.path)),
                           acl::windows({.service_name = "FcsTest", .service_writes = true}),
                           crypto::boringssl{}, log);
    }
    std::wstring cert() const { return dir.path + L"\\Certificates\\FailoverService.crt"; }
    std::wstring key() const { return dir.path + L"\\Certificates\\Keys\\FailoverService.key"; }
    std::vector<std::wstring> archive() const {
        auto a = dir.files(L"Certificates\\Archive");
        std::sort(a.begin(), a.end());
        return a;
    }
};
} // namespace

BOOST_AUTO_TEST_SUITE(lifecycle_windows)

BOOST_FIXTURE_TEST_CASE(first_start_generates_a_self_signed_pair_in_the_vendor_layout, fixture) {
    auto r = make().start();
    BOOST_TEST(r.generated);
    BOOST_TEST(exists(cert()));
    BOOST_TEST(exists(key()));
    BOOST_TEST(exists(dir.path + L"\\Certificates\\Archive"));
    BOOST_TEST(r.status.info.self_signed);
    BOOST_TEST((r.status.origin == origin::generated));
    BOOST_TEST((r.status.state == cert_state::valid));
    BOOST_TEST(r.status.certificate_location == "Certificates\\FailoverService.crt");
    BOOST_TEST(r.status.key_location == "Certificates\\Keys\\FailoverService.key");
    BOOST_TEST(r.status.days_remaining > 15 * 365 - 2);
    BOOST_TEST(log.count(lv::info, "generated a new self-signed certificate") == 1u);
    BOOST_TEST(read_file(cert()).starts_with("-----BEGIN CERTIFICATE-----"));
    BOOST_TEST(read_file(key()).starts_with("-----BEGIN PRIVATE KEY-----"));
    BOOST_TEST(archive().empty());
}

BOOST_FIXTURE_TEST_CASE(restart_keeps_the_same_certificate_and_does_not_rewrite_the_files,
                        fixture) {
    const std::string fp = make().start().status.info.sha256_fingerprint;
    const auto cert_before = id_of(cert()), key_before = id_of(key());
    auto r = make().start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint == fp);
    BOOST_TEST((id_of(cert()) == cert_before));
    BOOST_TEST((id_of(key()) == key_before));
    BOOST_TEST(archive().empty());
}

BOOST_FIXTURE_TEST_CASE(archives_an_unparseable_certificate_with_its_key_and_regenerates, fixture) {
    const std::string old_fp = make().start().status.info.sha256_fingerprint;
    const std::string old_key = read_file(key());
    write_file(cert(), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    auto r = make().start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint != old_fp);
    BOOST_TEST(r.archived.size() >= 2u);
    auto a = archive();
    BOOST_TEST(std::any_of(a.begin(), a.end(), [](auto& f) { return f.ends_with(L".crt"); }));
    BOOST_TEST(std::any_of(a.begin(), a.end(), [](auto& f) { return f.ends_with(L".key"); }));
    // The invalid files are kept, byte for byte, never deleted.
    bool key_kept = false;
    for (auto& f : a)
        key_kept |= f.ends_with(L".key") &&
                    read_file(dir.path + L"\\Certificates\\Archive\\" + f) == old_key;
    BOOST_TEST(key_kept);
    BOOST_TEST(log.count(lv::warning, "moved to the archive") >= 1u);
}

BOOST_FIXTURE_TEST_CASE(archives_a_certificate_without_its_key_and_regenerates, fixture) {
    const std::string old_fp = make().start().status.info.sha256_fingerprint;
    BOOST_REQUIRE(::DeleteFileW(key().c_str()));
    auto r = make().start();
    BOOST_TEST(r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint != old_fp);
    auto a = archive();
    BOOST_REQUIRE(a.size() == 2u); // the certificate and its origin record
    BOOST_TEST(a[0].ends_with(L".crt"));
    BOOST_TEST(a[1].ends_with(L".meta"));
    BOOST_TEST(log.count(lv::warning, "moved to the archive: certificate without a private key") ==
               1u);
}

BOOST_FIXTURE_TEST_CASE(install_commits_the_new_pair_and_archives_the_previous_one, fixture) {
    auto svc = make();
    const auto old = svc.start().status;
    const std::string old_cert = read_file(cert()), old_key = read_file(key());
    crypto::boringssl c;
    auto k = c.generate_key(key_type::ec_p256);
    certificate_profile prof;
    prof.common_name = "new.example";
    prof.dns_names = {"new.example"};
    const auto now = std::chrono::system_clock::now();
    auto crt = c.self_sign(k, prof, now - 1h, now + 24h * 400);
    auto cert_pem = c.encode(crt, encoding::pem);
    auto key_pem = c.encode(k, encoding::pem);
    auto st = svc.install(cert_pem, key_pem, "new.crt", "new.key");
    BOOST_TEST(st.info.subject == "CN=new.example");
    BOOST_TEST((st.origin == origin::installed));
    BOOST_TEST(svc.current()->info.sha256_fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST(read_file(cert()) == std::string(cert_pem.begin(), cert_pem.end()));
    auto a = archive(); // NAME.<tag>.crt, .key, .meta
    BOOST_REQUIRE(a.size() == 3u);
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\Archive\\" + a[0]) == old_cert);
    BOOST_TEST(read_file(dir.path + L"\\Certificates\\Archive\\" + a[1]) == old_key);
    BOOST_TEST(log.count(lv::info, old.info.sha256_fingerprint + ") is in the archive") == 1u);
    // A restart serves the installed pair and still knows it was installed.
    auto st2 = make().start().status;
    BOOST_TEST(st2.info.sha256_fingerprint == st.info.sha256_fingerprint);
    BOOST_TEST((st2.origin == origin::installed));
}

BOOST_FIXTURE_TEST_CASE(a_journal_left_mid_commit_is_rolled_forward_at_the_next_start, fixture) {
    make().start();
    // Another generated pair, staged the way a commit stages it, and the journal that decides
    // it: the process died after writing the journal, before any rename.
    win_service other_svc(opts, win_storage(std::filesystem::path(dir.path + L"\\other")),
                          acl::windows{}, crypto::boringssl{}, log::memory{});
    const std::string new_fp = other_svc.start().status.info.sha256_fingerprint;
    const std::wstring o = dir.path + L"\\other\\Certificates";
    const std::wstring c = dir.path + L"\\Certificates";
    // Staged as a commit stages them: created with their final descriptors.
    const acl::windows a({.service_name = "FcsTest", .service_writes = true});
    auto stage = [&](const std::wstring& to, const std::wstring& from, item_class k) {
        const std::string data = read_file(from);
        fcs::detail::create_new_w(to, std::vector<std::uint8_t>(data.begin(), data.end()),
                                  a.descriptor(k, false), "staged");
    };
    stage(c + L"\\.fcs-tmp-a", o + L"\\FailoverService.crt", item_class::public_item);
    stage(c + L"\\Keys\\.fcs-tmp-b", o + L"\\Keys\\FailoverService.key", item_class::secret_item);
    write_file(c + L"\\.fcs-journal",
               "fcs-journal 1\n"
               "R\tCertificates\t.fcs-tmp-a\tCertificates\tFailoverService.crt\n"
               "R\tCertificates/Keys\t.fcs-tmp-b\tCertificates/Keys\tFailoverService.key\n"
               "end\n");
    auto r = make().start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint == new_fp); // the whole new pair
    BOOST_TEST(!exists(c + L"\\.fcs-journal"));
    BOOST_TEST(!exists(c + L"\\.fcs-tmp-a"));
    BOOST_TEST(log.count(lv::info, "finished a change that was interrupted") +
                   log.count(lv::warning, "finished a change that was interrupted") ==
               1u);
}

BOOST_FIXTURE_TEST_CASE(a_commit_that_never_reached_its_journal_is_rolled_back, fixture) {
    const std::string fp = make().start().status.info.sha256_fingerprint;
    const std::wstring c = dir.path + L"\\Certificates";
    // Half a commit: new data in temporary files, no journal yet.
    write_file(c + L"\\.fcs-tmp-a", "-----BEGIN CERTIFICATE-----\nhalf");
    write_file(c + L"\\Keys\\.fcs-tmp-b", "half");
    auto r = make().start();
    BOOST_TEST(!r.generated);
    BOOST_TEST(r.status.info.sha256_fingerprint == fp); // the whole old pair
    BOOST_TEST(!exists(c + L"\\.fcs-tmp-a"));
    BOOST_TEST(!exists(c + L"\\Keys\\.fcs-tmp-b"));
}

BOOST_AUTO_TEST_SUITE_END()
