#ifndef FCS_ACME_CLIENT_HPP
#define FCS_ACME_CLIENT_HPP

// An ACME client (RFC 8555): one account, one order at a time, blocking. It takes every URL
// from the directory, keeps the Replay-Nonce of each answer for the next request (a badNonce
// refusal is retried with the nonce it carries), signs with ES256 (jwk for newAccount, kid
// afterwards, the protected "url" exactly the request URL), uses POST-as-GET to read
// authorizations, orders and the certificate, answers tls-alpn-01 or http-01 through a
// challenge_responder, finalizes with a CSR on a new key whose names are the order's, polls
// with Retry-After (bounded) or a short interval, and checks the chain against the key before
// handing it over. Everything the CA sends is bounded and checked before use.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/acme/challenges.hpp>
#include <fcs/acme/jws.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/crypto/boringssl/jose.hpp>
#include <fcs/detail/fs.hpp>
#include <fcs/detail/http_link.hpp>
#include <fcs/detail/json.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>
#include <fcs/tls/client.hpp>

#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fcs::acme {

/// How to reach the CA and who the account is.
struct client_options {
    /// The directory URL, https://HOST[:PORT]/PATH.
    std::string directory_url;
    /// The CA certificates (PEM) the directory is served with; empty: the system trust store.
    std::filesystem::path ca_file;
    /// Contact URLs for the account ("mailto:admin@example.com").
    std::vector<std::string> contacts;
    /// External Account Binding (RFC 8555 7.3.4), when the CA wants one: its key id and the
    /// HMAC key (decoded; read from a file only its owner may read).
    std::string eab_kid;
    secret_bytes eab_hmac_key;
    /// Each HTTP exchange (connect, TLS, request, answer).
    std::chrono::seconds request_timeout{30};
    /// Waiting for a challenge to be validated or an order to be issued, in all.
    std::chrono::seconds validation_timeout{300};
    /// Between polls when the CA gives no Retry-After, and the most a Retry-After is obeyed.
    std::chrono::milliseconds poll_interval{1000};
    std::chrono::seconds max_retry_after{60};
    /// badNonce refusals retried per request (each with the nonce the refusal carries; a CA
    /// may refuse any nonce, RFC 8555 6.5, and one that refuses ten in a row is broken).
    int bad_nonce_retries = 10;
    /// The key of each new certificate.
    key_type certificate_key = key_type::ec_p256;
};

/// An ACME problem document (RFC 7807) the CA answered with, or a local stand-in.
struct problem {
    std::string type;   ///< "urn:ietf:params:acme:error:badNonce", ...
    std::string detail; ///< the CA's words
    unsigned status = 0;
};

/// A failure of an ACME step: the CA refused (problem() says how), or it could not be asked.
class acme_error : public error {
public:
    acme_error(std::string url, std::string step, problem p)
        : error(errc::unavailable, std::move(url), std::move(step), describe(p))
        , problem_(std::move(p)) {}
    const acme::problem& problem() const noexcept { return problem_; }

private:
    static std::string describe(const acme::problem& p) {
        std::string s = p.type.empty() ? std::string("failed") : p.type;
        if (!p.detail.empty())
            s += ": " + p.detail;
        if (p.status)
            s += " (HTTP " + std::to_string(p.status) + ")";
        return s;
    }
    acme::problem problem_;
};

/// What an order produced: the chain (PEM, leaf first) and its new key (PKCS#8 PEM).
struct issued_pair {
    secret_bytes chain_pem;
    secret_bytes key_pem;
};

/// The identifiers as RFC 8555 writes them, checked (DNS names, IP addresses).
inline nlohmann::json identifiers_json(const std::vector<identifier>& ids) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& id : ids) {
        if (id.type == identifier::kind::dns)
            check_dns_name(id.value, "ACME identifier");
        else if (!ip_address_octets(id.value))
            throw error(errc::invalid_argument, id.value, "ACME identifier",
                        "not an IP address");
        out.push_back({{"type", id.type == identifier::kind::dns ? "dns" : "ip"},
                       {"value", id.value}});
    }
    return out;
}

/**
 * A PKCS#10 request (DER) for `key`, signed with it, asking for exactly `ids` as
 * subjectAltName (DNS names, IP addresses) and the first DNS name (if any) as common name.
 * @throws fcs::error (invalid_argument for a bad identifier, crypto_failed).
 */
