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
#include <openssl/bytestring.h>
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

    /// Latest creation time a stored key may carry (9999-12-31T23:59:59Z): keeps the
    /// rotation arithmetic far from overflow whatever a planted file says.
    static constexpr std::int64_t max_created = 253402300799;

    /// "FCSTK1\n", a count byte, then per key: name, HMAC key, AES key, created (64-bit big
    /// endian seconds since the epoch).
    secret_bytes serialize() const {
        bssl::ScopedCBB cbb;
        std::uint8_t* data = nullptr;
        std::size_t len = 0;
        bool ok = CBB_init(cbb.get(), magic.size() + 1 + keys_.size() * entry_size) &&
                  CBB_add_bytes(cbb.get(), reinterpret_cast<const std::uint8_t*>(magic.data()),
                                magic.size()) &&
                  CBB_add_u8(cbb.get(), static_cast<std::uint8_t>(keys_.size()));
        for (auto& k : keys_)
            ok = ok && CBB_add_bytes(cbb.get(), k.name.data(), k.name.size()) &&
                 CBB_add_bytes(cbb.get(), k.hmac_key.data(), k.hmac_key.size()) &&
                 CBB_add_bytes(cbb.get(), k.aes_key.data(), k.aes_key.size()) &&
                 CBB_add_u64(cbb.get(), static_cast<std::uint64_t>(k.created));
        if (!ok || !CBB_finish(cbb.get(), &data, &len))
            throw error(errc::io_failed, "", "store ticket keys", "out of memory");
        secret_bytes out(data, data + len);
        OPENSSL_cleanse(data, len);
        OPENSSL_free(data);
        return out;
    }

    /// @throws fcs::error(parse_failed) naming `where` when the bytes are not a keyring: a
    /// wrong header or size, more than max_keys keys, a creation time outside 1970..9999, or
    /// two keys with one name.
    static ticket_keyring parse(std::span<const std::uint8_t> in, std::string_view where) {
        auto bad = [&](const char* why) {
            return error(errc::parse_failed, std::string(where), "load ticket keys", why);
        };
        CBS cbs, head;
        CBS_init(&cbs, in.data(), in.size());
        std::uint8_t n = 0;
        if (!CBS_get_bytes(&cbs, &head, magic.size()) ||
            !CBS_mem_equal(&head, reinterpret_cast<const std::uint8_t*>(magic.data()),
                           magic.size()) ||
            !CBS_get_u8(&cbs, &n))
            throw bad("not an fcs ticket keyring");
        if (n > max_keys || CBS_len(&cbs) != std::size_t(n) * entry_size)
            throw bad("truncated or oversized ticket keyring");
        ticket_keyring r;
        for (std::size_t i = 0; i < n; ++i) {
            ticket_key k;
            std::uint64_t created = 0;
            if (!CBS_copy_bytes(&cbs, k.name.data(), k.name.size()) ||
                !CBS_copy_bytes(&cbs, k.hmac_key.data(), k.hmac_key.size()) ||
                !CBS_copy_bytes(&cbs, k.aes_key.data(), k.aes_key.size()) ||
                !CBS_get_u64(&cbs, &created))
                throw bad("truncated ticket keyring");
            if (created > static_cast<std::uint64_t>(max_created))
                throw bad("a key's creation time is outside 1970..9999");
            k.created = static_cast<std::int64_t>(created);
            if (std::any_of(r.keys_.begin(), r.keys_.end(),
                            [&](const ticket_key& o) { return o.name == k.name; }))
                throw bad("two keys have the same name");
            r.keys_.push_back(k);
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
            // Unchanged and already in use (the usual periodic sync): nothing to publish.
            auto in_use = current();
            if (changed || !in_use || in_use->serialize() != ring.serialize())
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
