#ifndef FCS_STORAGE_ETCD_STATE_HPP
#define FCS_STORAGE_ETCD_STATE_HPP

// What an etcd storage and its watches share: options, keys, the gateway, the snapshot of
// the slots, and the bundle encoding (detail).

#include <fcs/crypto/boringssl/mac.hpp>
#include <fcs/detail/secret.hpp>
#include <fcs/detail/time.hpp>
#include <fcs/error.hpp>
#include <fcs/storage/etcd/answers.hpp>
#include <fcs/storage/etcd/bundle.hpp>
#include <fcs/storage/etcd/gateway.hpp>
#include <fcs/storage/etcd/seal.hpp>
#include <fcs/storage/layout.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace fcs::storage::etcd_detail {

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
        if (!crypto::hkdf_sha256(
                kek, {},
                std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(info.data()),
                                              info.size()),
                32, mac_key))
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
        for (part p : all_parts) {
            auto t = text(p);
            // Parts added after the first bundle format are authenticated when present, so
            // bundles written before them still verify (their presence changes the input).
            if (!t && (p == part::acme_account || p == part::renewal_lock ||
                       p == part::acme_challenges))
                continue;
            mac_field(in, part_name(p));
            mac_field(in, t ? "1" : "0");
            if (t)
                for (auto& f : *t)
                    mac_field(in, f);
        }
        crypto::hmac_sha256_value mac;
        if (!crypto::hmac_sha256(mac_key,
                                 std::span<const std::uint8_t>(
                                     reinterpret_cast<const std::uint8_t*>(in.data()), in.size()),
                                 mac))
            throw error(errc::crypto_failed, "", "authenticate the bundle", "HMAC failed");
        return b64(mac);
    }

    /// The bundle value of `parts` for slot `name`: the certificate in clear, the rest sealed.
    std::string encode_bundle(const std::string& name, const std::map<part, secret_bytes>& parts,
                              std::int64_t generation) const {
        const std::string gen = std::to_string(generation), by = host(), at = now_text();
        // In the order written (ordered_json): format first, the MAC last, for a reader.
        nlohmann::ordered_json b = {{"format", bundle_format},
                                    {"slot", name},
                                    {"generation", gen},
                                    {"written_by", by},
                                    {"written_at", at}};
        std::map<part, std::vector<std::string>> texts;
        for (auto& [p, data] : parts) {
            if (p == part::certificate) {
                texts[p] = {b64(data)};
                b["certificate"] = texts[p][0];
            } else {
                auto sl = seal(kek, data, ad(name, p));
                texts[p] = {"AES-256-GCM", sl.nonce, sl.data};
                b[part_name(p)] = {{"alg", "AES-256-GCM"}, {"nonce", sl.nonce}, {"data", sl.data}};
            }
        }
        b["mac"] = bundle_mac(name, gen, by, at, [&](part p) {
            auto it = texts.find(p);
            return it == texts.end() ? std::nullopt : std::optional(it->second);
        });
        try {
            return b.dump();
        } catch (const nlohmann::ordered_json::exception&) {
            throw error(errc::invalid_argument, "etcd:" + slot_key(name), "write the bundle",
                        "the slot name is not valid UTF-8");
        }
    }

    slot_entry decode_bundle(const std::string& name, const kv& k) const {
        slot_entry e;
        e.raw = k.value;
        e.mod_revision = k.mod_revision;
        const std::string where = "etcd:" + slot_key(name);
        auto doc = parse(k.value, opts.max_value_size);
        auto format = doc ? string_at(*doc, "format") : std::nullopt;
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
        if (string_at(*doc, "slot") != name) {
            e.problem = error(errc::wrong_password, where, "read",
                              "the bundle was written for the slot " +
                                  string_at(*doc, "slot").value_or("(none)").substr(0, 64) +
                                  ", not this one (copied from another slot)");
            return e;
        }
        std::int64_t generation = 0;
        auto gen_text = string_at(*doc, "generation").value_or("");
        if (gen_text.empty() || int_status_at(*doc, "generation", generation) != int_status::ok ||
            generation <= 0) {
            e.problem = error(errc::parse_failed, where, "read",
                              "the bundle's generation is not a positive 64-bit integer");
            return e;
        }
        // Authenticate everything before using anything.
        bool malformed = false;
        auto text = [&](part p) -> std::optional<std::vector<std::string>> {
            auto* v = find(*doc, part_name(p));
            if (!v)
                return std::nullopt;
            if (p == part::certificate) {
                if (!v->is_string())
                    malformed = true;
                return std::vector<std::string>{v->is_string() ? v->get<std::string>() : ""};
            }
            return std::vector<std::string>{string_at(*v, "alg").value_or(""),
                                            string_at(*v, "nonce").value_or(""),
                                            string_at(*v, "data").value_or("")};
        };
        auto expected = bundle_mac(name, gen_text, string_at(*doc, "written_by").value_or(""),
                                   string_at(*doc, "written_at").value_or(""), text);
        auto mac = string_at(*doc, "mac").value_or("");
        if (malformed || !crypto::equal_constant_time(mac, expected)) {
            e.problem =
                error(errc::wrong_password, where, "authenticate the bundle",
                      "the key-encryption key " + kek_shown() +
                          " cannot authenticate the stored bundle (it was written with a different "
                          "key-encryption key, or altered: a certificate swapped in, or a bundle "
                          "copied from another slot or prefix); it is not used");
            return e;
        }
        e.generation = generation;
        for (part p : all_parts) {
            auto* v = find(*doc, part_name(p));
            if (!v)
                continue;
            if (p == part::certificate) {
                secret_bytes cert;
                if (!unb64(v->get_ref<const std::string&>(), cert)) {
                    e.problem = error(errc::parse_failed, where, "read",
                                      "the certificate is not valid base64");
                    e.parts.clear();
                    return e;
                }
                e.parts[p] = std::move(cert);
                continue;
            }
            sealed sl{string_at(*v, "nonce").value_or(""), string_at(*v, "data").value_or("")};
            if (string_at(*v, "alg") != std::string("AES-256-GCM")) {
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
        auto doc =
            gw.call("/v3/kv/range", range_request(check_key(), {}, true), "read the etcd revision");
        return header_revision(doc, "etcd:" + check_key());
    }

    static std::string host() {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
            return "localhost";
        // Printable ASCII only: it is stored in JSON (UTF-8) and authenticated as stored.
        std::string out = buf;
        for (char& c : out)
            if (c < 0x21 || c > 0x7e)
                c = '?';
        return out;
    }
    static std::string now_text() { return detail::iso8601(std::chrono::system_clock::now()); }

    /// Reads every slot at one revision and replaces the snapshot.
    void refresh() {
        auto p = slots_prefix();
        auto doc = gw.call("/v3/kv/range", range_request(p, prefix_end(p)), "read " + p);
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

} // namespace fcs::storage::etcd_detail

#endif // FCS_STORAGE_ETCD_STATE_HPP
