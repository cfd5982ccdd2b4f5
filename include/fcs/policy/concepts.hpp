#ifndef FCS_POLICY_CONCEPTS_HPP
#define FCS_POLICY_CONCEPTS_HPP

// The requirements on each policy kind. fcs::FailoverCertService checks every policy it is
// given against one of these concepts and names this header in its static_assert message.

#include <fcs/detail/secret.hpp>
#include <fcs/policy/kind.hpp>
#include <fcs/types.hpp>

#include <concepts>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs {

/// One change of a storage, committed as one step by Storage::commit.
struct change_set {
    /// Write (create or replace) an item.
    struct put {
        std::string name;
        enum part part;
        secret_bytes data; // secret_bytes for both: the certificate is cleansed for free
        /// Copy the item it replaces into the archive first. Off for items that are rotated
        /// on a schedule (session-ticket keys), which would otherwise fill the archive.
        bool backup = true;
    };
    /// Move an item out of the active set into the archive (it is kept, never deleted).
    struct archive {
        std::string name;
        enum part part;
    };
    std::vector<put> puts;
    /// Items moved to the archive. An item that is also put is first copied to the archive
    /// (backup) and then replaced.
    std::vector<archive> archives;
    /// Tag of the archive/backup entries (a UTC timestamp, "20261123T101500Z").
    std::string archive_tag;
    /// Preconditions, checked inside the commit and atomically with it: each item must still
    /// hold exactly `data` (nullopt: must be absent). When one does not, the commit changes
    /// nothing and throws fcs::error(errc::conflict). This makes a read-modify-write of an item
    /// that several processes or nodes share (session-ticket keys) a compare-and-swap.
    struct expect {
        std::string name;
        enum part part;
        std::optional<secret_bytes> data;
    };
    std::vector<expect> expects;
};

/// An item read from a storage.
struct stored_item {
    secret_bytes data;
    std::string location;            ///< what to show a user ("Certificates/Keys/x.key")
    std::optional<file_facts> facts; ///< owner, mode, links when the storage has files
};

} // namespace fcs

