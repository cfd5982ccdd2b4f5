// fcs/tls/client.hpp on Windows: the trust store without a CA file is Windows' ROOT store
// (tls/windows_roots.hpp), a CA file and the client's files are read through win32_fs (no
// reparse point, bounded) and the client key's DACL is judged as a private key's.
#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/acl/windows.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/detail/win32_fs.hpp>
#include <fcs/tls/windows_roots.hpp>
#include <fcs/tls/client.hpp>

#include "windows/scratch.hpp"

#include "windows/expect.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using fcs::test::error_of;

using fcs::test::scratch;
using namespace std::chrono_literals;

/// A self-signed certificate and its key, PEM.
struct pem_pair {
    std::vector<std::uint8_t> cert;
    fcs::secret_bytes key;
};
pem_pair make_pair(const std::string& cn) {
    fcs::crypto::boringssl c;
    auto k = c.generate_key(fcs::key_type::ec_p256);
    fcs::certificate_profile p;
    p.common_name = cn;
    p.dns_names = {cn};
    const auto now = std::chrono::system_clock::now();
    auto cert = c.self_sign(k, p, now - 1h, now + 24h);
    auto der = c.encode(cert, fcs::encoding::pem);
    return {std::vector<std::uint8_t>(der.begin(), der.end()), c.encode(k, fcs::encoding::pem)};
}

void write(const std::wstring& path, std::span<const std::uint8_t> data,
           const std::vector<std::uint8_t>& descriptor = {}) {
    fcs::detail::create_new_w(path, data, descriptor, fcs::detail::narrow(path));
}

fcs::tls::client_options with_ca(const std::wstring& file) {
    fcs::tls::client_options o;
    o.ca_file = std::filesystem::path(file);
    return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_client_windows)

BOOST_AUTO_TEST_CASE(without_a_ca_file_the_windows_root_store_is_the_trust_store) {
    // Windows ships root CAs; Wine fills the store from the host's /etc/ssl/certs.
    const auto roots = fcs::tls::windows_root_certificates("list the roots");
    BOOST_TEST_MESSAGE(roots.size() << " certificates in the ROOT store");
    BOOST_TEST(!roots.empty());
    for (const auto& der : roots)
        BOOST_TEST(der.size() <= fcs::tls::max_trust_store_certificate_size);
    fcs::tls::client_context tls(fcs::tls::client_options{});
    BOOST_TEST(tls.trusted_by() == "the Windows trust store (ROOT)");
    // Every usable root is in the context's store.
    X509_STORE* store = SSL_CTX_get_cert_store(tls.asio().native_handle());
    BOOST_TEST(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)) > 0);
}

BOOST_AUTO_TEST_CASE(a_ca_file_must_exist_hold_pem_certificates_and_stay_bounded) {
    scratch dir;
    const auto a = make_pair("a.example"), b = make_pair("b.example");
    std::vector<std::uint8_t> two = a.cert;
    two.insert(two.end(), b.cert.begin(), b.cert.end());
    write(dir.path + L"\\two.pem", two);
    fcs::tls::client_context tls(with_ca(dir.path + L"\\two.pem"));
    BOOST_TEST(tls.trusted_by() == fcs::detail::narrow(dir.path + L"\\two.pem"));
    X509_STORE* store = SSL_CTX_get_cert_store(tls.asio().native_handle());
    BOOST_TEST(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)) == 2);

    BOOST_TEST((error_of([&] { fcs::tls::client_context t(with_ca(dir.path + L"\\none.pem")); }) ==
                fcs::errc::not_found));
    const std::string junk = "not a certificate\n";
    write(dir.path + L"\\junk.pem", std::vector<std::uint8_t>(junk.begin(), junk.end()));
    BOOST_TEST((error_of([&] { fcs::tls::client_context t(with_ca(dir.path + L"\\junk.pem")); }) ==
                fcs::errc::io_failed));
    write(dir.path + L"\\huge.pem", std::vector<std::uint8_t>((8u << 20) + 1, 'A'));
    BOOST_TEST((error_of([&] { fcs::tls::client_context t(with_ca(dir.path + L"\\huge.pem")); }) ==
                fcs::errc::too_large));
    BOOST_TEST((error_of([&] { fcs::tls::client_context t(with_ca(dir.path)); }) ==
                fcs::errc::unsafe_file)); // a folder, not a file
}

BOOST_AUTO_TEST_CASE(a_client_key_that_others_may_read_is_refused) {
    scratch dir;
    const auto pair = make_pair("client.example");
    const fcs::acl::windows acl;
    write(dir.path + L"\\client.crt", pair.cert);
    // Owner-only: SYSTEM, Administrators and (Wine keeps only this) the process's account.
    write(dir.path + L"\\closed.key", pair.key,
          acl.descriptor(fcs::item_class::secret_item, false));
    // The folder's inherited DACL: Wine shows it as mode 0644, an Everyone read entry; on
    // Windows a temp folder's DACL lets no one else read either, so the open key gets one.
    const std::string everyone_reads = "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)";
    PSECURITY_DESCRIPTOR sd = nullptr;
    ULONG len = 0;
    BOOST_REQUIRE(::ConvertStringSecurityDescriptorToSecurityDescriptorW(
        fcs::detail::widen(everyone_reads).c_str(), SDDL_REVISION_1, &sd, &len));
    std::vector<std::uint8_t> open_sd(static_cast<std::uint8_t*>(sd),
                                      static_cast<std::uint8_t*>(sd) + len);
    ::LocalFree(sd);
    write(dir.path + L"\\open.key", pair.key, open_sd);

    fcs::tls::client_options o;
    o.cert_file = std::filesystem::path(dir.path + L"\\client.crt");
    o.key_file = std::filesystem::path(dir.path + L"\\closed.key");
    o.validate_endpoint_certificate = false;
    fcs::tls::client_context ok(o);
    BOOST_TEST(SSL_CTX_get0_certificate(ok.asio().native_handle()) != nullptr);

    o.key_file = std::filesystem::path(dir.path + L"\\open.key");
    BOOST_TEST((error_of([&] { fcs::tls::client_context t(o); }) == fcs::errc::unsafe_file));
    o.key_file = std::filesystem::path(dir.path + L"\\missing.key");
    BOOST_TEST((error_of([&] { fcs::tls::client_context t(o); }) == fcs::errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