inline std::vector<std::uint8_t> certificate_request_der(const crypto::boringssl::private_key& key,
                                                          const std::vector<identifier>& ids) {
    certificate_profile p;
    p.common_name.clear();
    for (auto& id : ids)
        (id.type == identifier::kind::dns ? p.dns_names : p.ip_addresses).push_back(id.value);
    return crypto::make_certificate_request(key, p);
}

/**
 * The External Account Binding HMAC key in `file`: base64url text as CAs hand it out (white
 * space around it ignored), in a file only its owner may read (detail::read_owner_only).
 * @throws fcs::error naming the file: unreadable, too open, not base64url, or empty.
 */
inline secret_bytes read_eab_key(const std::filesystem::path& file) {
    auto raw = fcs::detail::read_owner_only(file, "load the ACME EAB key", 4096);
    std::string_view text = as_text(raw);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    secret_bytes key;
    if (text.empty() || !base64url_decode(text, key) || key.empty())
        throw error(errc::parse_failed, file.string(), "load the ACME EAB key",
                    "expected the HMAC key as base64url text");
    return key;
}

namespace acme_detail {

namespace http = boost::beast::http;
namespace link = fcs::detail::http_link;

/// An https URL taken apart.
struct url_parts {
    link::endpoint ep; ///< host and port (the default 443 filled in)
    std::string target; ///< path and query, "/" at least
};

inline url_parts split_url(const std::string& url) {
    std::string_view rest = url;
    if (!rest.starts_with("https://"))
        throw error(errc::invalid_argument, url, "ACME", "ACME URLs must be https:// (RFC 8555 6.1)");
    if (url.size() > 4096)
        throw error(errc::invalid_argument, url.substr(0, 64) + "...", "ACME", "URL too long");
    rest.remove_prefix(8);
    url_parts u;
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        throw error(errc::invalid_argument, url, "ACME", "the URL names no host (or user info)");
    std::string_view host = authority, port = "443";
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            throw error(errc::invalid_argument, url, "ACME", "unclosed [IPv6] host");
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':')
                throw error(errc::invalid_argument, url, "ACME", "malformed host:port");
            port = authority.substr(close + 2);
        }
    } else if (authority.find(':') != authority.rfind(':')) {
        throw error(errc::invalid_argument, url, "ACME", "an IPv6 host must be in [brackets]");
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535 ||
        host.empty())
        throw error(errc::invalid_argument, url, "ACME", "malformed host or port");
    u.ep.tls = true;
    u.ep.host = std::string(host);
    u.ep.port = std::string(port);
    u.ep.url = "https://" + std::string(authority);
    return u;
}

/// One answer of the CA, with the headers ACME uses.
struct answer {
    unsigned status = 0;
    std::string body, location, replay_nonce, retry_after;
};

} // namespace acme_detail

/**
 * An ACME account at one CA, and the orders it places. Not thread-safe: one caller at a time
 * (the renewer's thread).
 *
 * Example:
 * @code
 *   auto responder = fcs::acme::challenge_responder::make();
 *   responder->serve_on(tls);                       // tls-alpn-01 on the server's own port
 *   fcs::acme::client acme(opts, fcs::acme::account_key::generate(), responder);
 *   auto pair = acme.order({{fcs::acme::identifier::kind::dns, "svc.example"}},
 *                          fcs::acme::challenge_type::tls_alpn_01);
 *   service.install(pair.chain_pem, pair.key_pem, opts.directory_url, "ACME key");
 * @endcode
 */
class client {
    using verb = boost::beast::http::verb;
    template <class Body>
    using request = boost::beast::http::request<Body>;

public:
    client(client_options o, account_key key, std::shared_ptr<challenge_responder> responder)
        : opts_(std::move(o))
        , key_(std::move(key))
        , responder_(std::move(responder))
        , tls_(tls_options(opts_)) {
        if (!responder_)
            throw error(errc::invalid_argument, "", "configure ACME",
                        "a challenge responder is required");
        (void)acme_detail::split_url(opts_.directory_url); // refuse a bad URL at once
    }

    /// What a client made from `o` would load first, checked now (the directory URL's form,
    /// the CA file: read and parsed): throws fcs::error naming the URL or the file, so a
    /// program refuses a bad configuration at start instead of in every renewal attempt.
    static void check(const client_options& o) {
        (void)acme_detail::split_url(o.directory_url);
        tls::client_context loaded(tls_options(o));
    }

