#ifndef FCS_STORAGE_ETCD_HPP
#define FCS_STORAGE_ETCD_HPP

// Storage in etcd (v3.4 and later) through its JSON gateway, for server groups beyond a pair.
// Needs Boost.Beast (header-only, libboost-dev); not part of the umbrella fcs/fcs.hpp.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/detail/json.hpp>
#include <fcs/detail/time.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/types.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/aead.h>
#include <openssl/base64.h>
#include <openssl/err.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fcs::storage {

/// How to reach etcd and protect what is stored there.
struct etcd_options {
    /// Gateway endpoints, "http://HOST:PORT" or "https://HOST:PORT" ("HOST:PORT" means http).
    /// Requests go to the last endpoint that answered and fail over to the others in turn.
    std::vector<std::string> endpoints;
    /// Key prefix: slot NAME is stored at PREFIX/slots/NAME, replaced bundles at
    /// PREFIX/archive/NAME/TAG, the key-encryption key check at PREFIX/kek-check.
    std::string prefix = "/fcs";
    /// 32-byte key-encryption key (raw, or base64 on one line), a regular file readable by its
    /// owner only (0600 or 0400). The private key and ticket keys are encrypted with it
    /// (AES-256-GCM) before they leave the node.
    std::filesystem::path kek_file;
    /// For https endpoints: the CA that signed etcd's certificate (empty: the system's), and
    /// the client certificate and key when etcd requires client certificates.
    std::filesystem::path ca_file, cert_file, key_file;
    /// etcd authentication (v3 auth): empty user means none. The password is `password`, or
    /// when that is empty the first line of `password_file` (a regular file readable by its
    /// owner only, at most 4 KiB; read when the storage is built, never logged).
    std::string user;
    secret_bytes password;
    std::filesystem::path password_file;
    /// One attempt at one endpoint (connect, send, answer).
    std::chrono::milliseconds request_timeout{3000};
    /// All attempts of one operation (failover, a leader election): after it, errc::unavailable.
    std::chrono::milliseconds operation_timeout{12000};
    /// Largest stored bundle (etcd's own request limit is 1.5 MiB).
    std::size_t max_value_size = 1u << 20;
    /// Where this node keeps the highest bundle generation it has accepted per slot, so that
    /// after a restart it still refuses an older bundle copied back into etcd (a rollback to
    /// an old key). Empty: the KEK file's path with ".generations" appended. The file is
    /// written like the KEK (0600, replaced atomically); when it cannot be written the
    /// generations are kept in memory only and open() says so.
    std::filesystem::path generations_file;

    /**
     * Parses "etcd://HOST:PORT[,HOST:PORT...]/PREFIX" (http) or "etcds://..." (https).
     * @throws fcs::error(errc::invalid_argument) naming the URL.
     */
    static etcd_options from_url(std::string_view url) {
        etcd_options o;
        std::string scheme;
        if (url.starts_with("etcd://"))
            scheme = "http://";
        else if (url.starts_with("etcds://"))
            scheme = "https://";
        else
            throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                        "expected etcd://HOST:PORT[,HOST:PORT...]/PREFIX or etcds://...");
        auto rest = url.substr(url.find("://") + 3);
        auto slash = rest.find('/');
        auto hosts = rest.substr(0, slash);
        o.prefix = slash == std::string_view::npos ? "/fcs" : std::string(rest.substr(slash));
        while (!hosts.empty()) {
            auto comma = hosts.find(',');
            auto h = hosts.substr(0, comma);
            if (h.empty() || h.find(':') == std::string_view::npos)
                throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                            "each endpoint must be HOST:PORT");
            o.endpoints.push_back(scheme + std::string(h));
            hosts = comma == std::string_view::npos ? std::string_view{} : hosts.substr(comma + 1);
        }
        if (o.endpoints.empty())
            throw error(errc::invalid_argument, std::string(url), "parse storage URL",
                        "no endpoint given");
        return o;
    }
};

/// How a watch reconnects.
struct etcd_watch_options {
    std::chrono::milliseconds retry_min{200};  ///< first wait after a failure
    std::chrono::milliseconds retry_max{2000}; ///< the wait doubles up to this
    /// A watch stream is reopened after this long even when healthy, so a silent member
    /// (partitioned, not closed) is left within this time.
    std::chrono::milliseconds session{15000};
};

namespace etcd_detail {

namespace json = fcs::detail::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using clock = std::chrono::steady_clock;

inline constexpr std::size_t max_response = 8u << 20;   ///< a range of all slots
inline constexpr std::size_t max_watch_line = 4u << 20; ///< one watch event (a bundle in base64)
/// Version 2 authenticates the whole bundle (certificate included) with an HMAC under a key
/// derived from the KEK, over the prefix, the slot and a generation. Version 1 sealed only the
/// key and ticket keys: its certificate could be swapped unnoticed, so it is refused.
inline constexpr std::string_view bundle_format = "fcs-etcd-bundle-2";
inline constexpr std::string_view old_bundle_format = "fcs-etcd-bundle-1";
inline constexpr std::string_view generations_format = "fcs-etcd-generations-1";
inline constexpr std::string_view check_format = "fcs-etcd-kek-check-1";
inline constexpr std::string_view check_text = "fcs etcd key-encryption key check";

inline std::string b64(std::span<const std::uint8_t> in) {
    std::size_t len = 0;
    if (!EVP_EncodedLength(&len, in.size()))
        throw error(errc::too_large, "", "base64", "input too large");
    std::string out(len, '\0');
    out.resize(EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out.data()), in.data(), in.size()));
    return out;
}
inline std::string b64(std::string_view s) {
    return b64(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
template <class Bytes>
bool unb64(std::string_view in, Bytes& out) {
    std::size_t max = 0;
    if (!EVP_DecodedLength(&max, in.size()))
        return false;
    out.resize(max);
    std::size_t n = 0;
    if (!EVP_DecodeBase64(reinterpret_cast<std::uint8_t*>(out.data()), &n, max,
                          reinterpret_cast<const std::uint8_t*>(in.data()), in.size())) {
        out.clear();
        return false;
    }
    out.resize(n);
    return true;
}
inline std::optional<std::string> unb64_text(std::string_view in) {
    std::string out;
    if (!unb64(in, out))
        return std::nullopt;
    return out;
}

/// The end of the range of keys that start with `p` (etcd's "prefix" range_end).
inline std::string prefix_end(std::string p) {
    while (!p.empty()) {
        auto& c = reinterpret_cast<unsigned char&>(p.back());
        if (c < 0xff) {
            ++c;
            return p;
        }
        p.pop_back();
    }
    return std::string(1, '\0');
}

/**
 * The bytes of `file`, a regular file only its owner may read (mode 0600 or 0400, owned by
 * this user or read by root), opened without following a symbolic link, at most `limit` bytes.
 * @throws fcs::error naming the file: errc::not_found, errc::unsafe_file (a link, not a regular
 *         file, too open, another user's), errc::too_large, errc::io_failed.
 */
inline secret_bytes read_private_file(const std::filesystem::path& file, const std::string& step,
                                      std::size_t limit) {
    const std::string shown = file.string();
    int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        throw error(e == ENOENT  ? errc::not_found
                    : e == ELOOP ? errc::unsafe_file
                                 : errc::io_failed,
                    shown, step,
                    e == ELOOP ? "is a symbolic link; refusing to follow it" : std::strerror(e));
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw error(errc::unsafe_file, shown, step, "not a regular file");
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw error(errc::unsafe_file, shown, step,
                    std::string("permissions ") + mode +
                        " are too open; it must be readable by its owner only (chmod 600)");
    }
    if (st.st_uid != ::geteuid() && ::geteuid() != 0)
        throw error(errc::unsafe_file, shown, step, "owned by another user");
    secret_bytes raw(limit + 1);
    std::size_t got = 0;
    while (got < raw.size()) {
        ssize_t n = ::read(fd, raw.data() + got, raw.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw error(errc::io_failed, shown, step, std::strerror(errno));
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    if (got > limit)
        throw error(errc::too_large, shown, step,
                    "larger than " + std::to_string(limit) + " bytes");
    raw.resize(got);
    return raw;
}

/// The etcd password: the first line of a file only its owner may read (CR LF or LF ends it).
inline secret_bytes load_password(const std::filesystem::path& file) {
    auto pw = read_private_file(file, "load etcd password", 4096);
    pw.erase(std::find(pw.begin(), pw.end(), '\n'), pw.end());
    if (!pw.empty() && pw.back() == '\r')
        pw.pop_back();
    if (pw.empty())
        throw error(errc::invalid_argument, file.string(), "load etcd password",
                    "the file holds no password (its first line is empty)");
    return pw;
}

/// The 32-byte key-encryption key, read from a file only its owner may read.
inline secret_bytes load_kek(const std::filesystem::path& file) {
    const std::string shown = file.string();
    if (file.empty())
        throw error(errc::invalid_argument, "", "load key-encryption key",
                    "no key-encryption key file given (the etcd storage encrypts keys with it)");
    auto raw = read_private_file(file, "load key-encryption key", 256);
    if (raw.size() == 32)
        return raw;
    // base64 of 32 bytes on one line (`openssl rand -base64 32`)
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r'))
        raw.pop_back();
    secret_bytes key;
    if (raw.size() == 44 && unb64(as_text(raw), key) && key.size() == 32)
        return key;
    throw error(
        errc::invalid_argument, shown, "load key-encryption key",
        "must hold exactly 32 bytes (raw, or base64 on one line: openssl rand -base64 32 > FILE)");
}

/// AES-256-GCM with a random 96-bit nonce; the associated data binds the item to its place.
struct sealed {
    std::string nonce; ///< base64
    std::string data;  ///< base64 of ciphertext and tag
};

inline sealed seal(const secret_bytes& kek, std::span<const std::uint8_t> plain,
                   std::string_view ad) {
    bssl::ScopedEVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_256_gcm(), kek.data(), kek.size(),
                           EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr))
        throw error(errc::crypto_failed, "", "encrypt", "AES-256-GCM set-up failed");
    std::uint8_t nonce[12];
    RAND_bytes(nonce, sizeof nonce);
    std::vector<std::uint8_t> out(plain.size() + EVP_AEAD_max_overhead(EVP_aead_aes_256_gcm()));
    std::size_t n = 0;
    if (!EVP_AEAD_CTX_seal(ctx.get(), out.data(), &n, out.size(), nonce, sizeof nonce, plain.data(),
                           plain.size(), reinterpret_cast<const std::uint8_t*>(ad.data()),
                           ad.size()))
        throw error(errc::crypto_failed, "", "encrypt", "AES-256-GCM encryption failed");
    out.resize(n);
    return {b64(std::span<const std::uint8_t>(nonce, sizeof nonce)), b64(out)};
}

/// nullopt when the KEK does not decrypt it (wrong key, or the value was altered).
inline std::optional<secret_bytes> open_sealed(const secret_bytes& kek, const sealed& s,
                                               std::string_view ad) {
    std::vector<std::uint8_t> nonce, data;
    if (!unb64(s.nonce, nonce) || !unb64(s.data, data) || nonce.size() != 12)
        return std::nullopt;
    bssl::ScopedEVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(ctx.get(), EVP_aead_aes_256_gcm(), kek.data(), kek.size(),
                           EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr))
        throw error(errc::crypto_failed, "", "decrypt", "AES-256-GCM set-up failed");
    secret_bytes out(data.size());
    std::size_t n = 0;
    if (!EVP_AEAD_CTX_open(ctx.get(), out.data(), &n, out.size(), nonce.data(), nonce.size(),
                           data.data(), data.size(),
                           reinterpret_cast<const std::uint8_t*>(ad.data()), ad.size())) {
        ERR_clear_error();
        return std::nullopt;
    }
    out.resize(n);
    return out;
}

