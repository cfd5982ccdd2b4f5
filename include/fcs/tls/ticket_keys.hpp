#ifndef FCS_TLS_TICKET_KEYS_HPP
#define FCS_TLS_TICKET_KEYS_HPP

// Session-ticket keys shared through the storage, so every server of a pair (or a group)
// decrypts the tickets the others issued: a client that resumed on the active server resumes
// on the backup after a failover. The newest key encrypts; the older ones still decrypt until
// they age out. The keyring is stored as the item part::ticket_keys of the slot in use, with the
// same care as the private key (secret item: 0600, Keys/ folder).

#include <fcs/detail/published.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

#include <openssl/cipher.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace fcs::tls {

/// One ticket key: a public 16-byte name, an HMAC-SHA256 key and an AES-256-CBC key.
struct ticket_key {
    std::array<std::uint8_t, 16> name{};
    std::array<std::uint8_t, 32> hmac_key{};
    std::array<std::uint8_t, 32> aes_key{};
    std::int64_t created = 0; ///< seconds since the epoch

    ~ticket_key() { OPENSSL_cleanse(this, sizeof *this); }
    ticket_key() = default;
    ticket_key(const ticket_key&) = default;
    ticket_key& operator=(const ticket_key&) = default;
};

/// How often a new encrypting key is made, and how long a key still decrypts.
struct ticket_policy {
    std::chrono::seconds rotate_every = std::chrono::hours(12);
    std::chrono::seconds keep_for = std::chrono::hours(36);
};

/// The keys, newest first. Immutable once published.
class ticket_keyring {
public:
    static constexpr std::size_t max_keys = 16;
    static constexpr std::string_view magic = "FCSTK1\n";
    static constexpr std::size_t entry_size = 16 + 32 + 32 + 8;

    const std::vector<ticket_key>& keys() const noexcept { return keys_; }
    bool empty() const noexcept { return keys_.empty(); }

    /// Adds a fresh key when none is newer than `p.rotate_every`, drops keys older than
    /// `p.keep_for` (never the newest). True when the keyring changed.
    bool rotate(time_point now, const ticket_policy& p = {}) {
        const std::int64_t t =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        bool changed = false;
        if (keys_.empty() || t - keys_.front().created >= p.rotate_every.count()) {
            ticket_key k;
            RAND_bytes(k.name.data(), k.name.size());
            RAND_bytes(k.hmac_key.data(), k.hmac_key.size());
            RAND_bytes(k.aes_key.data(), k.aes_key.size());
            k.created = t;
            keys_.insert(keys_.begin(), k);
            changed = true;
        }
        auto old = std::remove_if(keys_.begin() + 1, keys_.end(), [&](const ticket_key& k) {
            return t - k.created > p.keep_for.count();
        });
        if (old != keys_.end()) {
            keys_.erase(old, keys_.end());
            changed = true;
        }
        if (keys_.size() > max_keys) {
            keys_.resize(max_keys);
            changed = true;
        }
        return changed;
    }

    /// "FCSTK1\n", a count byte, then per key: name, HMAC key, AES key, created (big endian).
    secret_bytes serialize() const {
        secret_bytes out(magic.begin(), magic.end());
        out.push_back(static_cast<std::uint8_t>(keys_.size()));
        for (auto& k : keys_) {
            out.insert(out.end(), k.name.begin(), k.name.end());
            out.insert(out.end(), k.hmac_key.begin(), k.hmac_key.end());
            out.insert(out.end(), k.aes_key.begin(), k.aes_key.end());
            for (int i = 7; i >= 0; --i)
                out.push_back(
                    static_cast<std::uint8_t>(static_cast<std::uint64_t>(k.created) >> (8 * i)));
        }
        return out;
    }

    /// @throws fcs::error(parse_failed) naming `where` when the bytes are not a keyring.
    static ticket_keyring parse(std::span<const std::uint8_t> in, std::string_view where) {
        auto bad = [&](const char* why) {
            return error(errc::parse_failed, std::string(where), "load ticket keys", why);
        };
        if (in.size() < magic.size() + 1 || std::memcmp(in.data(), magic.data(), magic.size()) != 0)
            throw bad("not an fcs ticket keyring");
        std::size_t n = in[magic.size()];
        if (n > max_keys || in.size() != magic.size() + 1 + n * entry_size)
            throw bad("truncated or oversized ticket keyring");
        ticket_keyring r;
        const std::uint8_t* p = in.data() + magic.size() + 1;
        for (std::size_t i = 0; i < n; ++i) {
            ticket_key k;
            std::memcpy(k.name.data(), p, 16);
            std::memcpy(k.hmac_key.data(), p + 16, 32);
            std::memcpy(k.aes_key.data(), p + 48, 32);
            std::uint64_t c = 0;
            for (int j = 0; j < 8; ++j)
                c = (c << 8) | p[80 + j];
            k.created = static_cast<std::int64_t>(c);
            r.keys_.push_back(k);
            p += entry_size;
        }
        std::stable_sort(
            r.keys_.begin(), r.keys_.end(),
            [](const ticket_key& a, const ticket_key& b) { return a.created > b.created; });
        return r;
    }

private:
    std::vector<ticket_key> keys_;
};