    const account_key& key() const noexcept { return key_; }
    /// The account's URL (its "kid"), once register_account() has run.
    const std::string& account_url() const noexcept { return kid_; }

    /**
     * Makes the order in progress (in another thread) end at its next step with an
     * acme_error "stopped"; later calls fail the same way. Thread-safe.
     */
    void cancel() noexcept { cancelled_.store(true); }

    /**
     * Called (in the ordering thread) after an answer was added to the responder and before
     * the CA is asked to validate it (`added` true), and after it was withdrawn (false): a
     * server group shares the answers here (acme::renewer). An exception from it when adding
     * fails the order.
     */
    void on_answers(std::function<void(bool added)> f) { on_answers_ = std::move(f); }

    /// badNonce refusals retried so far, and HTTP requests sent (for tests and metrics).
    std::uint64_t bad_nonces() const noexcept { return bad_nonces_; }
    std::uint64_t requests() const noexcept { return requests_; }

    /**
     * Finds or creates the account of this key (newAccount, with the External Account
     * Binding when configured; a CA that requires one and none is configured is refused with
     * a message that says so).
     * @throws acme_error, fcs::error.
     */
    const std::string& register_account() {
        if (!kid_.empty())
            return kid_;
        auto& dir = directory();
        const std::string url = dir_url("newAccount");
        nlohmann::json payload = {{"termsOfServiceAgreed", true}};
        if (!opts_.contacts.empty())
            payload["contact"] = opts_.contacts;
        if (!opts_.eab_kid.empty()) {
            payload["externalAccountBinding"] =
                external_account_binding(opts_.eab_kid, opts_.eab_hmac_key, key_, url);
        } else if (auto* meta = fcs::detail::find(dir, "meta")) {
            if (auto* req = fcs::detail::find(*meta, "externalAccountRequired");
                req && req->is_boolean() && req->get<bool>())
                throw acme_error(url, "create the ACME account",
                                 {"urn:ietf:params:acme:error:externalAccountRequired",
                                  "the CA requires an External Account Binding: configure its "
                                  "key id and HMAC key file",
                                  0});
        }
        auto a = post(url, payload.dump(), "create the ACME account", /*use_jwk=*/true);
        if (a.location.empty())
            throw acme_error(url, "create the ACME account",
                             {"", "the CA answered without the account's Location", a.status});
        check_url(a.location, "the account URL");
        kid_ = a.location;
        return kid_;
    }

    /**
     * Places an order for `ids`, answers its challenges with `type`, finalizes it with a CSR on
     * a new key and downloads the chain. The chain is checked before it is returned: it
     * parses, its leaf is the new key's and names every identifier, and it is valid now.
     * @throws acme_error (the CA refused: its problem type and detail), fcs::error.
     */
    issued_pair order(const std::vector<identifier>& ids, challenge_type type) {
        if (ids.empty() || ids.size() > 100)
            throw error(errc::invalid_argument, "", "place an ACME order",
                        "an order names 1 to 100 identifiers");
        register_account();
        const std::string new_order = dir_url("newOrder");
        nlohmann::json payload = {{"identifiers", identifiers_json(ids)}};
        auto a = post(new_order, payload.dump(), "place the ACME order");
        if (a.location.empty())
            throw acme_error(new_order, "place the ACME order",
                             {"", "the CA answered without the order's Location", a.status});
        const std::string order_url = a.location;
        check_url(order_url, "the order URL");
        auto order = json_of(a, order_url, "place the ACME order");

        auto authzs = member(order, "authorizations", order_url, "read the order");
        if (!authzs.is_array() || authzs.empty() || authzs.size() > 100)
            throw bad_answer(order_url, "read the order", "no usable authorizations list");
        for (auto& az : authzs) {
            if (!az.is_string())
                throw bad_answer(order_url, "read the order", "an authorization is not a URL");
            authorize(az.get<std::string>(), type);
        }

        order = wait_order(order_url, {"ready", "valid"}, "wait for the order to be ready");
        auto key = crypto::boringssl{}.generate_key(opts_.certificate_key);
        if (string_of(order, "status") == "ready") {
            const std::string finalize =
                string_member(order, "finalize", order_url, "read the order");
            check_url(finalize, "the finalize URL");
            auto csr = certificate_request_der(key, ids);
            nlohmann::json fin = {{"csr", base64url(csr)}};
            post(finalize, fin.dump(), "finalize the ACME order");
        }
        order = wait_order(order_url, {"valid"}, "wait for the certificate");
        const std::string cert_url =
            string_member(order, "certificate", order_url, "read the order");
        check_url(cert_url, "the certificate URL");
        auto c = post(cert_url, "", "download the certificate", false, /*as_get=*/true,
                      "application/pem-certificate-chain");
        return check_chain(c.body, key, ids, cert_url);
    }