inline const char* part_name(part p) {
    // Each part its own field: metadata once shared "ticket_keys" with the ticket keys.
    return p == part::certificate   ? "certificate"
           : p == part::private_key ? "private_key"
           : p == part::ticket_keys ? "ticket_keys"
                                    : "metadata";
}

/// An endpoint split into its parts.
struct endpoint {
    std::string url, host, port;
    bool tls = false;
};

inline endpoint parse_endpoint(const std::string& url) {
    endpoint e;
    e.url = url;
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        e.tls = true;
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.find("://") != std::string_view::npos) {
        throw error(errc::invalid_argument, url, "configure etcd",
                    "endpoints must be http:// or https://");
    }
    if (auto slash = rest.find('/'); slash != std::string_view::npos)
        rest = rest.substr(0, slash);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw error(errc::invalid_argument, url, "configure etcd",
                    "an endpoint must name HOST:PORT");
    e.host = std::string(rest.substr(0, colon));
    e.port = std::string(rest.substr(colon + 1));
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
        e.host = e.host.substr(1, e.host.size() - 2);
    e.url = (e.tls ? "https://" : "http://") + std::string(rest);
    return e;
}

/// Runs one asynchronous operation to completion on an io_context that has no other work.
/// With `stop`, a concurrent stop (see gateway::stoppable) ends it with operation_aborted.
template <class Init>
beast::error_code await(net::io_context& ioc, Init&& init, std::mutex* stop_mutex = nullptr,
                        const bool* stopping = nullptr) {
    beast::error_code result = net::error::operation_aborted;
    bool done = false;
    init([&](beast::error_code ec, auto&&...) {
        result = ec;
        done = true;
    });
    {
        std::unique_lock<std::mutex> lock;
        if (stop_mutex) {
            lock = std::unique_lock(*stop_mutex);
            if (*stopping)
                return net::error::operation_aborted;
        }
        ioc.restart();
    }
    ioc.run();
    return done ? result : beast::error_code(net::error::operation_aborted);
}

/// One HTTP answer.
struct http_answer {
    unsigned status = 0;
    std::string body;
};

