#ifndef FCS_TLS_SERVER_CONTEXT_HPP
#define FCS_TLS_SERVER_CONTEXT_HPP

// The handshake path: a server SSL_CTX whose certificate is swapped without locks.
//
// A published pair is prepared once (DER certificates as CRYPTO_BUFFERs, the EVP_PKEY) into
// an immutable prepared_credential and stored with one atomic pointer swap. Every handshake
// loads the pointer in the certificate callback and hands the prepared buffers to its SSL with
// SSL_set_chain_and_key, which only takes references: nothing is parsed per handshake, and a
// connection keeps the pair it started with however often the pair is replaced later.

#include <fcs/crypto/boringssl.hpp>
#include <fcs/detail/published.hpp>
#include <fcs/error.hpp>
#include <fcs/tls/ticket_keys.hpp>

#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string_view>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace fcs::tls {

/**
 * Protocol settings of a server context. The defaults are Mozilla's "intermediate" profile:
 * TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD ciphers (TLS 1.3 suites
 * are all AEAD and fixed in BoringSSL); X25519 preferred.
 */
struct server_settings {
    std::uint16_t min_version = TLS1_2_VERSION;
    std::uint16_t max_version = TLS1_3_VERSION;
    /// TLS 1.2 cipher suites, in OpenSSL names; applied strictly (an unknown name is an error).
    std::string tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    /// Key-exchange groups, most preferred first.
    std::string curves = "X25519:P-256:P-384";
    /// TLS 1.3 session tickets sent after each handshake (BoringSSL's default is 2). One is
    /// what a client that resumes once per connection needs, and each costs a session
    /// serialization and an encryption on the handshake path.
    std::size_t session_tickets = 1;
};

/**
 * A certificate chain and private key ready for the handshake: the DER of each certificate in
 * a CRYPTO_BUFFER (leaf first) and the key. Immutable once made; shared by every connection
 * that uses it. Never exposes key bytes.
 */
class prepared_credential {
public:
    /**
     * Prepares `chain` (leaf first) and `key`. Checks once, on a scratch context, that
     * BoringSSL accepts them as a server credential (the key matches the leaf).
     * @throws fcs::error (crypto_failed, key_mismatch) naming `where`.
     */
    static std::shared_ptr<const prepared_credential>
    make(std::span<const crypto::boringssl::certificate> chain,
         const crypto::boringssl::private_key& key, std::string sha256_fingerprint,
         std::string_view where = "certificate") {
        if (chain.empty() || !key)
            throw error(errc::invalid_argument, std::string(where), "prepare TLS credential",
                        "a certificate and a private key are required");
        std::shared_ptr<prepared_credential> p(new prepared_credential);
        for (auto& c : chain) {
            std::uint8_t* der = nullptr;
            int len = i2d_X509(c.get(), &der);
            if (len <= 0)
                fail(where, "encoding a certificate as DER failed");
            bssl::UniquePtr<std::uint8_t> owner(der);
            bssl::UniquePtr<CRYPTO_BUFFER> buf(
                CRYPTO_BUFFER_new(der, static_cast<std::size_t>(len), nullptr));
            if (!buf)
                fail(where, "allocating a certificate buffer failed");
            p->raw_.push_back(buf.get());
            p->owned_.push_back(std::move(buf));
        }
        p->key_ = bssl::UpRef(key.get());
        p->fingerprint_ = std::move(sha256_fingerprint);

        bssl::UniquePtr<SSL_CTX> scratch(SSL_CTX_new(TLS_with_buffers_method()));
        if (!scratch)
            fail(where, "creating a TLS context failed");
        if (!SSL_CTX_set_chain_and_key(scratch.get(), p->raw_.data(), p->raw_.size(), p->key_.get(),
                                       nullptr)) {
            ERR_clear_error();
            throw error(
                errc::key_mismatch, std::string(where), "prepare TLS credential",
                "BoringSSL does not accept the pair as a server credential (the private key "
                "does not match the certificate)");
        }
        return p;
    }

    /// The chain, leaf first, as SSL_set_chain_and_key wants it.
    std::span<CRYPTO_BUFFER* const> chain() const noexcept { return raw_; }
    EVP_PKEY* key() const noexcept { return key_.get(); }
    /// SHA-256 of the leaf certificate, "AB:CD:...".
    const std::string& sha256_fingerprint() const noexcept { return fingerprint_; }

    /// Installs this credential on one connection (references only, no parsing).
    bool apply(SSL* ssl) const noexcept {
        return SSL_set_chain_and_key(ssl, raw_.data(), raw_.size(), key_.get(), nullptr) == 1;
    }

private:
    prepared_credential() = default;

