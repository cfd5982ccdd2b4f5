#ifndef FCS_STORAGE_ETCD_HPP
#define FCS_STORAGE_ETCD_HPP

// Storage in etcd (v3.4 and later) through its JSON gateway, for server groups beyond a pair.
// Needs Boost.Beast (header-only, libboost-dev); not part of the umbrella fcs/fcs.hpp.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/etcd/options.hpp>
#include <fcs/storage/etcd/state.hpp>
#include <fcs/storage/etcd/watch.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/types.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace fcs::storage {

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
            auto doc = st_->gw.call("/v3/kv/range", range_request(key), "open etcd:" + key);
            auto kvs = kvs_of(doc, st_->opts.max_value_size);
            if (!kvs.empty()) {
                auto check = parse(kvs.front().value, st_->opts.max_value_size);
                sealed sl{check ? string_at(*check, "nonce").value_or("") : "",
                          check ? string_at(*check, "data").value_or("") : ""};
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
            const json value = {{"format", check_format}, {"nonce", sl.nonce}, {"data", sl.data}};
            const json txn = {
                {"compare", json::array({compare_json(key, 0)})},
                {"success", json::array({put_json(key, dump(value, "create etcd:" + key))})}};
            auto r = st_->gw.call("/v3/kv/txn", txn, "create etcd:" + key);
            if (bool_at(r, "succeeded"))
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
            if (e.problem ? (p == part::certificate || p == part::private_key || p == part::metadata)
                          : e.parts.count(p) > 0)
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
        json compares = json::array(), success = json::array(), failure = json::array();
        auto add = [](json& list, json item) { list.push_back(std::move(item)); };
        for (auto& [name, pl] : plan) {
            const std::string key = st_->slot_key(name);
            add(compares, compare_json(key, pl.base_rev));
            if (pl.parts.empty()) {
                add(success, delete_json(key));
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
            add(failure, get_json(key));
        }
        std::string slots; // what the message names: the slot, or each of them
        for (auto& [name, pl] : plan)
            slots += (slots.empty() ? "etcd:" : ", etcd:") + st_->slot_key(name);
        const json txn = {{"compare", std::move(compares)},
                          {"success", std::move(success)},
                          {"failure", std::move(failure)}};
        auto doc = st_->gw.call("/v3/kv/txn", txn, "commit to " + slots);
        std::int64_t rev = header_revision(doc, slots);
        bool won = bool_at(doc, "succeeded");
        std::map<std::string, std::int64_t> seen; // failure: what each slot holds now
        std::map<std::string, bool> ours;         // failure: it holds exactly our value
        if (!won) {
            // A retried request may have been applied the first time: then etcd holds exactly
            // our values (each write carries a fresh nonce, so no one else wrote the same).
            if (auto* responses = find(doc, "responses"); responses && responses->is_array())
                for (auto& r : *responses)
                    if (auto* range = find(r, "response_range"))
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
        auto doc = st_->gw.call("/v3/kv/range", range_request(p, prefix_end(p), true), "list " + p);
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