/// What an answer that is not a success says: etcd's message, or (the gateway's plain-text
/// refusals) the status and the first line of the body, printable and bounded.
inline std::string refusal_text(const http_answer& a, const std::optional<json::value>& doc) {
    std::string m;
    if (doc && doc->is_object())
        m = doc->string_at("message").value_or(doc->string_at("error").value_or(""));
    if (m.empty()) {
        m = "HTTP " + std::to_string(a.status);
        std::string line;
        for (char c : a.body) {
            if (c == '\n' || line.size() >= 200)
                break;
            line += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        if (!line.empty())
            m += ": " + line;
    }
    if (m.find("CommonName of client") != std::string::npos)
        m += " (with authentication on, etcd's JSON gateway refuses a client certificate that "
             "has a CommonName: use one whose subject has no CN)";
    return m;
}

/// A transport failure (connect, TLS, send, receive): try another endpoint.
struct transport_failure {
    std::string what;
};

/// A stream to one endpoint, plain or TLS.
class connection {
public:
    connection(net::io_context& ioc, net::ssl::context* tls_ctx, const endpoint& ep)
        : ep_(ep)
        , tcp_(ioc) {
        if (ep.tls) {
            if (!tls_ctx)
                throw transport_failure{"TLS is not configured"};
            tls_.emplace(ioc, *tls_ctx);
        }
    }

    void open(net::io_context& ioc, clock::time_point deadline, std::mutex* m = nullptr,
              const bool* stop = nullptr) {
        tcp::resolver resolver(ioc);
        tcp::resolver::results_type results;
        auto ec = await(
            ioc,
            [&](auto h) {
                resolver.async_resolve(
                    ep_.host, ep_.port,
                    [&results, h](beast::error_code e, tcp::resolver::results_type r) mutable {
                        results = std::move(r);
                        h(e);
                    });
            },
            m, stop);
        if (ec)
            throw transport_failure{"resolve " + ep_.host + ": " + ec.message()};
        lowest().expires_at(deadline);
        ec = await(
            ioc, [&](auto h) { lowest().async_connect(results, h); }, m, stop);
        if (ec)
            throw transport_failure{"connect: " + ec.message()};
        if (tls_) {
            // The peer must be the host we asked for: its name (also sent as SNI, RFC 6066
            // allows names only) or its IP address in the certificate's subjectAltName.
            SSL* ssl = tls_->native_handle();
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            beast::error_code ip_ec;
            net::ip::make_address(ep_.host, ip_ec);
            if (ip_ec) {
                SSL_set_tlsext_host_name(ssl, ep_.host.c_str());
                X509_VERIFY_PARAM_set1_host(param, ep_.host.data(), ep_.host.size());
            } else {
                X509_VERIFY_PARAM_set1_ip_asc(param, ep_.host.c_str());
            }
            lowest().expires_at(deadline);
            ec = await(
                ioc, [&](auto h) { tls_->async_handshake(net::ssl::stream_base::client, h); }, m,
                stop);
            if (ec)
                throw transport_failure{"TLS handshake: " + ec.message()};
        }
    }

    beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : tcp_; }

    template <class F>
    auto with_stream(F&& f) {
        if (tls_)
            return f(*tls_);
        return f(tcp_);
    }

private:
    endpoint ep_;
    beast::tcp_stream tcp_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

inline http::request<http::string_body> make_request(const endpoint& ep, std::string_view path,
                                                     std::string body, const std::string& token) {
    http::request<http::string_body> req{http::verb::post, std::string(path), 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "fcs-etcd");
    if (!token.empty())
        req.set(http::field::authorization, token);
    // Refuse to talk to a member that has lost its leader (watch and linearizable reads).
    req.set("Grpc-Metadata-hasleader", "true");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

/// The client side of the gateway: endpoints, TLS, auth token, failover and retries.
class gateway {
public:
    explicit gateway(const etcd_options& o)
        : opts_(o) {
        if (o.endpoints.empty())
            throw error(errc::invalid_argument, "", "configure etcd", "no etcd endpoint given");
        bool any_tls = false;
        for (auto& e : o.endpoints) {
            endpoints_.push_back(parse_endpoint(e));
            any_tls = any_tls || endpoints_.back().tls;
        }
        const bool tls_files = !o.ca_file.empty() || !o.cert_file.empty() || !o.key_file.empty();
        if (tls_files && !any_tls)
            throw error(errc::invalid_argument, endpoint_list(), "configure etcd",
                        "a CA, client certificate or client key is given but no endpoint is "
                        "https:// (etcds://)");
        if (o.cert_file.empty() != o.key_file.empty())
            throw error(errc::invalid_argument,
                        (o.cert_file.empty() ? o.key_file : o.cert_file).string(), "configure etcd",
                        "the client certificate and its key go together; give both or neither");
        if (o.user.empty() && (!o.password.empty() || !o.password_file.empty()))
            throw error(errc::invalid_argument, o.password_file.string(), "configure etcd",
                        "a password is given without a user name");
        if (!o.user.empty())
            for (auto& e : endpoints_)
                if (!e.tls)
                    // Refused before the password file is even read.
                    throw error(errc::invalid_argument, e.url, "configure etcd",
                                "authentication as etcd user " + o.user +
                                    " needs TLS on every endpoint: over http:// the password "
                                    "and the token etcd returns would cross the network "
                                    "unencrypted; use etcds://HOST:PORT[,...]/PREFIX (https:// "
                                    "endpoints) with etcd's CA, or no user");
        if (!o.user.empty()) {
            if (opts_.password.empty() && !o.password_file.empty())
                opts_.password = load_password(o.password_file);
            if (opts_.password.empty())
                throw error(errc::invalid_argument, "", "configure etcd",
                            "the etcd user " + o.user + " is given without a password");
        }
        if (any_tls) {
            tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
            tls_->set_verify_mode(net::ssl::verify_peer);
            beast::error_code ec;
            if (!o.ca_file.empty())
                tls_->load_verify_file(o.ca_file.string(), ec);
            else
                tls_->set_default_verify_paths(ec);
            if (ec)
                throw error(errc::io_failed, o.ca_file.string(), "load etcd CA certificates",
                            ec.message());
            if (!o.cert_file.empty()) {
                tls_->use_certificate_chain_file(o.cert_file.string(), ec);
                if (ec)
                    throw error(errc::io_failed, o.cert_file.string(),
                                "load etcd client certificate", ec.message());
                // Read once, checked like the KEK (regular file, 0600, owner, no link), and
                // loaded from those bytes: no second open by path after the check.
                auto key = read_private_file(o.key_file, "load etcd client key", 1u << 20);
                tls_->use_private_key(net::const_buffer(key.data(), key.size()),
                                      net::ssl::context::pem, ec);
                if (ec)
                    throw error(errc::io_failed, o.key_file.string(), "load etcd client key",
                                ec.message());
            }
        }
    }

    const std::vector<endpoint>& endpoints() const noexcept { return endpoints_; }
    std::string endpoint_list() const {
        std::string s;
        for (auto& e : endpoints_)
            s += (s.empty() ? "" : ",") + e.url;
        return s;
    }
    std::size_t preferred() const noexcept { return preferred_.load(); }
    void prefer(std::size_t i) noexcept { preferred_.store(i % endpoints_.size()); }
    net::ssl::context* tls() const noexcept { return tls_.get(); }

    std::string token() {
        std::lock_guard lock(token_mutex_);
        return token_;
    }

    /**
     * POSTs `body` to `path`, failing over across the endpoints and retrying what etcd calls
     * temporary (no leader, leader changed, timeouts) until `budget` has passed.
     * @throws fcs::error(errc::unavailable) when no endpoint answered; errc::io_failed when
     *         etcd refused the request; errc::parse_failed for an answer that is not JSON.
     */
    json::value call(std::string_view path, const std::string& body, std::string_view what,
                     std::optional<std::chrono::milliseconds> budget = std::nullopt) {
        auto deadline = clock::now() + budget.value_or(opts_.operation_timeout);
        std::string last_error = "no attempt";
        auto pause = std::chrono::milliseconds(50);
        bool reauthenticated = false;
        for (std::size_t attempt = 0;; ++attempt) {
            std::size_t index = (preferred() + attempt) % endpoints_.size();
            auto& ep = endpoints_[index];
            if (!opts_.user.empty() && token().empty()) {
                try {
                    authenticate(ep, deadline);
                } catch (const transport_failure& f) {
                    last_error = ep.url + ": " + f.what;
                    if (!wait_or_give_up(attempt, pause, deadline))
                        break;
                    continue;
                }
            }
            http_answer a;
            try {
                a = post(ep, path, body, token(),
                         std::min(deadline, clock::now() + opts_.request_timeout));
            } catch (const transport_failure& f) {
                last_error = ep.url + ": " + f.what;
                if (!wait_or_give_up(attempt, pause, deadline))
                    break;
                continue;
            }
            auto doc = json::parse(a.body);
            if (a.status == 200) {
                if (!doc || !doc->is_object())
                    throw error(errc::parse_failed, ep.url + std::string(path), std::string(what),
                                "the etcd gateway answered something that is not JSON");
                prefer(index);
                return std::move(*doc);
            }
            std::string message = refusal_text(a, doc);
            auto code = doc && doc->is_object() ? doc->int_at("code").value_or(0) : 0;
            last_error = ep.url + ": " + message;
            if (code == 16 && !opts_.user.empty() && !reauthenticated) { // token expired
                reauthenticated = true;
                std::lock_guard lock(token_mutex_);
                token_.clear();
                continue;
            }
            // 14 unavailable (no leader, leader changed), 4 deadline exceeded, 10 aborted,
            // 8 resource exhausted; a 5xx without a code: try another member after a pause.
            bool temporary = code == 14 || code == 4 || code == 10 || code == 8 ||
                             (code == 0 && a.status >= 500);
            if (!temporary)
                throw error(code == 16 || code == 7 ? errc::invalid_argument : errc::io_failed,
                            ep.url + std::string(path), std::string(what),
                            "etcd refused the request: " + message);
            if (!wait_or_give_up(attempt, pause, deadline))
                break;
        }
        throw error(errc::unavailable, endpoint_list(), std::string(what),
                    "no etcd endpoint answered in time (last error: " + last_error + ")");
    }

    /// One POST to one endpoint. Throws transport_failure.
    /// With `secret`, the body (a password) is cleansed as soon as it is sent or not sent.
    http_answer post(const endpoint& ep, std::string_view path, std::string body,
                     const std::string& token, clock::time_point deadline, bool secret = false) {
        struct cleanse_on_exit {
            std::string* s;
            ~cleanse_on_exit() {
                if (s)
                    OPENSSL_cleanse(s->data(), s->size());
            }
        };
        cleanse_on_exit body_guard{secret ? &body : nullptr};
        net::io_context ioc;
        connection c(ioc, tls_.get(), ep);
        c.open(ioc, deadline);
        auto req = make_request(ep, path, std::move(body), token);
        cleanse_on_exit req_guard{secret ? &req.body() : nullptr};
        c.lowest().expires_at(deadline);
        auto ec = await(
            ioc, [&](auto h) { c.with_stream([&](auto& s) { http::async_write(s, req, h); }); });
        if (ec)
            throw transport_failure{"send: " + ec.message()};
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_response);
        parser.header_limit(16 * 1024);
        ec = await(ioc, [&](auto h) {
            c.with_stream([&](auto& s) { http::async_read(s, buf, parser, h); });
        });
        if (ec)
            throw transport_failure{"receive: " + ec.message()};
        http_answer a;
        a.status = parser.get().result_int();
        a.body = std::move(parser.get().body());
        beast::error_code ignored;
        c.lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        return a;
    }

private:
    bool wait_or_give_up(std::size_t attempt, std::chrono::milliseconds& pause,
                         clock::time_point deadline) {
        // After a round over every endpoint, pause (a leader election takes about a second).
        if ((attempt + 1) % endpoints_.size() == 0) {
            if (clock::now() + pause >= deadline)
                return false;
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::milliseconds(1000));
        }
        return clock::now() < deadline;
    }

    void authenticate(const endpoint& ep, clock::time_point deadline) {
        // One buffer, reserved for the worst case so no reallocation leaves a copy of the
        // password behind; post() cleanses it once sent.
        std::string body;
        body.reserve(32 + 6 * (opts_.user.size() + opts_.password.size()));
        body += "{\"name\":";
        json::append_quoted(body, opts_.user);
        body += ",\"password\":";
        json::append_quoted(body, as_text(opts_.password));
        body += '}';
        auto a = post(ep, "/v3/auth/authenticate", std::move(body), "",
                      std::min(deadline, clock::now() + opts_.request_timeout), true);
        auto doc = json::parse(a.body);
        auto token = doc ? doc->string_at("token") : std::nullopt;
        if (a.status != 200 || !token)
            throw error(errc::invalid_argument, ep.url + "/v3/auth/authenticate",
                        "authenticate as " + opts_.user,
                        (doc && doc->is_object() ? "etcd refused the user name or password: "
                                                 : "etcd refused the request: ") +
                            refusal_text(a, doc));
        std::lock_guard lock(token_mutex_);
        token_ = *token;
    }

    etcd_options opts_;
    std::vector<endpoint> endpoints_;
    std::unique_ptr<net::ssl::context> tls_;
    std::atomic<std::size_t> preferred_{0};
    std::mutex token_mutex_;
    std::string token_;
};