    /// The directory (fetched once).
    const nlohmann::json& directory() {
        if (directory_)
            return *directory_;
        auto a = exchange(verb::get, opts_.directory_url, "", "", "read the ACME directory");
        if (a.status != 200)
            throw acme_error(opts_.directory_url, "read the ACME directory", problem_of(a));
        auto d = json_of(a, opts_.directory_url, "read the ACME directory");
        if (!d.is_object())
            throw bad_answer(opts_.directory_url, "read the ACME directory", "not a JSON object");
        directory_ = std::move(d);
        return *directory_;
    }

private:
    using answer = acme_detail::answer;
    using clock = std::chrono::steady_clock;
    static constexpr std::size_t max_answer = 1u << 20; ///< JSON or a PEM chain

    static tls::client_options tls_options(const client_options& o) {
        tls::client_options t;
        t.ca_file = o.ca_file;
        t.purpose = "ACME CA";
        return t;
    }

    static acme_error bad_answer(const std::string& url, const std::string& step,
                                 const std::string& why) {
        return acme_error(url, step, {"", "the CA's answer is unusable: " + why, 0});
    }

    /// Only https URLs on the directory's own scheme rules; refuses anything else the CA
    /// (or someone in its place) names.
    static void check_url(const std::string& url, const std::string& what) {
        try {
            (void)acme_detail::split_url(url);
        } catch (const error& e) {
            throw acme_error(url, "follow " + what, {"", e.cause(), 0});
        }
    }

    std::string dir_url(const char* name) {
        auto& d = directory();
        auto* v = fcs::detail::find(d, name);
        if (!v || !v->is_string())
            throw bad_answer(opts_.directory_url, "read the ACME directory",
                             std::string("it names no ") + name + " URL");
        auto u = v->get<std::string>();
        check_url(u, std::string("the directory's ") + name);
        return u;
    }

    static nlohmann::json json_of(const answer& a, const std::string& url,
                                  const std::string& step) {
        auto d = fcs::detail::parse_json(a.body, max_answer);
        if (!d)
            throw bad_answer(url, step, "not JSON");
        return std::move(*d);
    }
    static std::string string_of(const nlohmann::json& j, std::string_view key) {
        auto* v = fcs::detail::find(j, key);
        return v && v->is_string() ? v->get<std::string>() : std::string();
    }
    static const nlohmann::json& member(const nlohmann::json& j, std::string_view key,
                                        const std::string& url, const std::string& step) {
        auto* v = fcs::detail::find(j, key);
        if (!v)
            throw bad_answer(url, step, "no \"" + std::string(key) + "\"");
        return *v;
    }
    static std::string string_member(const nlohmann::json& j, std::string_view key,
                                     const std::string& url, const std::string& step) {
        auto& v = member(j, key, url, step);
        if (!v.is_string())
            throw bad_answer(url, step, "\"" + std::string(key) + "\" is not a string");
        return v.get<std::string>();
    }

    static problem problem_of(const answer& a) {
        problem p;
        p.status = a.status;
        if (auto d = fcs::detail::parse_json(a.body, max_answer)) {
            p.type = string_of(*d, "type");
            p.detail = string_of(*d, "detail");
        }
        if (p.detail.size() > 1024)
            p.detail.resize(1024);
        if (p.type.size() > 256)
            p.type.resize(256);
        return p;
    }

    /// How long to wait before the next poll: the CA's Retry-After (seconds; bounded), else
    /// poll_interval.
    std::chrono::milliseconds wait_of(const answer& a) const {
        unsigned s = 0;
        auto& r = a.retry_after;
        auto [end, ec] = std::from_chars(r.data(), r.data() + r.size(), s);
        if (!r.empty() && ec == std::errc() && end == r.data() + r.size())
            return std::min<std::chrono::milliseconds>(std::chrono::seconds(s),
                                                       opts_.max_retry_after);
        return opts_.poll_interval;
    }