namespace fcs::policy {

/**
 * Storage requirements. A type S is a storage policy when:
 *  1. it declares `using policy_kind = fcs::policy::kind::storage;`
 *  2. `s.open(const protections&)` creates or checks its folders (called first by start());
 *     it also finishes a commit a crash interrupted; returns notes for the message log;
 *  3. `s.names(part)` lists the slot names that hold that part;
 *  4. `s.read(name, part)` returns the item or nullopt, refusing unsafe files and inputs over
 *     the size bound with fcs::error;
 *  5. `s.location(name, part)` names the item for messages;
 *  6. `s.encoding(part)` says how the item is stored (PEM or DER);
 *  7. `s.commit(change_set)` applies all puts and archives as one step: after a crash, the
 *     next open() sees either all of it or none of it; it first checks the change set's
 *     `expects` atomically with the write and throws fcs::error(errc::conflict), changing
 *     nothing, when an item no longer holds what the caller read;
 *  8. `s.repair(name, part)` gives an item its configured protection again;
 *  9. optional: `s.open_read_only(const protections&)` opens without changing anything
 *     (no folder made, no mode set, no interrupted commit finished: it reports one in its
 *     notes), for FailoverCertService::inspect(). A storage without it must have an open()
 *     that changes nothing stored.
 * 10. optional: `s.watch(name, on_change, on_log)` reports changes made by others (see
 *     WatchableStorage below).
 * Example: fcs::storage::directory<fcs::storage::failover_layout>.
 */
template <class S>
concept Storage = PolicyOf<S, kind::storage> &&
    requires(S& s, const S& cs, const protections& p, const std::string& n, part pt,
             const change_set& c) {
    { s.open(p) } -> std::same_as<std::vector<std::string>>;
    { cs.names(pt) } -> std::same_as<std::vector<std::string>>;
    { cs.read(n, pt) } -> std::same_as<std::optional<stored_item>>;
    { cs.location(n, pt) } -> std::same_as<std::string>;
    { cs.encoding(pt) } -> std::same_as<encoding>;
    { s.commit(c) } -> std::same_as<void>;
    { s.repair(n, pt) } -> std::same_as<void>;
};

/**
 * ACL requirements:
 *  1. `using policy_kind = fcs::policy::kind::acl;`
 *  2. `a.rules()` returns the protections the storage applies on create;
 *  3. `a.check(facts, item_class)` returns an access_problem when a loaded file is too open,
 *     owned by someone else or reachable under another name ("permissions 0644 are too
 *     open"), saying whether a chmod to the configured mode repairs it; nullopt when it is
 *     fine.
 */
template <class A>
concept Acl = PolicyOf<A, kind::acl> && requires(const A& a, const file_facts& f, item_class c) {
    { a.rules() } -> std::same_as<protections>;
    { a.check(f, c) } -> std::same_as<std::optional<access_problem>>;
};

/**
 * Crypto backend requirements:
 *  1. `using policy_kind = fcs::policy::kind::crypto;`
 *  2. nested types `certificate` and `private_key` (copyable handles, RAII inside);
 *  3. `generate_key(key_type)`, `self_sign(key, certificate_profile, not_before, not_after)`,
 *     `key_description(key)` ("EC P-256": for messages, never key material);
 *  4. `parse_certificates(bytes, location)` (PEM or DER, a chain is fine) and
 *     `parse_private_key(bytes, password or nullptr, location)` (throws fcs::error naming the
 *     location: errc::key_encrypted for a protected key and no password);
 *  5. `matches(cert, key)`, `describe(cert)` -> cert_info;
 *  6. `encode(cert, encoding)` -> bytes and `encode(key, encoding)` -> secret_bytes.
 */
template <class C>
concept CryptoBackend = PolicyOf<C, kind::crypto> && requires {
    typename C::certificate;
    typename C::private_key;
} && requires(const C& c, const typename C::certificate& cert, const typename C::private_key& key,
              const certificate_profile& prof, std::span<const std::uint8_t> in,
              const secret_bytes* password, std::string_view where, key_type kt, time_point t,
              encoding e) {
    { c.generate_key(kt) } -> std::same_as<typename C::private_key>;
    { c.self_sign(key, prof, t, t) } -> std::same_as<typename C::certificate>;
    { c.key_description(key) } -> std::same_as<std::string>;
    { c.parse_certificates(in, where) } -> std::same_as<std::vector<typename C::certificate>>;
    { c.parse_private_key(in, password, where) } -> std::same_as<typename C::private_key>;
    { c.matches(cert, key) } -> std::same_as<bool>;
    { c.describe(cert) } -> std::same_as<cert_info>;
    { c.encode(cert, e) } -> std::same_as<bytes>;
    { c.encode(key, e) } -> std::same_as<secret_bytes>;
};

/// Message levels of the message log.
enum class level { debug, info, warning, error };

inline const char* to_string(level l) noexcept {
    switch (l) {
    case level::debug:
        return "DEBUG";
    case level::info:
        return "INFO";
    case level::warning:
        return "WARNING";
    case level::error:
        return "ERROR";
    }
    return "?";
}

/**
 * Log sink requirements:
 *  1. `using policy_kind = fcs::policy::kind::log;`
 *  2. `l.write(level, message)`, safe to call from several threads. It never receives key
 *     bytes: the core formats only names, fingerprints and causes.
 */
template <class L>
concept LogSink = PolicyOf<L, kind::log> && requires(L& l, level lv, std::string_view m) {
    { l.write(lv, m) } -> std::same_as<void>;
};

/// What a message is about, for sinks that store fields beside the text (the journal's
/// FCS_EVENT, FCS_CERT_NAME, FCS_FINGERPRINT). An empty member is not known or not relevant.
/// The message itself always says the same in words: a sink may ignore the fields.
struct log_fields {
    std::string_view event;       ///< "generated", "installed", "imported", "reloaded",
                                  ///< "expiring", "expired", "not-yet-valid"
    std::string_view cert_name;   ///< the slot name, e.g. "FailoverService"
    std::string_view fingerprint; ///< SHA-256, colon-separated upper-case hex
};

/**
 * Optional, for sinks that keep structured fields:
 *  3. `l.write(level, message, fields)` with a `const log_fields&`, thread-safe like 2.
 * The core calls it through fcs::policy::write_log for the events log_fields names, and the
 * two-argument form for everything else; a sink without it gets only the message.
 */
template <class L>
concept StructuredLogSink = LogSink<L> &&
    requires(L& l, level lv, std::string_view m, const log_fields& f) {
    { l.write(lv, m, f) } -> std::same_as<void>;
};

/// Writes `m` with its fields where the sink keeps them, else the message alone.
template <LogSink L>
void write_log(L& l, level lv, std::string_view m, const log_fields& f) {
    if constexpr (StructuredLogSink<L>)
        l.write(lv, m, f);
    else
        l.write(lv, m);
}

/// What a storage watch calls after the stored pair may have changed (see WatchableStorage).
using watch_change_fn = std::function<void()>;
/// What a storage watch calls with its own problems (cannot watch, reconnecting).
using watch_log_fn = std::function<void(level, const std::string&)>;

/**
 * Optional storage capability: watching for changes made by others (an admin dropping files
 * into the folders, `replace` run by another process, another node of a server group). A
 * storage S that can watch meets Storage and:
 *  1. `cs.watch(slot_name, on_change, on_log)` (const) starts watching slot `slot_name` and
 *     returns a handle W; destroying W stops the watch and waits for its callbacks to return
 *     (so a callback must not destroy its own handle). W is movable (a std::unique_ptr is
 *     fine);
 *  2. `on_change()` is called on the watch's own thread after a change that may concern the
 *     slot's pair, once per burst of changes (a storage may coalesce, e.g. a settle time); it
 *     may report a change that turns out to be none (the caller re-reads), but never misses
 *     one made after watch() returned. The storage's own temporary and journal files are never
 *     reported. It must return quickly (queue the reload; fcs::reloader does);
 *  3. `on_log(level, message)` reports the watch's own problems (a folder that cannot be
 *     watched, a lost connection); it may be empty.
 * Models: fcs::storage::directory<L> (inotify, storage/directory_watch.hpp) and
 * fcs::storage::etcd (a watch stream).
 * Example:
 * @code
 *   auto w = svc.storage().watch(svc.options().name, [&] { reloader.request("a change"); },
 *                                [&](auto level, auto& m) { svc.log().write(level, m); });
 * @endcode
 */
template <class S>
concept WatchableStorage = Storage<S> &&
    requires(const S& cs, const std::string& n, watch_change_fn f, watch_log_fn l) {
    cs.watch(n, f, l);
    requires std::movable<decltype(cs.watch(n, f, l))>;
};

/**
 * Clock requirements:
 *  1. `using policy_kind = fcs::policy::kind::clock;`
 *  2. `c.now()` -> std::chrono::system_clock::time_point. Tests inject a manual clock.
 */
template <class C>
concept Clock = PolicyOf<C, kind::clock> && requires(const C& c) {
    { c.now() } -> std::same_as<time_point>;
};

} // namespace fcs::policy

namespace fcs::clock {
/// The real clock (default).
struct system {
    using policy_kind = policy::kind::clock;
    time_point now() const { return std::chrono::system_clock::now(); }
};
} // namespace fcs::clock

#endif // FCS_POLICY_CONCEPTS_HPP
