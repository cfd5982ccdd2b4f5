#ifndef FCS_ACME_RENEWER_HPP
#define FCS_ACME_RENEWER_HPP

// Automatic renewal from an ACME CA (opt-in): a thread that keeps the service's pair issued by
// the CA and current. It renews when the pair enters its renewal window (or at once when the
// pair in use is not the CA's: self-signed, or missing a configured name), installs the new
// pair through the service's validated, crash-safe install() (which publishes it: the TLS
// context follows), and on failure keeps the pair in use, logs the CA's problem and the next
// try, and backs off. In a server group (a shared storage) one node renews at a time: it
// claims part::renewal_lock with a compare-and-swap for a lease; the others get the new pair
// through the storage's watch, and a claim whose node died expires with its lease.

#include <fcs/acme/challenges.hpp>
#include <fcs/acme/client.hpp>
#include <fcs/acme/jws.hpp>
#include <fcs/acme/schedule.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fcs::acme {

/// What to renew, from where, and when.
struct renewal_options {
    client_options acme;
    /// The names the certificate must carry (at least one).
    std::vector<identifier> identifiers;
    challenge_type challenge = challenge_type::tls_alpn_01;
    /// Renew this long before notAfter; unset: one third of the lifetime, and never later
    /// than the 30-day expiry warning when the lifetime allows (see renewal_due()).
    std::optional<std::chrono::seconds> renew_before;
    /// The first retry after a failure, doubled at each further failure up to retry_max.
    std::chrono::seconds retry_first{60};
    std::chrono::seconds retry_max{3600};
    /// How long a node's claim to renew for the group lasts (a node that dies while renewing
    /// blocks the others at most this long).
    std::chrono::seconds lock_lease{600};
    /// This node's name in the claim; empty: host name and process id.
    std::string node;
    /// Between sharing the challenge answers through the storage and asking the CA to
    /// validate them: the other nodes of a group (which poll every mirror_interval while
    /// another node holds the claim) answer too, whichever one the CA reaches.
    std::chrono::milliseconds challenge_propagation{2000};
    std::chrono::milliseconds mirror_interval{500};
};

/// What the renewer has done, for logs, metrics and `status`.
struct renewal_stats {
    std::uint64_t renewals = 0; ///< pairs installed
    std::uint64_t failures = 0; ///< attempts that failed
    std::uint64_t bad_nonces = 0; ///< badNonce refusals retried (the CA refused a nonce)
    sys_clock::time_point next_try{}; ///< when the renewer looks again (epoch: stopped)
    std::string last_error;     ///< of the last failed attempt ("" after a success)
    std::string account_url;
};

namespace acme_detail {

/// A group member's claim to renew: "node=NAME\nuntil=SECONDS-SINCE-EPOCH\n".
struct claim {
    std::string node;
    std::int64_t until = 0;

    std::string text() const {
        return "node=" + node + "\nuntil=" + std::to_string(until) + "\n";
    }
    /// The claim in `t`; a malformed one reads as expired (nobody's).
    static claim parse(std::string_view t) {
        claim c;
        if (t.size() > 1024 || !t.starts_with("node="))
            return c;
        auto nl = t.find('\n');
        auto u = t.find("\nuntil=");
        if (nl == std::string_view::npos || u != nl)
            return c;
        auto num = t.substr(u + 7);
        if (!num.empty() && num.back() == '\n')
            num.remove_suffix(1);
        std::int64_t v = 0;
        auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
        if (ec != std::errc() || end != num.data() + num.size())
            return c;
        c.node = std::string(t.substr(5, nl - 5));
        c.until = v;
        return c;
    }
};

inline std::string default_node() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    return std::string(host) + "/" + std::to_string(::getpid());
}

inline std::int64_t epoch_seconds(sys_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

} // namespace acme_detail

/**
 * Keeps `Service`'s pair issued by an ACME CA. start() runs the renewal thread; stop() (or the
 * destructor) ends it, an attempt in progress included (at its next step). The account key is
 * kept in the service's storage as part::acme_account (a secret item: Keys/, 0600, sealed in
 * etcd), made on first use.
 *
 * Example:
 * @code
 *   auto responder = fcs::acme::challenge_responder::make();
 *   responder->serve_on(tls);  // before serving: tls-alpn-01 on the server's own port
 *   fcs::acme::renewer renew(service, opts, responder);
 *   renew.start();
 * @endcode
 * @tparam Service a started fcs::FailoverCertService with the BoringSSL backend.
 */
template <class Service>
class renewer {
public:
    renewer(Service& service, renewal_options o, std::shared_ptr<challenge_responder> responder)
        : service_(service)
        , opts_(std::move(o))
        , responder_(std::move(responder))
        , shared_(std::make_shared<shared>()) {
        static_assert(std::is_same_v<typename Service::crypto_type, crypto::boringssl>,
                      "fcs::acme::renewer: the service must use the fcs::crypto::boringssl "
                      "backend");
        if (opts_.identifiers.empty())
            throw error(errc::invalid_argument, "", "configure ACME renewal",
                        "at least one DNS name or IP address is required");
        (void)identifiers_json(opts_.identifiers); // refuses a bad name now
        if (!responder_)
            throw error(errc::invalid_argument, "", "configure ACME renewal",
                        "a challenge responder is required");
        if (opts_.node.empty())
            opts_.node = acme_detail::default_node();
        std::weak_ptr<shared> weak = shared_;
        service_.on_change([weak](const auto&) {
            if (auto s = weak.lock()) {
                std::lock_guard lock(s->mutex);
                s->changed = true;
                s->cv.notify_all();
            }
        });
    }