/**
 * The integer member `key` of `v` (etcd's int64 revisions and versions, sent as decimal
 * strings), 0 when absent.
 * @throws fcs::error(errc::parse_failed) naming `where` when the member is not an integer in the
 *         int64 range: it is never wrapped around, nor read as 0 (a revision 0 means "absent").
 */
inline std::int64_t int_field(const json::value& v, std::string_view key,
                              const std::string& where) {
    std::int64_t out = 0;
    switch (v.int_status_at(key, out)) {
    case json::value::int_status::ok:
        return out;
    case json::value::int_status::absent:
        return 0;
    case json::value::int_status::out_of_range:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is out of the 64-bit integer range");
    default:
        throw error(errc::parse_failed, where, "read etcd's answer",
                    "\"" + std::string(key) + "\" is not an integer");
    }
}

/// The store revision in an answer's header (0 when it has none).
inline std::int64_t header_revision(const json::value& doc, const std::string& where) {
    auto* h = doc.find("header");
    return h ? int_field(*h, "revision", where) : 0;
}

/// A key-value pair from a range or a watch event.
struct kv {
    std::string key;
    std::string value; ///< decoded
    std::int64_t mod_revision = 0;
    std::int64_t create_revision = 0;
    std::int64_t version = 0;
};

inline std::vector<kv> kvs_of(const json::value& doc, std::size_t max_value) {
    std::vector<kv> out;
    auto* arr = doc.find("kvs");
    if (!arr || !arr->is_array())
        return out;
    for (auto& item : arr->items) {
        kv k;
        auto key = unb64_text(item.string_at("key").value_or(""));
        auto value = unb64_text(item.string_at("value").value_or(""));
        if (!key || !value)
            throw error(errc::parse_failed, "", "read etcd", "a key or value is not valid base64");
        if (value->size() > max_value)
            throw error(errc::too_large, *key, "read etcd",
                        "the stored value is larger than " + std::to_string(max_value) + " bytes");
        k.key = std::move(*key);
        k.value = std::move(*value);
        k.mod_revision = int_field(item, "mod_revision", "etcd:" + k.key);
        k.create_revision = int_field(item, "create_revision", "etcd:" + k.key);
        k.version = int_field(item, "version", "etcd:" + k.key);
        out.push_back(std::move(k));
    }
    return out;
}

/// One slot as read: its raw value and revision, and its decrypted parts (or why not).
struct slot_entry {
    std::string raw;
    std::int64_t mod_revision = 0;
    std::map<part, secret_bytes> parts;
    std::int64_t generation = 0;  ///< from the authenticated bundle
    std::optional<error> problem; ///< the value cannot be used (decryption, format, rollback)
    /// A problem a full re-import may overwrite (an old-format bundle, a rolled-back one): the
    /// admin's way out. A bundle that fails authentication is never overwritten.
    bool replaceable = false;
};

/// HMAC-SHA256 input: each field as an 8-byte big-endian length and its bytes.
inline void mac_field(std::string& out, std::string_view v) {
    for (int i = 7; i >= 0; --i)
        out += static_cast<char>((static_cast<std::uint64_t>(v.size()) >> (8 * i)) & 0xff);
    out += v;
}

/**
 * The highest bundle generation accepted per etcd slot key, kept in a file (see
 * etcd_options::generations_file). One process-wide lock serializes the read-merge-replace
 * of the file; the merge keeps the maximum, so nodes sharing the file only raise values.
 */
struct generations_store {
    std::filesystem::path file;
    /// Whose file it is: a root process (an admin's `status` with sudo) gives it the owner
    /// of this file (the KEK), so the service, running as that user, can still read it.
    std::filesystem::path owner_like;

    static std::mutex& file_mutex() {
        static std::mutex m;
        return m;
    }

    /// What the file holds (empty when it does not exist).
    /// @throws fcs::error naming the file when it is unsafe (see read_private_file) or malformed.
    std::map<std::string, std::int64_t> load() const {
        std::map<std::string, std::int64_t> out;
        secret_bytes raw;
        try {
            raw = read_private_file(file, "load etcd bundle generations", 1u << 20);
        } catch (const error& e) {
            if (e.fcs_code() == errc::not_found)
                return out;
            throw;
        }
        std::string_view text = as_text(raw);
        auto bad = [&](const std::string& why) {
            return error(errc::parse_failed, file.string(), "load etcd bundle generations",
                         why + " (remove the file to start over: rollback protection then "
                               "restarts from what etcd holds now)");
        };
        auto nl = text.find('\n');
        if (text.substr(0, nl) != generations_format)
            throw bad("not an fcs generations file");
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!text.empty()) {
            nl = text.find('\n');
            auto line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            auto sp = line.find(' ');
            std::int64_t g = 0;
            auto digits = line.substr(0, sp);
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), g);
            if (sp == std::string_view::npos || ec != std::errc() ||
                end != digits.data() + digits.size() || g <= 0 || sp + 1 == line.size())
                throw bad("a line is not GENERATION KEY");
            auto& v = out[std::string(line.substr(sp + 1))];
            v = std::max(v, g);
        }
        return out;
    }

    /// Raises the entries to `update` (never lowers one) and replaces the file atomically.
    /// @throws fcs::error naming the file when it cannot be read or written.
    void merge(const std::map<std::string, std::int64_t>& update) const {
        std::lock_guard lock(file_mutex());
        auto all = load();
        for (auto& [k, g] : update)
            all[k] = std::max(all[k], g);
        std::string text = std::string(generations_format) + "\n";
        for (auto& [k, g] : all)
            text += std::to_string(g) + " " + k + "\n";
        static std::atomic<unsigned> counter{0};
        auto tmp = file;
        tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            throw error(errc::io_failed, tmp.string(), "save etcd bundle generations",
                        std::strerror(errno));
        std::size_t done = 0;
        bool ok = true;
        struct stat owner {};
        if (::geteuid() == 0 && !owner_like.empty() && ::stat(owner_like.c_str(), &owner) == 0 &&
            ::fchown(fd, owner.st_uid, owner.st_gid) != 0)
            ok = false;
        while (ok && done < text.size()) {
            ssize_t n = ::write(fd, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            ok = n > 0;
            done += ok ? static_cast<std::size_t>(n) : 0;
        }
        int err = ok ? 0 : errno;
        if (ok && ::fsync(fd) != 0) {
            ok = false;
            err = errno;
        }
        ::close(fd);
        if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
            ok = false;
            err = errno;
        }
        if (!ok) {
            ::unlink(tmp.c_str());
            throw error(errc::io_failed, file.string(), "save etcd bundle generations",
                        std::strerror(err));
        }
    }
};

/// What a storage and its watches share.
struct state {
    explicit state(etcd_options o)
        : opts(std::move(o))
        , kek(load_kek(opts.kek_file))
        , gw(opts) {
        while (opts.prefix.size() > 1 && opts.prefix.back() == '/')
            opts.prefix.pop_back();
        if (opts.prefix.empty() || opts.prefix == "/")
            opts.prefix = "";
        // A key of its own for the MAC: the KEK itself stays the AES-GCM key only.
        static constexpr std::string_view info = "fcs-etcd-bundle-2 mac key";
        mac_key.resize(32);
        if (!HKDF(mac_key.data(), mac_key.size(), EVP_sha256(), kek.data(), kek.size(), nullptr, 0,
                  reinterpret_cast<const std::uint8_t*>(info.data()), info.size()))
            throw error(errc::crypto_failed, "", "derive the bundle MAC key", "HKDF failed");
        if (opts.generations_file.empty()) {
            opts.generations_file = opts.kek_file;
            opts.generations_file += ".generations";
        }
        generations.file = opts.generations_file;
        generations.owner_like = opts.kek_file;
        for (auto& [key, g] : generations.load())
            if (key.starts_with(slots_prefix()) &&
                valid_slot_name(key.substr(slots_prefix().size())))
                seen[key.substr(slots_prefix().size())] = g;
    }
    etcd_options opts;
    secret_bytes kek;
    secret_bytes mac_key;
    gateway gw;
    std::mutex mutex; ///< guards the snapshot, seen and revision_seen
    std::map<std::string, slot_entry> snapshot;
    bool have_snapshot = false;
    /// The highest generation accepted per slot (this node's rollback guard), and the file
    /// that keeps it across restarts.
    std::map<std::string, std::int64_t> seen;
    generations_store generations;

    /// Records `g` as seen for `name`; saves the file when it raised the value. Lock held.
    void raise_seen(const std::string& name, std::int64_t g) {
        auto& v = seen[name];
        if (g <= v)
            return;
        v = g;
        try {
            generations.merge({{slot_key(name), g}});
        } catch (const error&) {
            // Kept in memory: open() said when the file cannot be written.
        }
    }

