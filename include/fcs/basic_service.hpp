#ifndef FCS_BASIC_SERVICE_HPP
#define FCS_BASIC_SERVICE_HPP

// fcs::basic_service: the certificate service for one resolved policy pack, with every member
// an integrator calls. Most code names it through fcs::FailoverCertService<Policies...>
// (fcs/failover_cert_service.hpp), which picks the policies by kind and fills in the defaults,
// or through the short names of fcs/services.hpp. The member bodies are in
// fcs/impl/basic_service.ipp; with FCS_SEPARATE_COMPILATION the common packs are compiled
// once (fcs/src.hpp), not in every unit that names them.

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/service_types.hpp>
#include <fcs/types.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs {

/**
 * The certificate service of one policy pack: Storage (fcs::policy::Storage), Acl
 * (fcs::policy::Acl), Crypto (fcs::policy::CryptoBackend), Log (fcs::policy::LogSink) and
 * Clock (fcs::policy::Clock). Options and results: fcs/service_types.hpp and fcs/types.hpp.
 *
 * Thread safety: the members that change what is stored or published (start, install,
 * reload, inspect, replace_item, on_change) are serialised by one lock; status(), current()
 * and recheck() may be called from any thread at any time after start().
 * Errors: fcs::error, whose message names the file, the step and the cause.
 */
template <class Storage, class Acl, class Crypto, class Log, class Clock>
class basic_service {
public:
    using storage_type = Storage;
    using acl_type = Acl;
    using crypto_type = Crypto;
    using log_type = Log;
    using clock_type = Clock;
    using certificate = typename Crypto::certificate;
    using private_key = typename Crypto::private_key;
    using credential_type = credential<Crypto>;
    using credential_ptr = std::shared_ptr<const credential_type>;

    /// Takes the options and the policies; touches no storage (start() or inspect() does).
    /// @throws fcs::error (invalid_argument) when `o.name` is not a valid certificate name.
    basic_service(service_options o, Storage s, Acl a, Crypto c, Log l, Clock k);

    /**
     * Loads, validates, archives what is invalid, generates when nothing valid is left,
     * applies the ACL, logs the expiry finding, and publishes the pair.
     * @throws fcs::error when the storage cannot be used or a pair cannot be generated.
     */
    start_report start();

    /// Status of the pair in use. Precondition: start() has run.
    cert_status status() const;

    /// The pair in use (never null after start()).
    credential_ptr current() const;

    /// Called with each newly published pair (after start(), install(), reload()).
    void on_change(std::function<void(const credential_ptr&)> f);

    /**
     * The admin's replacement done safely: validate the new pair (parses, key unprotected and
     * usable, matches, dates), back up the pair in use into the archive, commit the new pair
     * under the name in use as one step, publish it. On any failure the pair in use and its
     * files stay as they were.
     * @throws fcs::error naming the input and the cause.
     */
    cert_status install(std::span<const std::uint8_t> cert_in, std::span<const std::uint8_t> key_in,
                        std::string_view cert_where = "certificate",
                        std::string_view key_where = "key", enum origin how = origin::installed);

    /// install() for an already parsed pair (the switchover importer decrypts first).
    cert_status install_parsed(std::vector<certificate> chain, private_key key,
                               std::string_view cert_where, enum origin how);

    /**
     * Re-reads the storage (files dropped in by an admin, a change by another process) and
     * publishes the best valid pair if it differs from the one in use. Changes no file:
     * invalid files are reported (they are archived at the next start()).
     */
    reload_result reload();

    /**
     * An item kept next to the pair in use that is not part of it (session-ticket keys):
     * read it, or nullopt when there is none.
     */
    std::optional<stored_item> read_item(part p);

    /**
     * What is stored, read only: the pair start() would use and what it would do about the
     * rest (archive, refuse, finish an interrupted change), without doing any of it. Never
     * creates a folder, changes a mode, replays a journal, archives or generates, and writes
     * nothing to the message log. For `status` commands and monitoring.
     * @throws fcs::error when the storage cannot be read (a missing data folder: not_found).
     */
    inspect_report inspect();