    [[noreturn]] static void fail(std::string_view where, std::string cause) {
        ERR_clear_error();
        throw error(errc::crypto_failed, std::string(where), "prepare TLS credential",
                    std::move(cause));
    }

    std::vector<bssl::UniquePtr<CRYPTO_BUFFER>> owned_;
    std::vector<CRYPTO_BUFFER*> raw_;
    bssl::UniquePtr<EVP_PKEY> key_;
    std::string fingerprint_;
};

using prepared_ptr = std::shared_ptr<const prepared_credential>;

/**
 * A server TLS context whose credential is replaced atomically. Hand native_handle() to the
 * server (Boost.Asio: SSL_CTX_up_ref it and construct a `boost::asio::ssl::context` from it, as
 * examples/failover_https_server does); every new connection picks the credential published
 * last when it reaches the certificate step of its handshake; connections in flight keep theirs.
 * Session tickets (TLS 1.3 and 1.2) use BoringSSL's per-process key until use_ticket_keys()
 * attaches a keyring shared through the storage, so the servers of a pair resume each other's
 * sessions.
 *
 * The published slot is owned jointly by this object and by the SSL_CTX (ex_data), so a
 * connection that outlives this object still finishes its handshake; the service may outlive
 * it too (its listener holds a weak reference).
 *
 * Example:
 * @code
 *   fcs::tls::server_context tls;
 *   tls.follow(service);            // publishes service.current() and every later change
 *   SSL_CTX* ctx = tls.native_handle();
 * @endcode
 * @throws fcs::error from the constructor when BoringSSL refuses the settings.
 */
class server_context {
public:
    explicit server_context(const server_settings& s = {})
        : slot_(std::make_shared<slot>()) {
        ctx_.reset(SSL_CTX_new(TLS_with_buffers_method()));
        if (!ctx_)
            fail("creating the TLS context failed");
        if (!SSL_CTX_set_min_proto_version(ctx_.get(), s.min_version) ||
            !SSL_CTX_set_max_proto_version(ctx_.get(), s.max_version))
            fail("the protocol version range is not supported");
        if (!SSL_CTX_set_strict_cipher_list(ctx_.get(), s.tls12_ciphers.c_str()))
            fail("the cipher list '" + s.tls12_ciphers + "' is not valid");
        if (!SSL_CTX_set1_curves_list(ctx_.get(), s.curves.c_str()))
            fail("the curve list '" + s.curves + "' is not valid");
        if (!SSL_CTX_set_num_tickets(ctx_.get(), s.session_tickets))
            fail("the number of session tickets " + std::to_string(s.session_tickets) +
                 " is not valid");
        // The SSL_CTX keeps the slot alive as long as any connection holds the SSL_CTX.
        auto* keep = new std::shared_ptr<slot>(slot_);
        if (!SSL_CTX_set_ex_data(ctx_.get(), ex_index(), keep)) {
            delete keep;
            fail("attaching the credential slot failed");
        }
        SSL_CTX_set_cert_cb(ctx_.get(), &on_certificate, slot_.get());
        SSL_CTX_set_select_certificate_cb(ctx_.get(), &on_client_hello);
        SSL_CTX_set_alpn_select_cb(ctx_.get(), &on_alpn, nullptr);
    }

    server_context(const server_context&) = delete;
    server_context& operator=(const server_context&) = delete;

    /// Publishes a prepared credential for new handshakes (one atomic store).
    void publish(prepared_ptr p) noexcept { slot_->publish(std::move(p)); }

    /**
     * Prepares and publishes a credential of the core (fcs::credential<crypto::boringssl>:
     * `chain`, `key`, `info.sha256_fingerprint`, `name`).
     * @throws fcs::error when it cannot be prepared; the credential in use stays.
     */
    template <class Credential>
    requires requires(const Credential& c) {
        c.chain;
        c.key;
        c.info.sha256_fingerprint;
    }
    void publish(const Credential& c) {
        publish(prepared_credential::make(c.chain, c.key, c.info.sha256_fingerprint, c.name));
    }