    std::string slots_prefix() const { return opts.prefix + "/slots/"; }
    std::string slot_key(const std::string& name) const { return slots_prefix() + name; }
    std::string archive_key(const std::string& name, const std::string& tag) const {
        return opts.prefix + "/archive/" + name + "/" + tag;
    }
    std::string check_key() const { return opts.prefix + "/kek-check"; }
    std::string kek_shown() const { return opts.kek_file.string(); }

    std::string ad(const std::string& name, part p) const {
        return std::string(bundle_format) + '\0' + opts.prefix + '\0' + name + '\0' + part_name(p);
    }

    /// The MAC of a bundle: every field it holds, the prefix and the slot, under mac_key.
    /// `text(p)` is the stored text of part p (the certificate's base64, or a sealed part's
    /// "alg nonce data"), nullopt when absent.
    template <class Text>
    std::string bundle_mac(const std::string& name, const std::string& generation,
                           const std::string& written_by, const std::string& written_at,
                           Text&& text) const {
        std::string in;
        mac_field(in, bundle_format);
        mac_field(in, opts.prefix);
        mac_field(in, name);
        mac_field(in, generation);
        mac_field(in, written_by);
        mac_field(in, written_at);
        for (part p : {part::certificate, part::private_key, part::ticket_keys, part::metadata}) {
            auto t = text(p);
            mac_field(in, part_name(p));
            mac_field(in, t ? "1" : "0");
            if (t)
                for (auto& f : *t)
                    mac_field(in, f);
        }
        std::uint8_t out[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (!HMAC(EVP_sha256(), mac_key.data(), mac_key.size(),
                  reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), out, &len))
            throw error(errc::crypto_failed, "", "authenticate the bundle", "HMAC failed");
        return b64(std::span<const std::uint8_t>(out, len));
    }

    /// The bundle value of `parts` for slot `name`: the certificate in clear, the rest sealed.
    std::string encode_bundle(const std::string& name, const std::map<part, secret_bytes>& parts,
                              std::int64_t generation) const {
        const std::string gen = std::to_string(generation), by = host(), at = now_text();
        std::string s = "{\"format\":" + json::quote(bundle_format) +
                        ",\"slot\":" + json::quote(name) + ",\"generation\":" + json::quote(gen);
        s += ",\"written_by\":" + json::quote(by) + ",\"written_at\":" + json::quote(at);
        std::map<part, std::vector<std::string>> texts;
        for (auto& [p, data] : parts) {
            if (p == part::certificate) {
                texts[p] = {b64(data)};
                s += ",\"certificate\":" + json::quote(texts[p][0]);
            } else {
                auto sl = seal(kek, data, ad(name, p));
                texts[p] = {"AES-256-GCM", sl.nonce, sl.data};
                s += ",\"" + std::string(part_name(p)) +
                     "\":{\"alg\":\"AES-256-GCM\",\"nonce\":" + json::quote(sl.nonce) +
                     ",\"data\":" + json::quote(sl.data) + "}";
            }
        }
        auto mac = bundle_mac(name, gen, by, at, [&](part p) {
            auto it = texts.find(p);
            return it == texts.end() ? std::nullopt : std::optional(it->second);
        });
        return s + ",\"mac\":" + json::quote(mac) + "}";
    }

    slot_entry decode_bundle(const std::string& name, const kv& k) const {
        slot_entry e;
        e.raw = k.value;
        e.mod_revision = k.mod_revision;
        const std::string where = "etcd:" + slot_key(name);
        auto doc = json::parse(k.value);
        auto format = doc ? doc->string_at("format") : std::nullopt;
        if (format == std::string(old_bundle_format)) {
            e.problem = error(errc::parse_failed, where, "read",
                              "the bundle is in the old format " + std::string(old_bundle_format) +
                                  ", whose certificate is not authenticated (whoever can write "
                                  "to etcd could swap it), so it is not used: import the pair "
                                  "again (the replace command, or install()), which rewrites "
                                  "it as " +
                                  std::string(bundle_format));
            e.replaceable = true;
            return e;
        }
        if (!doc || format != std::string(bundle_format)) {
            e.problem = error(errc::parse_failed, where, "read", "not an fcs certificate bundle");
            return e;
        }
        if (doc->string_at("slot") != name) {
            e.problem = error(errc::wrong_password, where, "read",
                              "the bundle was written for the slot " +
                                  doc->string_at("slot").value_or("(none)").substr(0, 64) +
                                  ", not this one (copied from another slot)");
            return e;
        }
        std::int64_t generation = 0;
        auto gen_text = doc->string_at("generation").value_or("");
        if (doc->int_status_at("generation", generation) != json::value::int_status::ok ||
            generation <= 0) {
            e.problem = error(errc::parse_failed, where, "read",
                              "the bundle's generation is not a positive 64-bit integer");
            return e;
        }
        // Authenticate everything before using anything.
        bool malformed = false;
        auto text = [&](part p) -> std::optional<std::vector<std::string>> {
            auto* v = doc->find(part_name(p));
            if (!v)
                return std::nullopt;
            if (p == part::certificate) {
                if (!v->is_string())
                    malformed = true;
                return std::vector<std::string>{v->text};
            }
            return std::vector<std::string>{v->string_at("alg").value_or(""),
                                            v->string_at("nonce").value_or(""),
                                            v->string_at("data").value_or("")};
        };
        auto expected = bundle_mac(name, gen_text, doc->string_at("written_by").value_or(""),
                                   doc->string_at("written_at").value_or(""), text);
        auto mac = doc->string_at("mac").value_or("");
        if (malformed || mac.size() != expected.size() ||
            CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) != 0) {
            e.problem =
                error(errc::wrong_password, where, "authenticate the bundle",
                      "the key-encryption key " + kek_shown() +
                          " cannot authenticate the stored bundle (it was written with a different "
                          "key-encryption key, or altered: a certificate swapped in, or a bundle "
                          "copied from another slot or prefix); it is not used");
            return e;
        }
        e.generation = generation;
        for (part p : {part::certificate, part::private_key, part::ticket_keys, part::metadata}) {
            auto* v = doc->find(part_name(p));
            if (!v)
                continue;
            if (p == part::certificate) {
                secret_bytes cert;
                if (!unb64(v->text, cert)) {
                    e.problem = error(errc::parse_failed, where, "read",
                                      "the certificate is not valid base64");
                    e.parts.clear();
                    return e;
                }
                e.parts[p] = std::move(cert);
                continue;
            }
            sealed sl{v->string_at("nonce").value_or(""), v->string_at("data").value_or("")};
            if (v->string_at("alg") != std::string("AES-256-GCM")) {
                e.problem = error(errc::unsupported_cipher, where, "read",
                                  "the key is not sealed with AES-256-GCM");
                e.parts.clear();
                return e;
            }
            auto plain = open_sealed(kek, sl, ad(name, p));
            if (!plain) {
                e.problem =
                    error(errc::wrong_password, kek_shown(), "decrypt " + where,
                          "this key-encryption key cannot decrypt the stored " +
                              std::string(part_name(p)) +
                              " (it was written with a different key-encryption key, or altered)");
                e.parts.clear();
                return e;
            }
            e.parts[p] = std::move(*plain);
        }
        return e;
    }

    /// Refuses `e` when its generation is older than the one this node has accepted for
    /// `name` (an archived bundle copied back); else records it. Lock held.
    void check_generation(const std::string& name, slot_entry& e) {
        if (e.problem)
            return;
        auto it = seen.find(name);
        if (it != seen.end() && e.generation < it->second) {
            e.problem = error(
                errc::conflict, "etcd:" + slot_key(name), "read",
                "refused a rollback: the stored bundle has generation " +
                    std::to_string(e.generation) + ", older than generation " +
                    std::to_string(it->second) +
                    " this node has already used (an older bundle was copied back?); the pair "
                    "in use is kept. Import the pair that should be served (the replace "
                    "command); if etcd itself was rebuilt on purpose, remove " +
                    generations.file.string() + " on each node");
            e.parts.clear();
            e.replaceable = true;
            return;
        }
        raise_seen(name, e.generation);
    }

    /// A store revision no older than this moment: generations derive from it.
    std::int64_t fresh_revision() {
        auto doc = gw.call("/v3/kv/range",
                           "{\"key\":" + json::quote(b64(check_key())) + ",\"keys_only\":true}",
                           "read the etcd revision");
        return header_revision(doc, "etcd:" + check_key());
    }

    static std::string host() {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
            return "localhost";
        return buf;
    }
    static std::string now_text() { return detail::iso8601(std::chrono::system_clock::now()); }

    /// Reads every slot at one revision and replaces the snapshot.
    void refresh() {
        auto p = slots_prefix();
        auto doc = gw.call("/v3/kv/range",
                           "{\"key\":" + json::quote(b64(p)) + ",\"range_end\":" +
                               json::quote(b64(prefix_end(p))) + ",\"limit\":\"10000\"}",
                           "read " + p);
        std::map<std::string, slot_entry> fresh;
        for (auto& k : kvs_of(doc, opts.max_value_size)) {
            std::string name = k.key.substr(p.size());
            if (!valid_slot_name(name))
                continue; // not ours: never listed, never touched
            fresh[name] = decode_bundle(name, k);
        }
        std::lock_guard lock(mutex);
        for (auto& [name, e] : fresh)
            check_generation(name, e);
        snapshot = std::move(fresh);
        have_snapshot = true;
    }
};