    renewer(const renewer&) = delete;
    renewer& operator=(const renewer&) = delete;
    ~renewer() { stop(); }

    /// Starts the renewal thread (once).
    void start() {
        if (thread_.joinable())
            return;
        thread_ = std::thread([this] { run(); });
    }

    /// Ends the thread; waits for it.
    void stop() {
        {
            std::lock_guard lock(shared_->mutex);
            shared_->stopping = true;
            shared_->cv.notify_all();
            if (client_)
                client_->cancel();
        }
        if (thread_.joinable())
            thread_.join();
    }

    renewal_stats stats() const {
        std::lock_guard lock(shared_->mutex);
        return shared_->stats;
    }

    /// When the pair in use is due (see renewal_due()).
    sys_clock::time_point due() const {
        return renewal_due(service_.status().info, opts_.identifiers, opts_.renew_before);
    }

    /**
     * One attempt now, in the caller's thread: claim the group's renewal, order, install.
     * @returns true when a new pair was installed; false when another node holds the claim.
     * @throws acme_error / fcs::error when the attempt failed (the pair in use stays).
     */
    bool renew_now() {
        const auto now = sys_clock::now();
        auto claimed = claim(now);
        if (!claimed)
            return false;
        struct release_on_exit {
            renewer* self;
            std::string mine;
            ~release_on_exit() { self->release(mine); }
        } release{this, *claimed};

        auto& c = client_for_account();
        log(policy::level::info, "ACME: ordering a certificate for " + names() + " from " +
                                     opts_.acme.directory_url + " (" +
                                     to_string(opts_.challenge) + ")");
        struct count_on_exit {
            renewer* self;
            client& c;
            std::uint64_t before;
            ~count_on_exit() {
                std::lock_guard lock(self->shared_->mutex);
                self->shared_->stats.bad_nonces += c.bad_nonces() - before;
                self->shared_->stats.account_url = c.account_url();
            }
        } count{this, c, c.bad_nonces()};
        auto pair = c.order(opts_.identifiers, opts_.challenge);
        auto st = service_.install(pair.chain_pem, pair.key_pem, opts_.acme.directory_url,
                                   "ACME certificate key", origin::acme);
        {
            // Counted before it is logged: a reader of the log finds it in the metrics too.
            std::lock_guard lock(shared_->mutex);
            ++shared_->stats.renewals;
        }
        log(policy::level::info, "ACME: installed the certificate issued by " + st.info.issuer +
                                     " (" + st.info.sha256_fingerprint + "), valid until " +
                                     Service::iso(st.info.not_after) + "; next renewal " +
                                     Service::iso(renewal_due(st.info, opts_.identifiers,
                                                              opts_.renew_before)));
        return true;
    }

private:
    struct shared {
        mutable std::mutex mutex;
        std::condition_variable cv;
        bool stopping = false, changed = false;
        renewal_stats stats;
    };

    std::string names() const {
        std::string s;
        for (auto& id : opts_.identifiers)
            s += (s.empty() ? "" : ", ") + id.value;
        return s;
    }

    void log(policy::level l, const std::string& m) { service_.log().write(l, m); }

    /// The client, with the stored account key (made and stored on first use: a node that
    /// loses the race to store one uses the winner's).
    client& client_for_account() {
        if (client_)
            return *client_;
        std::optional<account_key> key;
        for (int round = 0; round < 3 && !key; ++round) {
            if (auto item = service_.read_item(part::acme_account)) {
                key = account_key::from_pem(item->data, item->location);
                break;
            }
            auto fresh = account_key::generate();
            if (service_.replace_item(part::acme_account, std::nullopt, fresh.to_pem())) {
                log(policy::level::info, "ACME: made a new account key (stored as " +
                                             service_.storage().location(
                                                 service_.current()->name, part::acme_account) +
                                             ")");
                key = std::move(fresh);
            }
        }
        if (!key)
            throw error(errc::conflict, "", "store the ACME account key",
                        "the stored account key keeps changing");
        auto made = std::make_unique<client>(opts_.acme, std::move(*key), responder_);
        made->on_answers([this](bool added) { share_answers(added); });
        std::lock_guard lock(shared_->mutex);
        if (shared_->stopping)
            made->cancel();
        client_ = std::move(made);
        return *client_;
    }