    /**
     * Publishes the service's pair now and every pair it publishes later (on_change). A pair
     * that cannot be prepared is not published: it is counted in publish_failures() and kept
     * in last_error(), and the credential in use stays.
     * @tparam Service an fcs::FailoverCertService with the BoringSSL backend; when it is
     *         started, its pair is published at once.
     */
    template <class Service>
    void follow(Service& service) {
        static_assert(std::is_same_v<typename Service::crypto_type, crypto::boringssl>,
                      "fcs::tls::server_context::follow: the service must use the "
                      "fcs::crypto::boringssl backend (its credentials are BoringSSL handles)");
        std::weak_ptr<slot> weak = slot_;
        service.on_change([weak](const auto& cred) {
            auto s = weak.lock();
            if (!s || !cred)
                return; // this context is gone: nothing to update
            try {
                s->publish(prepared_credential::make(cred->chain, cred->key,
                                                     cred->info.sha256_fingerprint, cred->name));
            } catch (const std::exception& e) {
                std::lock_guard lock(s->error_mutex);
                s->last_error = e.what();
                s->failures.fetch_add(1, std::memory_order_relaxed);
            }
        });
        // Subscribed first, then the pair in use: if a change raced with the subscription,
        // publish again until what is published is what the service uses.
        for (auto c = service.current(); c;) {
            publish(*c);
            auto now = service.current();
            if (now == c)
                break;
            c = std::move(now);
        }
    }

    /**
     * Issues and accepts session tickets with `keys` (a keyring kept in step with the storage
     * by ticket_keys::sync) instead of BoringSSL's per-process key. Call before serving.
     * @throws fcs::error when BoringSSL refuses the callback.
     */
    void use_ticket_keys(const ticket_keys& keys) { keys.attach(ctx_.get()); }

    /**
     * Answers handshakes that offer ALPN `protocol` (and only those) with the credential
     * `provider` returns for their server name (SNI, empty when none), negotiating `protocol`;
     * when it returns null the handshake goes on as any other, without ALPN. This is how an
     * ACME tls-alpn-01 challenge (RFC 8737, "acme-tls/1") is answered on the service's own
     * port: see acme::challenge_responder::serve_on. Handshakes that do not offer `protocol`
     * cost one lookup in the ClientHello. Call before serving; one protocol per context.
     * @throws fcs::error(invalid_argument) for a protocol name longer than 255 bytes or empty.
     */
    void answer_alpn(std::string protocol,
                     std::function<prepared_ptr(std::string_view server_name)> provider) {
        if (protocol.empty() || protocol.size() > 255)
            throw error(errc::invalid_argument, protocol, "configure TLS",
                        "an ALPN protocol name is 1 to 255 bytes");
        if (slot_->alpn)
            throw error(errc::invalid_argument, protocol, "configure TLS",
                        "this context already answers ALPN " + slot_->alpn->protocol);
        slot_->alpn = std::make_shared<const alpn_answer>(
            alpn_answer{std::move(protocol), std::move(provider)});
    }

    /// The credential new handshakes get (null before the first publish).
    prepared_ptr current() const { return slot_->owned(); }

    /// Pairs follow() could not prepare, and the message of the last such failure.
    std::uint64_t publish_failures() const noexcept {
        return slot_->failures.load(std::memory_order_relaxed);
    }
    std::string last_error() const {
        std::lock_guard lock(slot_->error_mutex);
        return slot_->last_error;
    }

    /// The BoringSSL context (owned by this object; SSL_CTX_up_ref it to share).
    SSL_CTX* native_handle() const noexcept { return ctx_.get(); }

private:
    struct alpn_answer {
        std::string protocol;
        std::function<prepared_ptr(std::string_view)> provider;
    };

    /// The credential new handshakes get: a lock-free read on the handshake path
    /// (detail::published frees a replaced one once no handshake holds it).
    struct slot {
        detail::published<prepared_credential> credential;
        void publish(prepared_ptr p) { credential.publish(std::move(p)); }
        prepared_ptr owned() const { return credential.owned(); }

        /// Set by answer_alpn() before serving; read by handshakes.
        std::shared_ptr<const alpn_answer> alpn;

        std::atomic<std::uint64_t> failures{0};
        mutable std::mutex error_mutex;
        std::string last_error;
    };

    /// Per connection: set (to the context's alpn_answer) when this handshake is answered with
    /// the ALPN credential; the certificate callback then leaves it in place.
    static int ssl_ex_index() {
        static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
        return index;
    }

    /// The ALPN protocols a ClientHello offers contain `wanted` (RFC 7301 3.1 wire format;
    /// anything malformed: no).
    static bool offers(CBS list, std::string_view wanted) {
        CBS protocols;
        if (!CBS_get_u16_length_prefixed(&list, &protocols) || CBS_len(&list) != 0)
            return false;
        while (CBS_len(&protocols) > 0) {
            CBS name;
            if (!CBS_get_u8_length_prefixed(&protocols, &name))
                return false;
            if (std::string_view(reinterpret_cast<const char*>(CBS_data(&name)), CBS_len(&name)) ==
                wanted)
                return true;
        }
        return false;
    }

