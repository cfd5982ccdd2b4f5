#ifndef FCS_TESTS_SUPPORT_TLS_PAIR_HPP
#define FCS_TESTS_SUPPORT_TLS_PAIR_HPP

// A client and a server SSL over a BIO pair in one thread: real BoringSSL handshakes without
// sockets, for unit tests of the handshake path.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace fcs::test {

struct handshake_result {
    bool ok = false;
    bool resumed = false;
    bssl::UniquePtr<SSL_SESSION> session; ///< the client's session after a ticket arrived
    std::string error;
};

/// The last ticket the client received (TLS 1.3 delivers them only through new_session_cb).
inline bssl::UniquePtr<SSL_SESSION>& last_ticket() {
    static thread_local bssl::UniquePtr<SSL_SESSION> s;
    return s;
}

inline std::string reason() {
    const char* r = ERR_reason_error_string(ERR_get_error());
    return r ? r : "handshake failed";
}

/// Runs one handshake; with `resume`, offers that session. Then moves one byte of
/// application data so a TLS 1.3 ticket reaches the client.
inline handshake_result handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                                  SSL_SESSION* resume = nullptr) {
    handshake_result r;
    last_ticket().reset();
    bssl::UniquePtr<SSL> server(SSL_new(server_ctx)), client(SSL_new(client_ctx));
    BIO *cb = nullptr, *sb = nullptr;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(client.get(), cb, cb);
    SSL_set_bio(server.get(), sb, sb);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    if (resume)
        SSL_set_session(client.get(), resume);
    bool c_done = false, s_done = false;
    for (int i = 0; i < 64 && !(c_done && s_done); ++i) {
        if (!c_done) {
            int rc = SSL_do_handshake(client.get());
            if (rc == 1)
                c_done = true;
            else if (SSL_get_error(client.get(), rc) != SSL_ERROR_WANT_READ) {
                r.error = "client: " + reason();
                ERR_clear_error();
                return r;
            }
        }
        if (!s_done) {
            int rc = SSL_do_handshake(server.get());
            if (rc == 1)
                s_done = true;
            else if (SSL_get_error(server.get(), rc) != SSL_ERROR_WANT_READ) {
                r.error = "server: " + reason();
                ERR_clear_error();
                return r;
            }
        }
    }
    if (!(c_done && s_done)) {
        r.error = "handshake did not finish";
        return r;
    }
    char byte = 'x';
    SSL_write(server.get(), &byte, 1);
    SSL_read(client.get(), &byte, 1);
    r.ok = true;
    r.resumed = SSL_session_reused(client.get()) == 1;
    r.session = last_ticket() ? std::move(last_ticket())
                              : bssl::UniquePtr<SSL_SESSION>(SSL_get1_session(client.get()));
    ERR_clear_error();
    return r;
}

/// A client context that trusts anything (the tests look at resumption, not at trust).
inline bssl::UniquePtr<SSL_CTX> permissive_client() {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL*, SSL_SESSION* s) {
        last_ticket().reset(s); // takes ownership
        return 1;
    });
    return ctx;
}

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_TLS_PAIR_HPP