/// Text for a txn's compare of one key: absent (create_revision 0) or at `rev`.
inline std::string compare_json(const std::string& key, std::int64_t rev) {
    if (rev == 0)
        return "{\"key\":" + json::quote(b64(key)) +
               ",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}";
    return "{\"key\":" + json::quote(b64(key)) +
           ",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"" + std::to_string(rev) +
           "\"}";
}
inline std::string put_json(const std::string& key, const std::string& value) {
    return "{\"request_put\":{\"key\":" + json::quote(b64(key)) +
           ",\"value\":" + json::quote(b64(value)) + "}}";
}

} // namespace etcd_detail

/**
 * A watch on one slot: a thread that keeps an etcd watch stream open (the gateway's
 * /v3/watch, reopened after etcd_watch_options::session) and calls `on_change` after every
 * change of the slot's key, and once after (re)connecting when the key changed meanwhile.
 * When etcd cannot be reached it calls `on_log` with an error, waits (doubling up to
 * retry_max) and tries the next endpoint; the service keeps the pair it serves.
 * Callbacks run on the watch thread; the destructor stops and joins it (bounded by the
 * request timeout), so a callback must not destroy its watch.
 */
class etcd_watch {
public:
    using change_fn = std::function<void()>;
    using log_fn = std::function<void(policy::level, const std::string&)>;

    etcd_watch(std::shared_ptr<etcd_detail::state> st, std::string name, change_fn on_change,
               log_fn on_log, etcd_watch_options o)
        : st_(std::move(st))
        , name_(std::move(name))
        , key_(st_->slot_key(name_))
        , on_change_(std::move(on_change))
        , on_log_(std::move(on_log))
        , opts_(o) {
        {
            std::lock_guard lock(st_->mutex);
            auto it = st_->snapshot.find(name_);
            last_ = it == st_->snapshot.end() ? 0 : it->second.mod_revision;
        }
        thread_ = std::thread([this] { run(); });
    }
    ~etcd_watch() {
        {
            std::lock_guard lock(stop_mutex_);
            stopping_ = true;
            if (ioc_)
                ioc_->stop();
        }
        cv_.notify_all();
        if (thread_.joinable())
            thread_.join();
    }
    etcd_watch(const etcd_watch&) = delete;
    etcd_watch& operator=(const etcd_watch&) = delete;

    /// True while a watch stream is open.
    bool connected() const noexcept { return connected_.load(); }
    /// Failed connection attempts so far.
    std::uint64_t failures() const noexcept { return failures_.load(); }

private:
    struct stream_end {
        std::string why; ///< empty: the session ended normally
    };

    void log(policy::level l, const std::string& m) {
        if (!on_log_)
            return;
        try {
            on_log_(l, m);
        } catch (...) {
        }
    }
    void changed() {
        try {
            on_change_();
        } catch (const std::exception& e) {
            log(policy::level::error,
                "etcd:" + key_ + ": reload after a change failed: " + e.what());
        }
        // What the storage refused in the slot (a bundle that fails authentication, a
        // rollback, an old format): said once per cause, since the reload keeps the pair in use
        // and reports only that.
        std::string refused;
        {
            std::lock_guard lock(st_->mutex);
            auto it = st_->snapshot.find(name_);
            if (it != st_->snapshot.end() && it->second.problem)
                refused = it->second.problem->what();
        }
        if (!refused.empty() && refused != refused_said_)
            log(policy::level::error, "not used: " + refused);
        refused_said_ = std::move(refused);
    }
    bool stopping() {
        std::lock_guard lock(stop_mutex_);
        return stopping_;
    }
    void note(std::int64_t rev) {
        if (rev != last_) {
            last_ = rev;
            changed();
        }
    }

    void run() {
        std::size_t attempt = 0;
        while (!stopping()) {
            std::string why;
            try {
                // Catch up first: a change while the stream was closed is not missed.
                auto doc =
                    st_->gw.call("/v3/kv/range",
                                 "{\"key\":" + etcd_detail::json::quote(etcd_detail::b64(key_)) +
                                     ",\"keys_only\":true}",
                                 "watch etcd:" + key_, st_->opts.request_timeout * 2);
                auto kvs = etcd_detail::kvs_of(doc, st_->opts.max_value_size);
                auto rev = etcd_detail::header_revision(doc, "etcd:" + key_);
                note(kvs.empty() ? 0 : kvs.front().mod_revision);
                auto index = st_->gw.preferred();
                auto end = session(st_->gw.endpoints()[index], rev + 1);
                if (end.why.empty())
                    continue;
                why = st_->gw.endpoints()[index].url + ": " + end.why;
                st_->gw.prefer(index + 1);
            } catch (const error& e) {
                why = e.what();
            } catch (const etcd_detail::transport_failure& f) {
                why = f.what;
                st_->gw.prefer(st_->gw.preferred() + 1);
            } catch (const std::exception& e) {
                why = e.what();
            }
            if (stopping())
                break;
            failures_.fetch_add(1);
            if (!down_ || ++attempt % 10 == 0)
                log(policy::level::error, "etcd:" + key_ + ": cannot watch for changes (" + why +
                                              "); still serving the pair in use; retrying");
            if (!down_)
                attempt = 0;
            down_ = true;
            std::unique_lock lock(stop_mutex_);
            cv_.wait_for(lock, pause_, [&] { return stopping_; });
            pause_ = std::min(pause_ * 2, opts_.retry_max);
        }
    }

    /// One watch stream from `start_rev`; returns when the session ends, fails or is stopped.
    stream_end session(const etcd_detail::endpoint& ep, std::int64_t start_rev) {
        namespace http = etcd_detail::http;
        etcd_detail::net::io_context ioc;
        {
            std::lock_guard lock(stop_mutex_);
            if (stopping_)
                return {};
            ioc_ = &ioc;
        }
        struct unregister {
            etcd_watch* w;
            ~unregister() {
                std::lock_guard lock(w->stop_mutex_);
                w->ioc_ = nullptr;
            }
        } guard{this};
        auto now = etcd_detail::clock::now();
        etcd_detail::connection c(ioc, st_->gw.tls(), ep);
        c.open(ioc, now + st_->opts.request_timeout, &stop_mutex_, &stopping_);
        auto body =
            "{\"create_request\":{\"key\":" + etcd_detail::json::quote(etcd_detail::b64(key_)) +
            ",\"start_revision\":\"" + std::to_string(start_rev) + "\"}}";
        auto req = etcd_detail::make_request(ep, "/v3/watch", body, st_->gw.token());
        c.lowest().expires_at(now + st_->opts.request_timeout);
        auto ec = etcd_detail::await(
            ioc, [&](auto h) { c.with_stream([&](auto& s) { http::async_write(s, req, h); }); },
            &stop_mutex_, &stopping_);
        if (ec)
            return {"send watch: " + ec.message()};
        std::string line, failure;
        bool created = false;
        auto on_line = [&](std::string_view text) {
            auto doc = etcd_detail::json::parse(text);
            if (!doc) {
                failure = "the watch stream sent something that is not JSON";
                return false;
            }
            if (auto* err = doc->find("error")) {
                failure = "etcd ended the watch: " + err->string_at("message").value_or("error");
                return false;
            }
            auto* result = doc->find("result");
            if (!result)
                return true;
            if (result->bool_at("created")) {
                created = true;
                connected_ = true;
                pause_ = opts_.retry_min;
                if (down_)
                    log(policy::level::info, "etcd:" + key_ + ": watching again (" + ep.url + ")");
                down_ = false;
            }
            if (result->bool_at("canceled")) {
                failure = "etcd canceled the watch: " +
                          result->string_at("cancel_reason").value_or("compacted");
                return false;
            }
            if (auto* events = result->find("events"); events && events->is_array()) {
                for (auto& ev : events->items) {
                    auto* k = ev.find("kv");
                    if (!k)
                        continue;
                    bool deleted = ev.string_at("type") == std::string("DELETE");
                    using st = etcd_detail::json::value::int_status;
                    std::int64_t rev = last_ + 1; // absent: a change all the same
                    auto got = deleted ? st::ok : k->int_status_at("mod_revision", rev);
                    if (got == st::out_of_range || got == st::not_an_integer) {
                        failure = "a watch event's mod_revision is not a 64-bit integer";
                        return false;
                    }
                    note(deleted ? 0 : rev);
                }
            }
            return true;
        };
        std::function<std::size_t(std::uint64_t, etcd_detail::beast::string_view,
                                  etcd_detail::beast::error_code&)>
            chunk = [&](std::uint64_t, etcd_detail::beast::string_view data,
                        etcd_detail::beast::error_code& e) -> std::size_t {
            for (char ch : data) {
                if (ch == '\n') {
                    if (!line.empty() && !on_line(line)) {
                        e = etcd_detail::net::error::operation_aborted;
                        return data.size();
                    }
                    line.clear();
                } else if (line.size() >= etcd_detail::max_watch_line) {
                    failure = "a watch event is larger than the bound";
                    e = etcd_detail::net::error::message_size;
                    return data.size();
                } else {
                    line += ch;
                }
            }
            return data.size();
        };
        etcd_detail::beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        // A chunked stream is bounded per line (chunk above) and in time (the session); any
        // other answer (a Content-Length, or a body up to the end of the connection) is bounded
        // as a whole: the limit checks a Content-Length with the header, and counts the bytes
        // of a body read to the end. It is lifted only once the header says "chunked".
        parser.body_limit(etcd_detail::max_watch_line);
        parser.header_limit(16 * 1024);
        parser.on_chunk_body(chunk);
        c.lowest().expires_at(now + opts_.session);
        ec = etcd_detail::await(
            ioc,
            [&](auto h) {
                c.with_stream([&](auto& s) { http::async_read_header(s, buf, parser, h); });
            },
            &stop_mutex_, &stopping_);
        if (!ec && !parser.is_done()) {
            if (parser.chunked())
                parser.body_limit(boost::none);
            ec = etcd_detail::await(
                ioc,
                [&](auto h) {
                    c.with_stream([&](auto& s) { http::async_read(s, buf, parser, h); });
                },
                &stop_mutex_, &stopping_);
        }
        connected_ = false;
        if (ec == http::error::body_limit)
            return {"the watch answer is not a chunked stream and is larger than " +
                    std::to_string(etcd_detail::max_watch_line) + " bytes"};
        if (!failure.empty())
            return {failure};
        if (parser.is_header_done() && parser.get().result_int() != 200) {
            auto doc = etcd_detail::json::parse(parser.get().body());
            return {"HTTP " + std::to_string(parser.get().result_int()) + ": " +
                    (doc ? doc->string_at("message").value_or("") : std::string())};
        }
        if (ec == etcd_detail::beast::error::timeout && created)
            return {}; // the session's time is up: reopen
        if (ec == etcd_detail::net::error::operation_aborted && stopping())
            return {};
        return {ec ? "watch stream: " + ec.message() : std::string("the watch stream ended")};
    }