    /// The host_name of a server_name extension (RFC 6066 3), "" when there is none or it is
    /// malformed.
    static std::string_view host_name(const SSL_CLIENT_HELLO* hello) {
        const std::uint8_t* data = nullptr;
        std::size_t len = 0;
        if (!SSL_early_callback_ctx_extension_get(hello, TLSEXT_TYPE_server_name, &data, &len))
            return {};
        CBS ext, names;
        CBS_init(&ext, data, len);
        if (!CBS_get_u16_length_prefixed(&ext, &names))
            return {};
        while (CBS_len(&names) > 0) {
            std::uint8_t type = 0;
            CBS name;
            if (!CBS_get_u8(&names, &type) || !CBS_get_u16_length_prefixed(&names, &name))
                return {};
            if (type == TLSEXT_NAMETYPE_host_name)
                return {reinterpret_cast<const char*>(CBS_data(&name)), CBS_len(&name)};
        }
        return {};
    }

    /// First look at a ClientHello: a handshake that offers the answer_alpn() protocol, and
    /// for whose name a credential is pending, gets that credential (and that protocol).
    static ssl_select_cert_result_t on_client_hello(const SSL_CLIENT_HELLO* hello) {
        auto* keep = static_cast<std::shared_ptr<slot>*>(
            SSL_CTX_get_ex_data(SSL_get_SSL_CTX(hello->ssl), ex_index()));
        if (!keep || !*keep)
            return ssl_select_cert_success;
        // Set once before serving (answer_alpn): a plain read, nothing counted per handshake.
        const alpn_answer* answer = (*keep)->alpn.get();
        if (!answer)
            return ssl_select_cert_success;
        const std::uint8_t* data = nullptr;
        std::size_t len = 0;
        if (!SSL_early_callback_ctx_extension_get(
                hello, TLSEXT_TYPE_application_layer_protocol_negotiation, &data, &len))
            return ssl_select_cert_success;
        CBS list;
        CBS_init(&list, data, len);
        if (!offers(list, answer->protocol))
            return ssl_select_cert_success;
        prepared_ptr cred;
        try {
            cred = answer->provider(host_name(hello));
        } catch (...) {
            return ssl_select_cert_error;
        }
        if (!cred)
            return ssl_select_cert_success;
        if (!cred->apply(hello->ssl))
            return ssl_select_cert_error;
        SSL_set_ex_data(hello->ssl, ssl_ex_index(), const_cast<alpn_answer*>(answer));
        return ssl_select_cert_success;
    }

    /// ALPN: only a handshake answered in on_client_hello negotiates a protocol (its one);
    /// every other goes on without ALPN, as before answer_alpn() existed.
    static int on_alpn(SSL* ssl, const std::uint8_t** out, std::uint8_t* out_len,
                       const std::uint8_t* in, unsigned in_len, void*) {
        auto* answered = static_cast<alpn_answer*>(SSL_get_ex_data(ssl, ssl_ex_index()));
        if (!answered)
            return SSL_TLSEXT_ERR_NOACK;
        CBS protocols;
        CBS_init(&protocols, in, in_len);
        while (CBS_len(&protocols) > 0) {
            CBS name;
            if (!CBS_get_u8_length_prefixed(&protocols, &name))
                break;
            if (std::string_view(reinterpret_cast<const char*>(CBS_data(&name)), CBS_len(&name)) ==
                answered->protocol) {
                *out = CBS_data(&name);
                *out_len = static_cast<std::uint8_t>(CBS_len(&name));
                return SSL_TLSEXT_ERR_OK;
            }
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    static int ex_index() {
        static const int index = SSL_CTX_get_ex_new_index(
            0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
                delete static_cast<std::shared_ptr<slot>*>(ptr);
            });
        return index;
    }

    /// The certificate step of every handshake: a lock-free read, references only (the SSL
    /// holds its own references to the chain and key once apply() returns).
    static int on_certificate(SSL* ssl, void* arg) {
        if (SSL_get_ex_data(ssl, ssl_ex_index()))
            return 1; // answered with the ALPN credential (on_client_hello)
        auto p = static_cast<slot*>(arg)->credential.read();
        if (!p)
            return 0; // nothing published yet: fail this handshake
        return p->apply(ssl) ? 1 : 0;
    }

    [[noreturn]] static void fail(std::string cause) {
        throw error(errc::crypto_failed, "", "configure TLS",
                    crypto::with_ssl_error(std::move(cause)));
    }

    std::shared_ptr<slot> slot_;
    bssl::UniquePtr<SSL_CTX> ctx_;
};

} // namespace fcs::tls

#endif // FCS_TLS_SERVER_CONTEXT_HPP