    /// Claims the group's renewal until now + lease (compare-and-swap on part::renewal_lock);
    /// the claim's text, or nullopt when another node's claim is still valid.
    std::optional<std::string> claim(sys_clock::time_point now) {
        for (int round = 0; round < 3; ++round) {
            auto item = service_.read_item(part::renewal_lock);
            std::optional<secret_bytes> expected;
            if (item) {
                expected = item->data;
                auto held = acme_detail::claim::parse(as_text(item->data));
                if (!held.node.empty() && held.node != opts_.node &&
                    held.until > acme_detail::epoch_seconds(now)) {
                    held_by_ = held;
                    return std::nullopt;
                }
            }
            acme_detail::claim mine{opts_.node,
                                    acme_detail::epoch_seconds(now + opts_.lock_lease)};
            auto text = mine.text();
            if (service_.replace_item(part::renewal_lock, std::move(expected), to_secret(text)))
                return text;
        }
        return std::nullopt;
    }

    /// Writes the answers pending here to the storage for the rest of the group; after an
    /// addition, waits challenge_propagation so they can pick it up.
    void share_answers(bool added) {
        const auto text = responder_->shared_text();
        for (int round = 0; round < 3; ++round) {
            auto item = service_.read_item(part::acme_challenges);
            std::optional<secret_bytes> expected;
            if (item)
                expected = item->data;
            if (service_.replace_item(part::acme_challenges, std::move(expected), to_secret(text)))
                break;
        }
        if (added)
            std::this_thread::sleep_for(opts_.challenge_propagation);
    }

    /// While another node holds the claim (until `until`): answers what it shares, re-read
    /// every mirror_interval, until the claim ends, the pair changes, or stop().
    void mirror_until(sys_clock::time_point until) {
        {
            std::lock_guard lock(shared_->mutex);
            shared_->changed = false;
        }
        for (;;) {
            try {
                auto item = service_.read_item(part::acme_challenges);
                responder_->mirror(item ? as_text(item->data) : std::string_view());
            } catch (const std::exception& e) {
                log(policy::level::warning,
                    std::string("ACME: cannot read the group's challenge answers: ") + e.what());
            }
            std::unique_lock lock(shared_->mutex);
            const auto next = std::min(until, sys_clock::now() + opts_.mirror_interval);
            if (shared_->cv.wait_until(lock, next,
                                       [&] { return shared_->stopping || shared_->changed; }) ||
                sys_clock::now() >= until)
                break;
        }
        responder_->mirror({});
    }

    /// Gives the claim up (when it is still ours).
    void release(const std::string& mine) noexcept {
        try {
            acme_detail::claim done{"", 0};
            (void)service_.replace_item(part::renewal_lock, to_secret(mine),
                                        to_secret(done.text()));
        } catch (...) {
            // The lease ends it.
        }
    }

    void run() {
        int failures_in_row = 0;
        for (;;) {
            sys_clock::time_point next;
            try {
                next = due();
            } catch (const std::exception& e) {
                next = sys_clock::now() + opts_.retry_first;
            }
            const auto now = sys_clock::now();
            if (next <= now) {
                std::string failure;
                bool renewed = false;
                try {
                    renewed = renew_now();
                } catch (const std::exception& e) {
                    failure = e.what();
                }
                std::unique_lock lock(shared_->mutex);
                if (shared_->stopping)
                    return;
                if (!failure.empty()) {
                    // Start afresh next time (directory, nonce, account): a CA that was
                    // restarted or forgot the account is then met like a new one.
                    client_.reset();
                    ++failures_in_row;
                    ++shared_->stats.failures;
                    shared_->stats.last_error = failure;
                    auto wait = opts_.retry_first * (1LL << std::min(failures_in_row - 1, 16));
                    next = sys_clock::now() + std::min<std::chrono::seconds>(wait, opts_.retry_max);
                    service_.log().write(policy::level::error,
                                         "ACME renewal failed, the certificate in use stays: " +
                                             failure + "; next try at " + Service::iso(next));
                } else if (renewed) {
                    failures_in_row = 0; // counted in renew_now()
                    shared_->stats.last_error.clear();
                    continue; // recompute from the new pair
                } else {
                    // Another node renews: answer its challenges too until its claim ends or
                    // the new pair arrives through the watch; then look again.
                    const auto until =
                        std::min(sys_clock::time_point(std::chrono::seconds(held_by_.until)),
                                 sys_clock::now() + opts_.lock_lease);
                    service_.log().write(policy::level::info,
                                         "ACME: " + held_by_.node +
                                             " renews for the group; answering its challenges "
                                             "until " +
                                             Service::iso(until));
                    shared_->stats.next_try = until;
                    lock.unlock();
                    mirror_until(until);
                    continue;
                }
            }
            std::unique_lock lock(shared_->mutex);
            shared_->stats.next_try = next;
            shared_->changed = false;
            shared_->cv.wait_until(lock, next,
                                   [&] { return shared_->stopping || shared_->changed; });
            if (shared_->stopping)
                return;
        }
    }

    Service& service_;
    renewal_options opts_;
    std::shared_ptr<challenge_responder> responder_;
    std::shared_ptr<shared> shared_;
    std::unique_ptr<client> client_;
    acme_detail::claim held_by_;
    std::thread thread_;
};

} // namespace fcs::acme

#endif // FCS_ACME_RENEWER_HPP
