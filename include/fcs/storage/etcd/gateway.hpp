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
#include <fcs/tls/client.hpp>

#include <algorithm>
#include <map>
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

/// Text whose memory is cleansed when it grows or is freed, and JSON made of it: the body
/// of an authentication request, which holds the password.
using secret_string =
    std::basic_string<char, std::char_traits<char>, fcs::detail::cleansing_allocator<char>>;
using secret_json = nlohmann::basic_json<std::map, std::vector, secret_string>;

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
        if (any_tls)
            tls_ = std::make_unique<fcs::tls::client_context>(fcs::tls::client_options{
                .ca_file = o.ca_file,
                .validate_endpoint_certificate = true,
                .ca_certificates_are_anchors = false,
                .cert_file = o.cert_file,
                .key_file = o.key_file,
                .purpose = "etcd",
            });
        for (auto& e : endpoints_)
            clients_.push_back(std::make_unique<http_client>(e, tls_.get()));
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
    fcs::tls::client_context* tls() const noexcept { return tls_.get(); }

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
    json call(std::string_view path, const json& request, std::string_view what,
              std::optional<std::chrono::milliseconds> budget = std::nullopt) {
        const std::string body = dump(request, std::string(what));
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
            auto doc = parse(a.body);
            if (a.status == 200) {
                if (!doc || !doc->is_object())
                    throw error(errc::parse_failed, ep.url + std::string(path), std::string(what),
                                "the etcd gateway answered something that is not JSON");
                prefer(index);
                return std::move(*doc);
            }
            std::string message = refusal_text(a.status, a.body, doc);
            auto code = refusal_code(doc);
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

    /// A body given as text would be sent as one JSON string: build it as json.
    json call(std::string_view, std::string_view, std::string_view,
              std::optional<std::chrono::milliseconds> = std::nullopt) = delete;

    /// One POST to one endpoint (see http_client). Throws transport_failure.
    /// With `secret`, the body (a password) is cleansed as soon as it is sent or not sent.
    http_answer post(const endpoint& ep, std::string_view path, std::string body,
                     const std::string& token, clock::time_point deadline, bool secret = false) {
        return client(ep).post(path, std::move(body), token, deadline, secret);
    }

    /// Connections opened to the endpoints so far (for tests: kept-alive requests open none).
    std::uint64_t connections_opened() const noexcept {
        std::uint64_t n = 0;
        for (auto& c : clients_)
            n += c->connections_opened();
        return n;
    }

private:
    http_client& client(const endpoint& ep) {
        for (auto& c : clients_)
            if (&c->where() == &ep || c->where().url == ep.url)
                return *c;
        throw transport_failure{ep.url + " is not an endpoint of this gateway"};
    }

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
        // The password lives in strings whose memory is cleansed when it grows or is freed
        // (secret_json), and post() cleanses the one copy it sends.
        std::string body;
        {
            const std::string_view pw = as_text(opts_.password);
            secret_json request;
            request["name"] = secret_string(opts_.user.begin(), opts_.user.end());
            request["password"] = secret_string(pw.begin(), pw.end());
            secret_string text;
            try {
                text = request.dump();
            } catch (const secret_json::exception&) {
                throw error(errc::invalid_argument, opts_.password_file.string(),
                            "authenticate as " + opts_.user,
                            "the user name or password is not valid UTF-8");
            }
            body.assign(text.begin(), text.end());
        }
        auto a = post(ep, "/v3/auth/authenticate", std::move(body), "",
                      std::min(deadline, clock::now() + opts_.request_timeout), true);
        auto doc = parse(a.body);
        auto token = token_of(doc);
        if (a.status != 200 || !token)
            throw error(errc::invalid_argument, ep.url + "/v3/auth/authenticate",
                        "authenticate as " + opts_.user,
                        (doc && doc->is_object() ? "etcd refused the user name or password: "
                                                 : "etcd refused the request: ") +
                            refusal_text(a.status, a.body, doc));
        std::lock_guard lock(token_mutex_);
        token_ = *token;
    }

    etcd_options opts_;
    std::vector<endpoint> endpoints_;
    std::unique_ptr<fcs::tls::client_context> tls_;
    std::vector<std::unique_ptr<http_client>> clients_; ///< one per endpoint, in order
    std::atomic<std::size_t> preferred_{0};
    std::mutex token_mutex_;
    std::string token_;
};

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_GATEWAY_HPP