    /**
     * Writes such an item as one step, without a backup copy (it is rotated, not replaced),
     * and only when it still holds `expected` (nullopt: there is none), which the storage
     * checks atomically with the write: processes or nodes sharing the item cannot overwrite
     * each other's change unseen. Read with read_item(), change, write with this.
     * @returns false, having written nothing, when another writer changed the item first.
     */
    bool replace_item(part p, std::optional<secret_bytes> expected, secret_bytes data);

    /// Logs the expiry finding of the pair in use again (the server calls it daily).
    cert_status recheck();

    const service_options& options() const noexcept { return opts_; }
    Storage& storage() noexcept { return storage_; }
    const Storage& storage() const noexcept { return storage_; }
    const Acl& acl() const noexcept { return acl_; }
    const Crypto& crypto() const noexcept { return crypto_; }
    Log& log() noexcept { return log_; }
    const Clock& clock() const noexcept { return clock_; }

    /// Status of any credential, against this service's clock.
    cert_status status_of(const credential_type& c) const;

    /// Encodes a chain the way the storage keeps certificates (PEM: all; DER: the leaf).
    secret_bytes encode_chain(const std::vector<certificate>& chain) const;

    /// `t` as ISO 8601 UTC text, as every message of the service writes times.
    static std::string iso(time_point t);

private:
    struct archive_item {
        std::string name;
        part p;
        std::string why;
        std::optional<secret_bytes> data; ///< what the scan read: the archive commit expects it
    };
    /// start: may repair and logs; reload: may repair, logs only the choice; inspect: read
    /// only, logs nothing.
    enum class scan_mode { start, reload, inspect };
    struct scan_result {
        std::vector<std::shared_ptr<credential_type>> valid;
        std::vector<archive_item> to_archive;
        std::set<std::string> occupied; ///< names with unusable files left in place
    };

    /// Moves the unusable items into the archive (with the metadata of their slots) as one
    /// commit that expects each item to hold what the scan read; says so in the report.
    void archive(const std::vector<archive_item>& items, start_report& report);

    static secret_bytes metadata_for(enum origin how, const std::string& fingerprint);

    /// The origin recorded with the pair, if the record is about `fingerprint`.
    std::optional<enum origin> stored_origin(const std::string& name,
                                             const std::string& fingerprint) const;

    /// Records a finding and logs it (with `fields` where the sink keeps them).
    void say(start_report& r, finding::severity sev, const std::string& where,
             const std::string& msg, const policy::log_fields& fields = {});

    /// Moves the leaf (the certificate whose key is `key`) to the front. False: none matches.
    bool order_chain(std::vector<certificate>& chain, const private_key& key) const;

    scan_result scan_storage(start_report& report, scan_mode mode);

    /// Picks the pair to use: usable dates first, then CA-issued over self-signed, then the
    /// later notAfter, then the configured name. Says why when there is a choice.
    std::shared_ptr<credential_type> choose(std::vector<std::shared_ptr<credential_type>>& valid,
                                            start_report& report, bool logging);

    std::shared_ptr<credential_type> generate();

    void publish(std::shared_ptr<credential_type> c);

    std::vector<std::string> open_storage();

    /// The expiry finding for `s`, if its dates call for one.
    std::optional<finding> date_finding(const cert_status& s) const;

    void date_findings(const cert_status& s, start_report* report);

    service_options opts_;
    Storage storage_;
    Acl acl_;
    Crypto crypto_;
    Log log_;
    Clock clock_;
    // Not std::atomic<std::shared_ptr>: libstdc++ spins on a lock bit inside it and TSan cannot
    // follow it. This is not the handshake path (that is tls::server_context's lock-free load).
    mutable std::mutex current_mutex_;
    credential_ptr current_;
    bool opened_ = false;
    std::recursive_mutex change_mutex_;
    std::string choice_said_; ///< the last "several valid pairs" warning logged (change_mutex_)
    std::vector<std::function<void(const credential_ptr&)>> listeners_;
};

} // namespace fcs

#include <fcs/impl/basic_service.ipp>

#endif // FCS_BASIC_SERVICE_HPP
