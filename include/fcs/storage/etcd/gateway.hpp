#ifndef FCS_STORAGE_ETCD_GATEWAY_HPP
#define FCS_STORAGE_ETCD_GATEWAY_HPP

// The client side of etcd's JSON gateway: endpoints, TLS, authentication, failover, retries
// (detail).

#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/answers.hpp>
#include <fcs/storage/etcd/http_client.hpp>
#include <fcs/storage/etcd/options.hpp>
#include <fcs/storage/etcd/secrets.hpp>

#include <openssl/mem.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fcs::storage::etcd_detail {

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

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_GATEWAY_HPP