    /// Waits `d`, or less when cancelled (then throws).
    void pause(std::chrono::milliseconds d, const std::string& url) {
        const auto until = clock::now() + d;
        while (clock::now() < until) {
            check_cancelled(url);
            std::this_thread::sleep_for(
                std::min<clock::duration>(until - clock::now(), std::chrono::milliseconds(50)));
        }
        check_cancelled(url);
    }
    void check_cancelled(const std::string& url) const {
        if (cancelled_.load())
            throw acme_error(url, "ACME", {"", "stopped", 0});
    }

    /// Answers the challenge of `type` in the authorization at `url` and waits until the CA
    /// has validated it.
    void authorize(const std::string& url, challenge_type type) {
        check_url(url, "an authorization URL");
        auto a = post(url, "", "read the authorization", false, true);
        auto authz = json_of(a, url, "read the authorization");
        const auto status = string_of(authz, "status");
        if (status == "valid")
            return;
        if (status != "pending")
            throw acme_error(url, "read the authorization",
                             {"", "the authorization is " + status, a.status});
        auto& idj = member(authz, "identifier", url, "read the authorization");
        identifier id;
        id.value = string_member(idj, "value", url, "read the authorization");
        const auto id_type = string_member(idj, "type", url, "read the authorization");
        if (id_type == "ip")
            id.type = identifier::kind::ip;
        else if (id_type != "dns")
            throw bad_answer(url, "read the authorization", "identifier type " + id_type);
        auto& challenges = member(authz, "challenges", url, "read the authorization");
        const nlohmann::json* chosen = nullptr;
        if (challenges.is_array())
            for (auto& c : challenges)
                if (string_of(c, "type") == to_string(type))
                    chosen = &c;
        if (!chosen)
            throw acme_error(url, "answer the challenge",
                             {"", std::string("the CA offers no ") + to_string(type) +
                                      " challenge for " + id.value,
                              0});
        const std::string token = string_member(*chosen, "token", url, "read the challenge");
        const std::string ch_url = string_member(*chosen, "url", url, "read the challenge");
        check_url(ch_url, "a challenge URL");
        // A token is base64url (RFC 8555 8.1: at least 128 bits); anything else could
        // never be served safely as a path.
        if (token.size() < 16 || token.size() > 256 ||
            !std::all_of(token.begin(), token.end(), [](char c) {
                return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '_';
            }))
            throw bad_answer(url, "read the challenge", "the token is not base64url");
        const std::string key_auth = key_authorization(token, key_);

        struct withdraw {
            challenge_responder& r;
            challenge_type t;
            identifier id;
            std::string token;
            const std::function<void(bool)>& hook;
            ~withdraw() {
                if (t == challenge_type::tls_alpn_01)
                    r.remove_tls_alpn(id);
                else
                    r.remove_http(token);
                if (hook)
                    try {
                        hook(false);
                    } catch (...) {
                        // the next share replaces what is left
                    }
            }
        };
        if (type == challenge_type::tls_alpn_01)
            responder_->add_tls_alpn(id, key_auth);
        else
            responder_->add_http(token, key_auth);
        withdraw guard{*responder_, type, id, token, on_answers_};
        if (on_answers_)
            on_answers_(true);

        post(ch_url, "{}", "start the " + std::string(to_string(type)) + " challenge");
        const auto deadline = clock::now() + opts_.validation_timeout;
        for (;;) {
            auto p = post(url, "", "wait for the authorization", false, true);
            auto j = json_of(p, url, "wait for the authorization");
            const auto st = string_of(j, "status");
            if (st == "valid")
                return;
            if (st != "pending")
                throw acme_error(url, "validate " + id.value, challenge_problem(j, type, st));
            if (clock::now() >= deadline)
                throw acme_error(url, "validate " + id.value,
                                 {"", "not validated within " +
                                          std::to_string(opts_.validation_timeout.count()) + " s",
                                  0});
            pause(wait_of(p), url);
        }
    }

