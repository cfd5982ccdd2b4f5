#ifndef FCS_TLS_CLIENT_HPP
#define FCS_TLS_CLIENT_HPP

// The client side of TLS, set up once for every fcs client (the etcd storage, the adapter
// check): which CAs are trusted, whether the server's certificate is validated at all, the
// host name or IP address it must carry, and an optional client certificate.
// Needs Boost.Asio's ssl layer (header-only), built against BoringSSL.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#if defined(_WIN32)
#include <fcs/acl/windows.hpp>
#include <fcs/detail/win32.hpp>
#include <fcs/detail/win32_fs.hpp>
#include <fcs/tls/windows_roots.hpp>
#else
#include <fcs/detail/fs.hpp>
#endif

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace fcs::tls {

/// How a client checks the server it connects to, and what it shows of itself.
struct client_options {
    /// The CA certificates (PEM) to trust; empty: the system trust store (/etc/ssl/certs; on
    /// Windows the ROOT system store).
    std::filesystem::path ca_file;
    /// ValidateEndpointCertificate: check the server's certificate (chain and host). False
    /// connects to anyone; say so where that is the user's choice.
    bool validate_endpoint_certificate = true;
    /// Every certificate in ca_file is a trust anchor (X509_V_FLAG_PARTIAL_CHAIN), like a Java
    /// trust store: a server's own self-signed certificate (not a CA) can be trusted directly.
    bool ca_certificates_are_anchors = false;
    /// Optional client certificate chain (PEM) and its key (PEM, a file only its owner may
    /// read: see detail::read_owner_only; on Windows a DACL acl::windows does not find too
    /// open, and no reparse point). Both or neither.
    std::filesystem::path cert_file, key_file;
    /// Names the client in error steps ("load etcd CA certificates"); may be empty.
    std::string purpose;
};

/**
 * A TLS client context prepared from client_options (TLS 1.2 and later), and the per-connection
 * set-up: SNI (host names only, RFC 6066) and, when validating, the name or IP address the
 * server's certificate must carry in its subjectAltName.
 * @throws fcs::error naming the file and step: errc::io_failed (a CA file, certificate or key
 *         that cannot be loaded), errc::invalid_argument (a certificate without key), and what
 *         detail::read_owner_only throws for the key file.
 *
 * Example:
 * @code
 *   fcs::tls::client_options o;
 *   o.ca_file = "/etc/fcs/ca.pem";
 *   fcs::tls::client_context tls(o);
 *   boost::beast::ssl_stream<boost::beast::tcp_stream> s(ioc, tls.asio());
 *   tls.prepare(s.native_handle(), "etcd1.example");
 * @endcode
 */
class client_context {
public:
    explicit client_context(const client_options& o)
        : opts_(o)
        , ctx_(make_context()) {
        SSL_CTX* raw = ctx_.native_handle();
        SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
        if (o.validate_endpoint_certificate) {
            load_trust(raw);
            SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
        } else {
            SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
        }
        if (o.cert_file.empty() != o.key_file.empty())
            throw error(errc::invalid_argument,
                        (o.cert_file.empty() ? o.key_file : o.cert_file).string(),
                        step("configure"),
                        "the client certificate and its key go together; give both or neither");
        if (!o.cert_file.empty()) {
            boost::system::error_code ec;
            const std::string key_step = step("load", "client key");
#if defined(_WIN32)
            // Read once (no reparse point, bounded) and loaded from those bytes; the key's DACL
            // judged as a private key's (acl::windows), the way POSIX wants 0600.
            auto chain = read_windows(o.cert_file, step("load", "client certificate"), 1u << 20);
            ctx_.use_certificate_chain(boost::asio::const_buffer(chain.data(), chain.size()), ec);
            if (ec)
                throw error(errc::io_failed, shown(o.cert_file), step("load", "client certificate"),
                            ec.message());
            auto key = read_windows(o.key_file, key_step, 1u << 20, true);
#else
            ctx_.use_certificate_chain_file(o.cert_file.string(), ec);
            if (ec)
                throw error(errc::io_failed, o.cert_file.string(),
                            step("load", "client certificate"), ec.message());
            // Read once, checked (regular file, 0600, owner, no link), and loaded from those
            // bytes: no second open by path after the check.
            auto key = detail::read_owner_only(o.key_file, key_step, 1u << 20);
#endif
            ctx_.use_private_key(boost::asio::const_buffer(key.data(), key.size()),
                                 boost::asio::ssl::context::pem, ec);
            if (ec)
                throw error(errc::io_failed, shown(o.key_file), key_step, ec.message());
        }
    }

    boost::asio::ssl::context& asio() noexcept { return ctx_; }
    const client_options& options() const noexcept { return opts_; }
    /// What the server's certificate is checked against, for messages ("" when not validated).
    const std::string& trusted_by() const noexcept { return trusted_by_; }

    /**
     * Prepares one connection to `host` (a name, or an IP address without brackets).
     * @throws fcs::error(errc::invalid_argument) when the name cannot be set.
     */
    void prepare(SSL* ssl, const std::string& host) const {
        boost::system::error_code addr_ec;
        (void)boost::asio::ip::make_address(host, addr_ec);
        const bool is_ip = !addr_ec;
        if (!is_ip && !SSL_set_tlsext_host_name(ssl, host.c_str())) {
            ERR_clear_error();
            throw error(errc::invalid_argument, host, step("connect"),
                        "cannot send the server name");
        }
        if (!opts_.validate_endpoint_certificate)
            return;
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
        if (!ok) {
            ERR_clear_error();
            throw error(errc::invalid_argument, host, step("connect"),
                        "cannot set the expected name " + host);
        }
        if (opts_.ca_certificates_are_anchors && !opts_.ca_file.empty())
            X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    }

private:
    static boost::asio::ssl::context make_context() {
        // A plain TLS_method context: the client needs X.509 verification.
        SSL_CTX* raw = SSL_CTX_new(TLS_method());
        if (!raw)
            throw error(errc::crypto_failed, "", "create a TLS client context",
                        "SSL_CTX_new failed");
        return boost::asio::ssl::context(raw);
    }

    std::string step(const std::string& verb, const std::string& what = {}) const {
        std::string s = verb;
        if (!opts_.purpose.empty())
            s += " " + opts_.purpose;
        if (!what.empty())
            s += " " + what;
        return s;
    }

    /// A path as errors show it (UTF-8 on Windows, where path::string() is the ANSI code page).
    static std::string shown(const std::filesystem::path& p) {
#if defined(_WIN32)
        return detail::narrow(p.native());
#else
        return p.string();
#endif
    }

    /// What a CA file may hold at most (Debian's whole bundle is about 200 KiB).
    static constexpr std::size_t max_ca_file_size = 8u << 20;

#if defined(_WIN32)
    /// Reads `file` once: no reparse point, at most `max_size` bytes; a key (`secret`) must not
    /// be readable by anyone but Administrators, SYSTEM, the service account and this account.
    static secret_bytes read_windows(const std::filesystem::path& file,
                                     const std::string& step_text, std::size_t max_size,
                                     bool secret = false) {
        auto r = detail::read_w(file.native(), shown(file), max_size);
        if (!r)
            throw error(errc::not_found, shown(file), step_text, "does not exist");
        if (r->facts.links > 1)
            throw error(errc::unsafe_file, shown(file), step_text,
                        "has " + std::to_string(r->facts.links) + " hard links; refusing it");
        if (secret)
            if (auto problem = acl::windows().check_descriptor(r->facts.security_descriptor,
                                                               item_class::secret_item))
                throw error(errc::unsafe_file, shown(file), step_text, problem->text);
        return std::move(r->data);
    }

    void load_trust(SSL_CTX* raw) {
        const std::string trust_step = step("load", "CA certificates");
        X509_STORE* store = SSL_CTX_get_cert_store(raw);
        std::size_t added = 0, unusable = 0;
        if (!opts_.ca_file.empty()) {
            auto pem = read_windows(opts_.ca_file, trust_step, max_ca_file_size);
            bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
            if (!bio)
                throw error(errc::crypto_failed, shown(opts_.ca_file), trust_step,
                            "BIO_new_mem_buf failed");
            while (bssl::UniquePtr<X509> x{
                PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
                if (X509_STORE_add_cert(store, x.get()))
                    ++added;
                else
                    ++unusable;
            }
            ERR_clear_error(); // the end of the PEM input is an "error" too
            if (added == 0)
                throw error(errc::io_failed, shown(opts_.ca_file), trust_step,
                            "no PEM certificate could be loaded from it");
            trusted_by_ = shown(opts_.ca_file);
            return;
        }
        for (const auto& der : windows_root_certificates(trust_step)) {
            const std::uint8_t* p = der.data();
            bssl::UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
            if (x && X509_STORE_add_cert(store, x.get()))
                ++added;
            else
                ++unusable;
        }
        ERR_clear_error();
        if (added == 0)
            throw error(errc::io_failed, "the Windows trust store (ROOT)", trust_step,
                        "holds no certificate that can be used (" + std::to_string(unusable) +
                            " could not be parsed)");
        trusted_by_ = "the Windows trust store (ROOT)";
    }
#else
    void load_trust(SSL_CTX* raw) {
        const std::string trust_step = step("load", "CA certificates");
        if (!opts_.ca_file.empty()) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(opts_.ca_file, ec))
                throw error(errc::io_failed, opts_.ca_file.string(), trust_step,
                            "not a readable file");
            if (!SSL_CTX_load_verify_locations(raw, opts_.ca_file.c_str(), nullptr)) {
                ERR_clear_error();
                throw error(errc::io_failed, opts_.ca_file.string(), trust_step,
                            "no PEM certificate could be loaded from it");
            }
            trusted_by_ = opts_.ca_file.string();
            return;
        }
        const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
        const char* dir = "/etc/ssl/certs";
        std::error_code ec;
        bool have_bundle = std::filesystem::is_regular_file(bundle, ec);
        if (!SSL_CTX_load_verify_locations(raw, have_bundle ? bundle : nullptr, dir)) {
            ERR_clear_error();
            throw error(errc::io_failed, dir, trust_step,
                        std::string("cannot load the system trust store (") + bundle + ", " + dir +
                            ")");
        }
        trusted_by_ = "the system trust store (/etc/ssl/certs)";
    }
#endif

    client_options opts_;
    boost::asio::ssl::context ctx_;
    std::string trusted_by_;
};

} // namespace fcs::tls

#endif // FCS_TLS_CLIENT_HPP