    std::shared_ptr<etcd_detail::state> st_;
    std::string name_, key_;
    change_fn on_change_;
    log_fn on_log_;
    etcd_watch_options opts_;
    // Watch thread only:
    std::int64_t last_ = 0;    ///< the key's last known mod_revision (0: absent)
    bool down_ = false;        ///< the last attempt failed (an error was logged)
    std::string refused_said_; ///< the slot's refusal last logged
    std::chrono::milliseconds pause_ = opts_.retry_min;
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> failures_{0};
    std::mutex stop_mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    etcd_detail::net::io_context* ioc_ = nullptr;
    std::thread thread_;
};

/**
 * Storage in etcd for a server group: every node of the group serves the same pair.
 *
 * One etcd key per slot, PREFIX/slots/NAME, holds the whole bundle (certificate chain in
 * PEM, private key and ticket keys sealed with AES-256-GCM under the key-encryption key,
 * with the prefix, slot and part names as associated data; who wrote it and when; a
 * generation), so a change is one write. An HMAC-SHA256 under a key derived from the KEK
 * covers all of it with the prefix and the slot: a certificate swapped in, or a bundle copied
 * to another slot or prefix, is refused (errc::wrong_password). The generation is above every
 * etcd revision at the time of the write; each node refuses a bundle older than the newest it
 * has accepted for that slot (errc::conflict, "refused a rollback"), remembered in
 * etcd_options::generations_file across restarts. A bundle of the old format
 * (fcs-etcd-bundle-1, certificate not authenticated) is refused; a re-import (install(), the
 * replace command) overwrites it, as it overwrites a rolled-back one. commit() is one etcd
 * transaction that compares the slot's revision with the one this storage last read: absent
 * (create_revision 0) for a creation, mod_revision for a replacement. When another node or admin
 * changed the slot first it throws fcs::error(errc::conflict) and changes nothing;
 * FailoverCertService::start() then loads the winner's pair. A replaced bundle is copied to
 * PREFIX/archive/NAME/TAG in the same transaction.
 *
 * names() reads all slots at one etcd revision; read() answers from that snapshot, so a
 * certificate and its key never come from different writes.
 *
 * @throws fcs::error: errc::unavailable when no endpoint answers within operation_timeout;
 *         errc::wrong_password naming the KEK file when it cannot decrypt what is stored;
 *         errc::unsafe_file when the KEK file is too open.
 *
 * Example:
 * @code
 *   auto o = fcs::storage::etcd_options::from_url("etcd://10.0.0.1:2379,10.0.0.2:2379/fcs");
 *   o.kek_file = "/etc/fcs/kek";
 *   using service = fcs::FailoverCertService<fcs::storage::etcd, fcs::acl::none>;
 *   service svc({}, fcs::storage::etcd(o), fcs::acl::none{});
 *   svc.start();
 *   auto w = svc.storage().watch(svc.options().name, [&] { svc.reload(); });
 * @endcode
 */
class etcd {
public:
    using policy_kind = policy::kind::storage;

    /// Reads the KEK file (refused when too open). Does not contact etcd yet.
    explicit etcd(etcd_options o)
        : st_(std::make_shared<etcd_detail::state>(std::move(o))) {}

    const etcd_options& options() const noexcept { return st_->opts; }

    /// The endpoint requests go to first: the last one that answered (for status and tests).
    std::string preferred_endpoint() const { return st_->gw.endpoints()[st_->gw.preferred()].url; }

    /// Checks that etcd answers and that the KEK matches the group's (PREFIX/kek-check,
    /// created by the first node). Returns notes for the message log.
    std::vector<std::string> open(const protections&) { return open_checked(true); }

    /// open() for a status query: checks the key-encryption key against the group's check
    /// record when there is one, and writes nothing (no check record for a new prefix).
    std::vector<std::string> open_read_only(const protections&) { return open_checked(false); }

private:
    std::vector<std::string> open_checked(bool may_write) {
        using namespace etcd_detail;
        std::vector<std::string> notes;
        {
            // Can it be written? Checked without writing: open() also serves `status`.
            const auto& f = st_->generations.file;
            auto folder = f.parent_path().empty() ? std::filesystem::path(".") : f.parent_path();
            if (::access(folder.c_str(), W_OK | X_OK) != 0 ||
                (::access(f.c_str(), F_OK) == 0 && ::access(f.c_str(), W_OK) != 0))
                notes.push_back(f.string() + ": cannot be written (" + std::strerror(errno) +
                                "): the bundle generations this node accepts are kept in "
                                "memory only, so after a restart it cannot tell an older bundle "
                                "copied back into etcd (a rollback) from the current one");
        }
        const std::string key = st_->check_key();
        const std::string ad(check_format);
        for (int round = 0; round < 2; ++round) {
            auto doc = st_->gw.call("/v3/kv/range", "{\"key\":" + json::quote(b64(key)) + "}",
                                    "open etcd:" + key);
            auto kvs = kvs_of(doc, st_->opts.max_value_size);
            if (!kvs.empty()) {
                auto check = json::parse(kvs.front().value);
                sealed sl{check ? check->string_at("nonce").value_or("") : "",
                          check ? check->string_at("data").value_or("") : ""};
                auto plain = open_sealed(st_->kek, sl, ad);
                if (!plain || as_text(*plain) != check_text)
                    throw error(errc::wrong_password, st_->kek_shown(),
                                "open etcd storage " + st_->opts.prefix,
                                "this key-encryption key cannot decrypt the data in etcd (the "
                                "group uses a different "
                                "key-encryption key); use the group's key-encryption key file");
                return notes;
            }
            if (!may_write) {
                notes.push_back("etcd:" + key + ": no fcs data under this prefix yet");
                return notes;
            }
            auto sl = seal(
                st_->kek,
                std::span<const std::uint8_t>(
                    reinterpret_cast<const std::uint8_t*>(check_text.data()), check_text.size()),
                ad);
            std::string value = "{\"format\":" + json::quote(check_format) +
                                ",\"nonce\":" + json::quote(sl.nonce) +
                                ",\"data\":" + json::quote(sl.data) + "}";
            auto r = st_->gw.call("/v3/kv/txn",
                                  "{\"compare\":[" + compare_json(key, 0) + "],\"success\":[" +
                                      put_json(key, value) + "]}",
                                  "create etcd:" + key);
            if (r.bool_at("succeeded"))
                return notes; // the first node of the group
            // Another node created it at the same moment: check against theirs.
        }
        throw error(errc::conflict, "etcd:" + key, "open etcd storage",
                    "the key-encryption key check keeps changing");
    }

public:
    std::vector<std::string> names(part p) const {
        st_->refresh();
        std::lock_guard lock(st_->mutex);
        std::vector<std::string> out;
        for (auto& [name, e] : st_->snapshot)
            if (e.problem ? p != part::ticket_keys : e.parts.count(p) > 0)
                out.push_back(name);
        return out;
    }