/**
 * Serves BoringSSL's session-ticket callback from a keyring that is replaced atomically, and
 * keeps that keyring in step with a service's storage.
 *
 * Example:
 * @code
 *   fcs::tls::ticket_keys tickets;
 *   tickets.sync(service);                 // load, rotate when due, store, publish
 *   tickets.attach(tls.native_handle());   // every SSL_CTX that issues or accepts tickets
 * @endcode
 */
class ticket_keys {
public:
    ticket_keys()
        : state_(std::make_shared<state>()) {}

    /// Publishes `ring` for new tickets and decryption (lock-free for readers).
    void publish(ticket_keyring ring) {
        state_->ring.publish(std::make_shared<const ticket_keyring>(std::move(ring)));
    }

    std::shared_ptr<const ticket_keyring> current() const { return state_->ring.owned(); }

    /**
     * Reads the keyring stored next to the service's pair, rotates it when due (writing the
     * result back as one step), and publishes it. A damaged keyring is replaced by a new one.
     * @tparam Service an fcs::FailoverCertService (read_item/replace_item/clock/log).
     * @returns true when the stored keyring was changed.
     */
    template <class Service>
    bool sync(Service& service, const ticket_policy& p = {}) {
        // Servers sharing the keyring (one data folder, one etcd slot) may rotate it at the
        // same moment: the write is a compare-and-swap against what was read, and the loser
        // reads again and adopts the winner's key instead of overwriting it.
        for (int attempt = 1;; ++attempt) {
            ticket_keyring ring;
            std::optional<secret_bytes> read;
            if (auto item = service.read_item(part::ticket_keys)) {
                read = item->data;
                try {
                    ring = ticket_keyring::parse(item->data, item->location);
                } catch (const error& e) {
                    service.log().write(policy::level::error,
                                        std::string(e.what()) + "; making a new keyring");
                }
            }
            bool changed = ring.rotate(service.clock().now(), p);
            if (changed &&
                !service.replace_item(part::ticket_keys, std::move(read), ring.serialize())) {
                if (attempt < 3)
                    continue; // the next read sees the other writer's keyring
                throw error(errc::conflict, "", "rotate session-ticket keys",
                            "the stored keyring kept changing under three attempts");
            }
            publish(std::move(ring));
            return changed;
        }
    }

    /// Installs the ticket callback on `ctx`. The SSL_CTX keeps the shared state alive.
    void attach(SSL_CTX* ctx) const {
        auto* keep = new std::shared_ptr<state>(state_);
        if (!SSL_CTX_set_ex_data(ctx, ex_index(), keep)) {
            delete keep;
            throw error(errc::crypto_failed, "", "attach ticket keys",
                        "SSL_CTX_set_ex_data failed");
        }
        SSL_CTX_set_tlsext_ticket_key_cb(ctx, &on_ticket);
    }

private:
    struct state {
        detail::published<ticket_keyring> ring; // lock-free read in on_ticket
    };

    static int ex_index() {
        static const int index = SSL_CTX_get_ex_new_index(
            0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
                delete static_cast<std::shared_ptr<state>*>(ptr);
            });
        return index;
    }

    /// BoringSSL's contract: encrypt: 1 ok, -1 error; decrypt: 1 ok, 2 ok and renew the
    /// ticket (it was made with an older key), 0 unknown key (full handshake).
    static int on_ticket(SSL* ssl, std::uint8_t* key_name, std::uint8_t* iv, EVP_CIPHER_CTX* ctx,
                         HMAC_CTX* hmac, int encrypt) {
        auto* st = static_cast<std::shared_ptr<state>*>(
            SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
        if (!st)
            return encrypt ? -1 : 0;
        // Held until the cipher and HMAC contexts have copied the key (the end of this call).
        auto ring = (*st)->ring.read();
        if (!ring || ring->empty())
            return encrypt ? -1 : 0;
        if (encrypt) {
            const ticket_key& k = ring->keys().front();
            std::memcpy(key_name, k.name.data(), k.name.size());
            if (!RAND_bytes(iv, 16) ||
                !EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k.aes_key.data(), iv) ||
                !HMAC_Init_ex(hmac, k.hmac_key.data(), k.hmac_key.size(), EVP_sha256(), nullptr))
                return -1;
            return 1;
        }
        const auto& keys = ring->keys();
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (std::memcmp(key_name, keys[i].name.data(), 16) != 0)
                continue;
            if (!HMAC_Init_ex(hmac, keys[i].hmac_key.data(), keys[i].hmac_key.size(), EVP_sha256(),
                              nullptr) ||
                !EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, keys[i].aes_key.data(), iv))
                return 0;
            return i == 0 ? 1 : 2;
        }
        return 0;
    }

    std::shared_ptr<state> state_;
};

} // namespace fcs::tls

#endif // FCS_TLS_TICKET_KEYS_HPP