    /// The error of the challenge of `type` in a failed authorization, else its status.
    static problem challenge_problem(const nlohmann::json& authz, challenge_type type,
                                     const std::string& status) {
        if (auto* cs = fcs::detail::find(authz, "challenges"); cs && cs->is_array())
            for (auto& c : *cs)
                if (string_of(c, "type") == to_string(type))
                    if (auto* e = fcs::detail::find(c, "error")) {
                        problem p{string_of(*e, "type"), string_of(*e, "detail"), 0};
                        if (p.detail.size() > 1024)
                            p.detail.resize(1024);
                        return p;
                    }
        return {"", "the authorization is " + status, 0};
    }

    nlohmann::json wait_order(const std::string& url, std::vector<std::string> wanted,
                              const std::string& step) {
        const auto deadline = clock::now() + opts_.validation_timeout;
        for (;;) {
            auto a = post(url, "", step, false, true);
            auto j = json_of(a, url, step);
            const auto st = string_of(j, "status");
            if (std::find(wanted.begin(), wanted.end(), st) != wanted.end())
                return j;
            if (st == "invalid") {
                problem p{"", "the order is invalid", 0};
                if (auto* e = fcs::detail::find(j, "error")) {
                    p.type = string_of(*e, "type");
                    p.detail = string_of(*e, "detail");
                }
                throw acme_error(url, step, p);
            }
            if (st != "pending" && st != "ready" && st != "processing")
                throw bad_answer(url, step, "order status \"" + st + "\"");
            if (clock::now() >= deadline)
                throw acme_error(url, step,
                                 {"", "order still " + st + " after " +
                                          std::to_string(opts_.validation_timeout.count()) + " s",
                                  0});
            pause(wait_of(a), url);
        }
    }