    std::optional<stored_item> read(const std::string& name, part p) const {
        bool have = false;
        {
            std::lock_guard lock(st_->mutex);
            have = st_->have_snapshot;
        }
        if (!have)
            st_->refresh();
        std::lock_guard lock(st_->mutex);
        auto it = st_->snapshot.find(name);
        if (it == st_->snapshot.end())
            return std::nullopt;
        if (it->second.problem)
            throw *it->second.problem;
        auto pt = it->second.parts.find(p);
        if (pt == it->second.parts.end())
            return std::nullopt;
        return stored_item{pt->second, location(name, p), std::nullopt};
    }

    /// "etcd:PREFIX/slots/NAME/NAME.crt" (.key, .tickets): the part NAME.crt of the bundle
    /// stored at PREFIX/slots/NAME. The last component is the file name an export uses.
    std::string location(const std::string& name, part p) const {
        return "etcd:" + st_->slot_key(name) + "/" + failover_layout::file_name(name, p);
    }

    fcs::encoding encoding(part) const { return fcs::encoding::pem; }

    /// One etcd transaction for the whole change set (see the class comment).
    void commit(const change_set& c) {
        using namespace etcd_detail;
        struct planned {
            std::int64_t base_rev = 0;
            const slot_entry* base = nullptr;
            std::map<part, secret_bytes> parts;
            bool replaces = false;
            std::string value;
            std::int64_t generation = 0;
        };
        bool have = false;
        {
            std::lock_guard lock(st_->mutex);
            have = st_->have_snapshot;
        }
        if (!have) // a caller that never read (open() then install()): compare with what is there
                   // now
            st_->refresh();
        std::lock_guard lock(st_->mutex);
        // A re-import (certificate and key put together) may overwrite an old-format or a
        // rolled-back bundle; nothing of it is kept, and it is archived as it is.
        std::map<std::string, int> full_puts;
        for (auto& put : c.puts)
            if (put.part == part::certificate || put.part == part::private_key)
                full_puts[put.name] |= put.part == part::certificate ? 1 : 2;
        std::map<std::string, planned> plan;
        auto slot = [&](const std::string& name) -> planned& {
            if (!valid_slot_name(name))
                throw error(errc::invalid_argument, name, "commit", "not a valid certificate name");
            auto [it, fresh] = plan.try_emplace(name);
            if (fresh) {
                auto s = st_->snapshot.find(name);
                if (s != st_->snapshot.end()) {
                    if (s->second.problem &&
                        !(s->second.replaceable && full_puts[name] == 3 && c.expects.empty()))
                        throw *s->second.problem;
                    it->second.base = &s->second;
                    it->second.base_rev = s->second.mod_revision;
                    it->second.parts = s->second.parts; // none when it has a problem
                    it->second.replaces = s->second.problem.has_value();
                }
            }
            return it->second;
        };
        // The preconditions hold against the snapshot, and the transaction below compares
        // the snapshot's revision: so they hold in etcd at the moment of the write.
        for (auto& e : c.expects) {
            auto& pl = slot(e.name);
            auto it = pl.parts.find(e.part);
            if (it == pl.parts.end() ? e.data.has_value() : !e.data || *e.data != it->second)
                throw error(errc::conflict, location(e.name, e.part), "commit",
                            "changed since it was read (another node wrote it); nothing was "
                            "written");
        }
        for (auto& a : c.archives) {
            auto& pl = slot(a.name);
            pl.replaces = pl.replaces || pl.parts.erase(a.part) > 0;
        }
        for (auto& put : c.puts) {
            auto& pl = slot(put.name);
            pl.replaces = pl.replaces || pl.parts.count(put.part) > 0;
            pl.parts[put.part] = put.data;
        }
        if (plan.empty())
            return;
        // The generation of what is written: above every etcd revision up to now, so above
        // the generation of every bundle ever stored (each was derived from a revision older
        // than its own write), even one deleted since; and above what this node accepted.
        const std::int64_t now_rev = st_->fresh_revision();
        std::string compares, success, failure;
        auto add = [](std::string& list, const std::string& item) {
            list += (list.empty() ? "" : ",") + item;
        };
        for (auto& [name, pl] : plan) {
            const std::string key = st_->slot_key(name);
            add(compares, compare_json(key, pl.base_rev));
            if (pl.parts.empty()) {
                add(success, "{\"request_delete_range\":{\"key\":" + json::quote(b64(key)) + "}}");
            } else {
                auto seen = st_->seen.find(name);
                pl.generation = std::max({now_rev, pl.base ? pl.base->generation : 0,
                                          seen == st_->seen.end() ? 0 : seen->second}) +
                                1;
                pl.value = st_->encode_bundle(name, pl.parts, pl.generation);
                if (pl.value.size() > st_->opts.max_value_size)
                    throw error(errc::too_large, "etcd:" + key, "commit",
                                "the bundle is larger than " +
                                    std::to_string(st_->opts.max_value_size) + " bytes");
                add(success, put_json(key, pl.value));
            }
            if (pl.base && pl.replaces) {
                std::string tag =
                    (c.archive_tag.empty() ? std::string("untagged") : c.archive_tag) + "-r" +
                    std::to_string(pl.base_rev);
                add(success, put_json(st_->archive_key(name, tag), pl.base->raw));
            }
            add(failure, "{\"request_range\":{\"key\":" + json::quote(b64(key)) + "}}");
        }
        std::string slots; // what the message names: the slot, or each of them
        for (auto& [name, pl] : plan)
            slots += (slots.empty() ? "etcd:" : ", etcd:") + st_->slot_key(name);
        auto doc = st_->gw.call("/v3/kv/txn",
                                "{\"compare\":[" + compares + "],\"success\":[" + success +
                                    "],\"failure\":[" + failure + "]}",
                                "commit to " + slots);
        std::int64_t rev = header_revision(doc, slots);
        bool won = doc.bool_at("succeeded");
        std::map<std::string, std::int64_t> seen; // failure: what each slot holds now
        std::map<std::string, bool> ours;         // failure: it holds exactly our value
        if (!won) {
            // A retried request may have been applied the first time: then etcd holds exactly
            // our values (each write carries a fresh nonce, so no one else wrote the same).
            if (auto* responses = doc.find("responses"); responses && responses->is_array())
                for (auto& r : responses->items)
                    if (auto* range = r.find("response_range"))
                        for (auto& k : kvs_of(*range, st_->opts.max_value_size)) {
                            auto name = k.key.substr(st_->slots_prefix().size());
                            seen[name] = k.mod_revision;
                            if (plan.count(name) && !plan[name].value.empty() &&
                                plan[name].value == k.value) {
                                ours[name] = true;
                                rev = k.mod_revision;
                            }
                        }
            won = true;
            for (auto& [name, pl] : plan)
                won = won && (pl.value.empty() ? seen.count(name) == 0 : ours.count(name) > 0);
        }
        if (!won) {
            st_->have_snapshot = false; // the next read fetches what the winner wrote
            auto& [name, pl] = *plan.begin();
            auto it = seen.find(name);
            throw error(errc::conflict, "etcd:" + st_->slot_key(name), "commit",
                        std::string("another node or admin changed it first (") +
                            (pl.base_rev == 0
                                 ? "it was created"
                                 : "revision " + std::to_string(pl.base_rev) + " is gone") +
                            (it != seen.end() ? ", now at revision " + std::to_string(it->second)
                                              : std::string(", now deleted")) +
                            "); nothing was written: reload and try again");
        }
        for (auto& [name, pl] : plan) {
            if (pl.parts.empty()) {
                st_->snapshot.erase(name);
                continue;
            }
            slot_entry e;
            e.raw = pl.value;
            e.mod_revision = rev;
            e.generation = pl.generation;
            e.parts = std::move(pl.parts);
            st_->raise_seen(name, pl.generation);
            st_->snapshot[name] = std::move(e);
        }
    }

    void repair(const std::string&, part) {}

    /// The archived bundles (etcd keys below PREFIX/archive/), for status and tests.
    std::vector<std::string> archive_entries() const {
        using namespace etcd_detail;
        auto p = st_->opts.prefix + "/archive/";
        auto doc = st_->gw.call("/v3/kv/range",
                                "{\"key\":" + json::quote(b64(p)) +
                                    ",\"range_end\":" + json::quote(b64(prefix_end(p))) +
                                    ",\"keys_only\":true,\"limit\":\"10000\"}",
                                "list " + p);
        std::vector<std::string> out;
        for (auto& k : kvs_of(doc, st_->opts.max_value_size))
            out.push_back(k.key);
        return out;
    }

    /// Starts a watch on slot `name` (see etcd_watch). Keep the returned object while the
    /// service runs; `on_change` typically calls the service's reload().
    std::unique_ptr<etcd_watch> watch(const std::string& name, etcd_watch::change_fn on_change,
                                      etcd_watch::log_fn on_log = {},
                                      etcd_watch_options o = {}) const {
        return std::make_unique<etcd_watch>(st_, name, std::move(on_change), std::move(on_log), o);
    }

private:
    std::shared_ptr<etcd_detail::state> st_;
};
static_assert(policy::WatchableStorage<etcd>, "watch() is what fcs::reloader starts");

} // namespace fcs::storage

#endif // FCS_STORAGE_ETCD_HPP