    issued_pair check_chain(const std::string& pem, const crypto::boringssl::private_key& key,
                            const std::vector<identifier>& ids, const std::string& url) {
        crypto::boringssl c;
        std::vector<crypto::boringssl::certificate> chain;
        try {
            chain = c.parse_certificates(
                std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(pem.data()),
                                              pem.size()),
                url);
        } catch (const error& e) {
            throw bad_answer(url, "check the certificate", e.cause());
        }
        if (!c.matches(chain.front(), key))
            throw bad_answer(url, "check the certificate",
                             "the first certificate is not for the key of the request");
        auto info = c.describe(chain.front());
        for (auto& id : ids)
            if (!names_identifier(info, id))
                throw bad_answer(url, "check the certificate",
                                 "the certificate does not name " + id.value);
        const auto now = std::chrono::system_clock::now();
        if (info.not_after <= now || info.not_before > now + std::chrono::minutes(5))
            throw bad_answer(url, "check the certificate", "the certificate is not valid now");
        issued_pair out;
        out.chain_pem.assign(pem.begin(), pem.end());
        out.key_pem = c.encode(key, encoding::pem);
        return out;
    }

    /**
     * A signed POST (POST-as-GET when `as_get`: empty payload) to `url`. A badNonce refusal is
     * retried with the nonce it carries; any other status >= 400 is an acme_error with the
     * problem document.
     */
    answer post(const std::string& url, const std::string& payload, const std::string& step,
                bool use_jwk = false, bool as_get = false,
                const std::string& accept = "application/json") {
        for (int attempt = 0;; ++attempt) {
            if (nonce_.empty())
                fetch_nonce();
            nlohmann::json prot = {{"alg", "ES256"}, {"nonce", nonce_}, {"url", url}};
            if (use_jwk)
                prot["jwk"] = key_.jwk();
            else
                prot["kid"] = kid_;
            nonce_.clear(); // a nonce is used once
            auto body = sign_jws(key_, prot, as_get ? std::string_view() : payload);
            auto a = exchange(verb::post, url, std::move(body), accept, step);
            if (a.status < 400)
                return a;
            auto p = problem_of(a);
            if (p.type == "urn:ietf:params:acme:error:badNonce" &&
                attempt < opts_.bad_nonce_retries) {
                ++bad_nonces_;
                continue; // exchange() kept the fresh nonce of the refusal
            }
            throw acme_error(url, step, std::move(p));
        }
    }

    void fetch_nonce() {
        const std::string url = dir_url("newNonce");
        auto a = exchange(verb::head, url, "", "", "get a nonce");
        if (a.status >= 400 || nonce_.empty())
            throw acme_error(url, "get a nonce",
                             {"", "the CA gave no Replay-Nonce", a.status});
    }

    /// One HTTP exchange; keeps the answer's Replay-Nonce. A kept connection that the CA
    /// closed meanwhile fails before any answer byte: the request is sent once more on a new
    /// one.
    answer exchange(verb method, const std::string& url, std::string body,
                    const std::string& accept, const std::string& step) {
        namespace link = fcs::detail::http_link;
        namespace http = boost::beast::http;
        check_cancelled(url);
        auto u = acme_detail::split_url(url);
        http::request<http::string_body> req{method, u.target, 11};
        req.set(http::field::host, u.ep.host.find(':') != std::string::npos
                                       ? "[" + u.ep.host + "]:" + u.ep.port
                                       : u.ep.host + ":" + u.ep.port);
        req.set(http::field::user_agent, "fcs-acme");
        if (!accept.empty())
            req.set(http::field::accept, accept);
        if (method == verb::post)
            req.set(http::field::content_type, "application/jose+json");
        req.body() = std::move(body);
        req.prepare_payload();
        for (int round = 0;; ++round) {
            const bool reused = conn_ && conn_key_ == u.ep.url;
            if (!reused) {
                conn_.reset();
                conn_ = std::make_unique<session>(&tls_, u.ep);
                conn_key_ = u.ep.url;
                try {
                    conn_->conn.open(conn_->ioc, clock::now() + opts_.request_timeout);
                } catch (const link::transport_failure& f) {
                    conn_.reset();
                    throw acme_error(url, step, {"", f.what, 0});
                }
            }
            ++requests_;
            answer a;
            bool got_some = false;
            auto failure = send(*conn_, req, method, a, got_some);
            if (failure.empty()) {
                if (!a.replay_nonce.empty())
                    nonce_ = a.replay_nonce;
                if (!conn_keep_)
                    conn_.reset();
                return a;
            }
            conn_.reset();
            if (reused && !got_some && round == 0)
                continue;
            throw acme_error(url, step, {"", failure, 0});
        }
    }

    struct session {
        session(tls::client_context* t, const fcs::detail::http_link::endpoint& ep)
            : conn(ioc, t, ep) {}
        boost::asio::io_context ioc;
        fcs::detail::http_link::connection conn;
    };

    std::string send(session& s, request<boost::beast::http::string_body>& req, verb method,
                     answer& out, bool& got_some) {
        namespace link = fcs::detail::http_link;
        namespace beast = boost::beast;
        namespace http = boost::beast::http;
        const auto deadline = clock::now() + opts_.request_timeout;
        s.conn.lowest().expires_at(deadline);
        auto ec = link::await(s.ioc, [&](auto h) {
            s.conn.with_stream([&](auto& st) { http::async_write(st, req, h); });
        });
        if (ec)
            return "send: " + ec.message();
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_answer);
        parser.header_limit(16 * 1024);
        if (method == verb::head)
            parser.skip(true);
        ec = link::await(s.ioc, [&](auto h) {
            s.conn.with_stream([&](auto& st) { http::async_read(st, buf, parser, h); });
        });
        got_some = parser.got_some() || buf.size() > 0;
        if (ec)
            return "receive: " + ec.message();
        auto& res = parser.get();
        out.status = res.result_int();
        out.body = std::move(res.body());
        auto field = [&](auto f) {
            auto it = res.find(f);
            return it == res.end() ? std::string() : std::string(it->value().substr(0, 4096));
        };
        out.location = field(http::field::location);
        out.retry_after = field(http::field::retry_after);
        out.replay_nonce = field("Replay-Nonce");
        // A nonce is base64url (RFC 8555 6.5.1); anything else is not sent back.
        if (!std::all_of(out.replay_nonce.begin(), out.replay_nonce.end(), [](char c) {
                return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
            }))
            out.replay_nonce.clear();
        // The CA closes this connection (or sent more than the answer): the next request
        // opens a new one.
        conn_keep_ = res.keep_alive() && buf.size() == 0;
        return {};
    }

    client_options opts_;
    account_key key_;
    std::shared_ptr<challenge_responder> responder_;
    tls::client_context tls_;
    std::optional<nlohmann::json> directory_;
    std::string nonce_, kid_;
    std::unique_ptr<session> conn_;
    std::string conn_key_;
    bool conn_keep_ = true;
    std::uint64_t bad_nonces_ = 0, requests_ = 0;
    std::atomic<bool> cancelled_{false};
    std::function<void(bool)> on_answers_;
};

} // namespace fcs::acme

#endif // FCS_ACME_CLIENT_HPP
