#ifndef FCS_DETAIL_SERVICE_CORE_HPP
#define FCS_DETAIL_SERVICE_CORE_HPP

#include <fcs/detail/time.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>
#include <fcs/service_types.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/types.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <tuple>
#include <string>
#include <vector>

#include <unistd.h>

namespace fcs {

namespace detail {

inline std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "localhost";
    return buf;
}

/// `t` plus whole calendar years (29 February becomes 28 February).
inline time_point add_years(time_point t, int years) {
    using namespace std::chrono;
    auto day = floor<days>(t);
    year_month_day ymd{day};
    auto target = ymd + std::chrono::years(years);
    if (!target.ok())
        target = year_month_day{year_month_day_last{target.year(), month_day_last{target.month()}}};
    return sys_days{target} + (t - day);
}

/// The implementation of FailoverCertService once its policy pack has been checked.
template <class Storage, class Acl, class Crypto, class Log, class Clock>
class service_core {
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

    service_core(service_options o, Storage s, Acl a, Crypto c, Log l, Clock k)
        : opts_(std::move(o))
        , storage_(std::move(s))
        , acl_(std::move(a))
        , crypto_(std::move(c))
        , log_(std::move(l))
        , clock_(std::move(k)) {
        if (!storage::valid_slot_name(opts_.name))
            throw error(errc::invalid_argument, opts_.name, "configure",
                        "not a valid certificate name");
    }

    /**
     * Loads, validates, archives what is invalid, generates when nothing valid is left,
     * applies the ACL, logs the expiry finding, and publishes the pair.
     * @throws fcs::error when the storage cannot be used or a pair cannot be generated.
     */
    start_report start() {
        std::lock_guard lock(change_mutex_);
        start_report report;
        for (auto& note : open_storage())
            say(report, finding::severity::warning, "", note);
        const auto opened = report.findings.size();
        scan_result scan;
        // The archive commit re-checks, under the storage's lock, that every item still holds
        // what the scan read: another process (`replace` while the server starts) may have
        // committed a new pair in between, which must not be archived as the old one was.
        for (int attempt = 1;; ++attempt) {
            scan = scan_storage(report, scan_mode::start);
            try {
                archive(scan.to_archive, report);
                break;
            } catch (const error& e) {
                if (e.fcs_code() != errc::conflict || attempt == 3)
                    throw;
                report.findings.resize(opened);
                log_.write(policy::level::info, "the storage changed while it was checked "
                                                "(another process committed); checking again");
            }
        }
        std::shared_ptr<credential_type> chosen;
        if (!scan.valid.empty()) {
            chosen = choose(scan.valid, report, true);
        } else if (!opts_.generate_when_missing) {
            say(report, finding::severity::info, "",
                "no usable certificate pair is stored; none generated");
            return report;
        } else {
            if (scan.occupied.count(opts_.name))
                throw error(errc::conflict, storage_.location(opts_.name, part::certificate),
                            "generate",
                            "no usable certificate, and a new one cannot be generated without "
                            "overwriting the unusable pair of the same name; fix or remove it");
            try {
                chosen = generate();
                report.generated = true;
                say(report, finding::severity::info,
                    storage_.location(chosen->name, part::certificate),
                    std::string("generated a new ") +
                        (opts_.profile == profile_kind::group_ca ? "server-group CA"
                                                                 : "self-signed") +
                        " certificate (" + crypto_.key_description(chosen->key) + ", valid until " +
                        iso(chosen->info.not_after) + "), SHA-256 " +
                        chosen->info.sha256_fingerprint);
            } catch (const error& e) {
                // A shared storage (etcd) refuses the write when another node stored a pair
                // first (errc::conflict): all nodes of a group must serve the winner's pair.
                if (e.fcs_code() != errc::conflict)
                    throw;
                auto again = scan_storage(report, scan_mode::start);
                if (again.valid.empty())
                    throw;
                chosen = choose(again.valid, report, true);
                say(report, finding::severity::info,
                    storage_.location(chosen->name, part::certificate),
                    "another node stored a pair first; using it, SHA-256 " +
                        chosen->info.sha256_fingerprint);
            }
        }
        publish(chosen);
        report.status = status();
        date_findings(report.status, &report);
        return report;
    }

    /// Status of the pair in use. Precondition: start() has run.
    cert_status status() const {
        auto c = current();
        if (!c)
            throw error(errc::not_found, "", "status", "the service has not been started");
        return status_of(*c);
    }

    /// The pair in use (never null after start()).
    credential_ptr current() const {
        std::lock_guard lock(current_mutex_);
        return current_;
    }

    /// Called with each newly published pair (after start(), install(), reload()).
    void on_change(std::function<void(const credential_ptr&)> f) {
        std::lock_guard lock(change_mutex_);
        listeners_.push_back(std::move(f));
    }

    /**
     * The admin's replacement done safely: validate the new pair (parses, key unprotected and
     * usable, matches, dates), back up the pair in use into the archive, commit the new pair
     * under the name in use as one step, publish it. On any failure the pair in use and its
     * files stay as they were.
     * @throws fcs::error naming the input and the cause.
     */
    cert_status install(std::span<const std::uint8_t> cert_in, std::span<const std::uint8_t> key_in,
                        std::string_view cert_where = "certificate",
                        std::string_view key_where = "key", enum origin how = origin::installed) {
        auto chain = crypto_.parse_certificates(cert_in, cert_where);
        private_key key;
        try {
            key = crypto_.parse_private_key(key_in, nullptr, key_where);
        } catch (const error& e) {
            if (e.fcs_code() == errc::key_encrypted)
                throw error(
                    errc::key_encrypted, std::string(key_where), "install",
                    "key is password-protected; the failover service needs an unprotected key");
            throw;
        }
        return install_parsed(std::move(chain), std::move(key), cert_where, how);
    }

    /// install() for an already parsed pair (the switchover importer decrypts first).
    cert_status install_parsed(std::vector<certificate> chain, private_key key,
                               std::string_view cert_where, enum origin how) {
        std::lock_guard lock(change_mutex_);
        if (!opened_) // install without start() (the `replace` command): no generation, no
                      // archiving
            for (auto& note : open_storage())
                log_.write(policy::level::warning, note);
        auto leaf = order_chain(chain, key);
        if (!leaf)
            throw error(errc::key_mismatch, std::string(cert_where), "install",
                        "the private key does not match the certificate");
        auto info = crypto_.describe(chain.front());
        auto now = clock_.now();
        if (now > info.not_after)
            throw error(errc::certificate_expired, std::string(cert_where), "install",
                        "the certificate expired on " + iso(info.not_after));
        if (now < info.not_before)
            throw error(errc::not_yet_valid, std::string(cert_where), "install",
                        "the certificate is not valid before " + iso(info.not_before));
        auto cur = current();
        std::string name = cur ? cur->name : opts_.name;
        change_set c;
        c.archive_tag = utc_tag(now);
        c.puts.push_back({name, part::certificate, encode_chain(chain)});
        c.puts.push_back(
            {name, part::private_key, crypto_.encode(key, storage_.encoding(part::private_key))});
        c.puts.push_back({name, part::metadata, metadata_for(how, info.sha256_fingerprint)});
        storage_.commit(c);
        auto cred = std::make_shared<credential_type>();
        cred->name = name;
        cred->chain = std::move(chain);
        cred->key = std::move(key);
        cred->info = std::move(info);
        cred->origin = how;
        publish(cred);
        log_.write(policy::level::info,
                   storage_.location(name, part::certificate) + ": " + std::string(to_string(how)) +
                       " a new certificate (" + cred->info.subject + ", issued by " +
                       cred->info.issuer + "), SHA-256 " + cred->info.sha256_fingerprint +
                       (cur ? "; the previous one (SHA-256 " + cur->info.sha256_fingerprint +
                                  ") is in the archive"
                            : std::string()));
        auto st = status();
        date_findings(st, nullptr);
        return st;
    }

    /**
     * Re-reads the storage (files dropped in by an admin, a change by another process) and
     * publishes the best valid pair if it differs from the one in use. Changes no file:
     * invalid files are reported (they are archived at the next start()).
     */
    reload_result reload() {
        std::lock_guard lock(change_mutex_);
        reload_result r;
        start_report scratch;
        auto scan = scan_storage(scratch, scan_mode::reload);
        for (auto& f : scratch.findings)
            if (f.level != finding::severity::info)
                r.failed = true;
        for (auto& [name, p, why, data] : scan.to_archive) {
            r.failed = true;
            log_.write(policy::level::error, storage_.location(name, p) + ": not used: " + why);
        }
        auto cur = current();
        if (scan.valid.empty()) {
            r.message = "no valid pair on disk; keeps serving the pair in use";
            log_.write(policy::level::warning, r.message);
            r.failed = r.failed || !cur;
            return r;
        }
        auto best = choose(scan.valid, scratch, true);
        if (cur && best->info.sha256_fingerprint == cur->info.sha256_fingerprint &&
            best->name == cur->name) {
            r.message = "unchanged";
            return r;
        }
        publish(best);
        r.changed = true;
        r.message = "now using " + storage_.location(best->name, part::certificate) + ", SHA-256 " +
                    best->info.sha256_fingerprint;
        log_.write(policy::level::info, "reloaded: " + r.message);
        date_findings(status(), nullptr);
        return r;
    }

    /**
     * An item kept next to the pair in use that is not part of it (session-ticket keys):
     * read it, or nullopt when there is none.
     */
    std::optional<stored_item> read_item(part p) {
        auto c = current();
        const auto name = c ? c->name : opts_.name;
        auto item = storage_.read(name, p);
        // The same rule as for the key: ticket keys decrypt every session.
        if (item && item->facts)
            if (auto problem = acl_.check(*item->facts, class_of(p))) {
                if (!opts_.repair_permissions || !problem->mode_only)
                    throw error(errc::unsafe_file, item->location, "read", problem->text);
                storage_.repair(name, p);
                log_.write(policy::level::warning,
                           item->location + ": " + problem->text + "; repaired as configured");
            }
        return item;
    }

    /**
     * What is stored, read only: the pair start() would use and what it would do about the
     * rest (archive, refuse, finish an interrupted change), without doing any of it. Never
     * creates a folder, changes a mode, replays a journal, archives or generates, and writes
     * nothing to the message log. For `status` commands and monitoring.
     * @throws fcs::error when the storage cannot be read (a missing data folder: not_found).
     */
    inspect_report inspect() {
        std::lock_guard lock(change_mutex_);
        inspect_report out;
        start_report scratch;
        auto rules = acl_.rules();
        rules.repair_folders = opts_.repair_permissions; // as open_storage() gives them
        std::vector<std::string> notes;
        if constexpr (requires { storage_.open_read_only(rules); })
            notes = storage_.open_read_only(rules);
        else
            notes = storage_.open(rules); // a storage whose open() changes nothing
        for (auto& n : notes)
            scratch.findings.push_back({finding::severity::warning, "", n});
        auto scan = scan_storage(scratch, scan_mode::inspect);
        for (auto& [name, p, why, data] : scan.to_archive)
            scratch.findings.push_back(
                {finding::severity::error, storage_.location(name, p),
                 "unusable; the next start moves it to the archive: " + why});
        if (!scan.valid.empty()) {
            auto best = choose(scan.valid, scratch, false);
            out.status = status_of(*best);
            if (auto f = date_finding(*out.status))
                scratch.findings.push_back(*f);
        }
        out.findings = std::move(scratch.findings);
        return out;
    }

    /**
     * Writes such an item as one step, without a backup copy (it is rotated, not replaced),
     * and only when it still holds `expected` (nullopt: there is none), which the storage
     * checks atomically with the write: processes or nodes sharing the item cannot overwrite
     * each other's change unseen. Read with read_item(), change, write with this.
     * @returns false, having written nothing, when another writer changed the item first.
     */
    bool replace_item(part p, std::optional<secret_bytes> expected, secret_bytes data) {
        std::lock_guard lock(change_mutex_);
        auto c = current();
        const auto name = c ? c->name : opts_.name;
        change_set cs;
        cs.archive_tag = utc_tag(clock_.now());
        cs.expects.push_back({name, p, std::move(expected)});
        cs.puts.push_back({name, p, std::move(data), false});
        try {
            storage_.commit(cs);
        } catch (const error& e) {
            if (e.fcs_code() != errc::conflict)
                throw;
            return false;
        }
        return true;
    }

    /// Logs the expiry finding of the pair in use again (the server calls it daily).
    cert_status recheck() {
        auto st = status();
        date_findings(st, nullptr);
        return st;
    }

    const service_options& options() const noexcept { return opts_; }
    Storage& storage() noexcept { return storage_; }
    const Storage& storage() const noexcept { return storage_; }
    const Acl& acl() const noexcept { return acl_; }
    const Crypto& crypto() const noexcept { return crypto_; }
    Log& log() noexcept { return log_; }
    const Clock& clock() const noexcept { return clock_; }

    /// Status of any credential, against this service's clock.
    cert_status status_of(const credential_type& c) const {
        cert_status s;
        s.name = c.name;
        s.info = c.info;
        s.origin = c.origin;
        s.certificate_location = storage_.location(c.name, part::certificate);
        s.key_location = storage_.location(c.name, part::private_key);
        auto now = clock_.now();
        auto left = c.info.not_after - now;
        s.days_remaining = std::chrono::floor<std::chrono::days>(left).count();
        if (now < c.info.not_before)
            s.state = cert_state::not_yet_valid;
        else if (now > c.info.not_after)
            s.state = cert_state::expired;
        else if (left <= opts_.warn_before)
            s.state = cert_state::expiring;
        else
            s.state = cert_state::valid;
        return s;
    }

    /// Encodes a chain the way the storage keeps certificates (PEM: all; DER: the leaf).
    secret_bytes encode_chain(const std::vector<certificate>& chain) const {
        secret_bytes out;
        auto enc = storage_.encoding(part::certificate);
        for (auto& c : chain) {
            auto b = crypto_.encode(c, enc);
            out.insert(out.end(), b.begin(), b.end());
            if (enc == encoding::der)
                break; // one DER certificate per file
        }
        return out;
    }

    static std::string iso(time_point t) { return iso8601(t); }

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
    void archive(const std::vector<archive_item>& items, start_report& report) {
        if (items.empty())
            return;
        change_set c;
        c.archive_tag = utc_tag(clock_.now());
        std::set<std::string> meta_done;
        for (auto& item : items)
            if (meta_done.insert(item.name).second)
                if (auto meta = storage_.read(item.name, part::metadata)) {
                    c.archives.push_back({item.name, part::metadata});
                    c.expects.push_back({item.name, part::metadata, std::move(meta->data)});
                }
        for (auto& item : items) {
            c.archives.push_back({item.name, item.p});
            c.expects.push_back({item.name, item.p, item.data});
        }
        storage_.commit(c);
        for (auto& [name, p, why, data] : items) {
            report.archived.push_back(storage_.location(name, p));
            say(report, finding::severity::warning, storage_.location(name, p),
                "moved to the archive: " + why);
        }
    }

    static secret_bytes metadata_for(enum origin how, const std::string& fingerprint) {
        return to_secret(std::string("origin=") + to_string(how) + "\nsha256=" + fingerprint +
                         "\n");
    }

    /// The origin recorded with the pair, if the record is about `fingerprint`.
    std::optional<enum origin> stored_origin(const std::string& name,
                                             const std::string& fingerprint) const {
        std::optional<stored_item> meta;
        try {
            meta = storage_.read(name, part::metadata);
        } catch (const error&) {
            return std::nullopt; // unreadable metadata only costs the origin
        }
        if (!meta)
            return std::nullopt;
        auto text = as_text(meta->data);
        if (text.find("sha256=" + fingerprint + "\n") == std::string_view::npos)
            return std::nullopt;
        for (auto o : {origin::generated, origin::installed, origin::imported})
            if (text.starts_with(std::string("origin=") + to_string(o) + "\n"))
                return o;
        return std::nullopt;
    }

    void say(start_report& r, finding::severity sev, const std::string& where,
             const std::string& msg) {
        r.findings.push_back({sev, where, msg});
        auto lv = sev == finding::severity::info      ? policy::level::info
                  : sev == finding::severity::warning ? policy::level::warning
                                                      : policy::level::error;
        log_.write(lv, where.empty() ? msg : where + ": " + msg);
    }

    /// Moves the leaf (the certificate whose key is `key`) to the front. False: none matches.
    bool order_chain(std::vector<certificate>& chain, const private_key& key) const {
        for (std::size_t i = 0; i < chain.size(); ++i)
            if (crypto_.matches(chain[i], key)) {
                std::rotate(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(i),
                            chain.begin() + static_cast<std::ptrdiff_t>(i) + 1);
                return true;
            }
        return false;
    }

    scan_result scan_storage(start_report& report, scan_mode mode) {
        const bool logging = mode == scan_mode::start;
        scan_result out;
        std::set<std::string> names;
        for (auto p : {part::certificate, part::private_key})
            for (auto& n : storage_.names(p))
                names.insert(n);
        auto note = [&](finding::severity sev, const std::string& where, const std::string& msg) {
            if (logging)
                say(report, sev, where, msg);
            else
                report.findings.push_back({sev, where, msg});
        };
        for (auto& name : names) {
            std::optional<stored_item> cert_item, key_item;
            try {
                cert_item = storage_.read(name, part::certificate);
                key_item = storage_.read(name, part::private_key);
            } catch (const error& e) {
                // A symlink, a non-regular file, an oversized file: never followed or moved.
                out.occupied.insert(name);
                note(finding::severity::error, e.file(), std::string("not used: ") + e.cause());
                continue;
            }
            if (!cert_item) {
                out.to_archive.push_back(
                    {name, part::private_key, "private key without a certificate", key_item->data});
                continue;
            }
            if (!key_item) {
                out.to_archive.push_back({name, part::certificate,
                                          "certificate without a private key", cert_item->data});
                continue;
            }
            auto unsafe = [&](const stored_item& it, part p) -> bool {
                if (!it.facts)
                    return false;
                auto problem = acl_.check(*it.facts, class_of(p));
                if (!problem)
                    return false;
                // Only a mode is repaired: a foreign owner or a second link is a sign that
                // someone else controls the file, which no chmod undoes.
                if (opts_.repair_permissions && problem->mode_only && mode != scan_mode::inspect) {
                    storage_.repair(name, p);
                    note(finding::severity::warning, it.location,
                         problem->text + "; repaired as configured");
                    return false;
                }
                out.occupied.insert(name);
                note(finding::severity::error, it.location,
                     "not used: " + problem->text +
                         (opts_.repair_permissions && problem->mode_only
                              ? " (repaired when the service starts, as configured)"
                              : ""));
                return true;
            };
            if (unsafe(*key_item, part::private_key) || unsafe(*cert_item, part::certificate))
                continue;
            auto both = [&](const std::string& why) {
                out.to_archive.push_back({name, part::certificate, why, cert_item->data});
                out.to_archive.push_back({name, part::private_key, why, key_item->data});
            };
            std::vector<certificate> chain;
            private_key key;
            try {
                chain = crypto_.parse_certificates(cert_item->data, cert_item->location);
            } catch (const error& e) {
                both(cert_item->location + ": " + e.cause());
                continue;
            }
            try {
                key = crypto_.parse_private_key(key_item->data, nullptr, key_item->location);
            } catch (const error& e) {
                if (e.fcs_code() == errc::key_encrypted) {
                    out.occupied.insert(name);
                    note(finding::severity::error, key_item->location,
                         "key is password-protected; the failover service needs an unprotected "
                         "key (the pair is left in place so you can replace the key)");
                    continue;
                }
                both(key_item->location + ": " + e.cause());
                continue;
            }
            if (!order_chain(chain, key)) {
                both("the private key does not match the certificate");
                continue;
            }
            auto cred = std::make_shared<credential_type>();
            cred->name = name;
            cred->info = crypto_.describe(chain.front());
            cred->chain = std::move(chain);
            cred->key = std::move(key);
            // Origin: what the metadata written with the pair says, when it is about this very
            // certificate; else a guess from the certificate (files dropped in by an admin).
            cred->origin =
                stored_origin(name, cred->info.sha256_fingerprint)
                    .value_or(cred->info.self_signed && !cred->info.is_ca ? origin::generated
                                                                          : origin::installed);
            out.valid.push_back(std::move(cred));
        }
        return out;
    }

    /// Picks the pair to use: usable dates first, then CA-issued over self-signed, then the
    /// later notAfter, then the configured name. Says why when there is a choice.
    std::shared_ptr<credential_type> choose(std::vector<std::shared_ptr<credential_type>>& valid,
                                            start_report& report, bool logging) {
        auto now = clock_.now();
        auto rank = [&](const credential_type& c) {
            int dates = now < c.info.not_before ? 1 : now > c.info.not_after ? 2 : 0;
            int kind = c.info.self_signed ? 1 : 0;
            return std::tuple(dates, kind);
        };
        std::stable_sort(valid.begin(), valid.end(), [&](auto& a, auto& b) {
            auto ra = rank(*a), rb = rank(*b);
            if (ra != rb)
                return ra < rb;
            if (a->info.not_after != b->info.not_after)
                return a->info.not_after > b->info.not_after;
            return (a->name == opts_.name) > (b->name == opts_.name);
        });
        if (valid.size() > 1) {
            auto describe = [&](const credential_type& c) {
                auto [d, k] = rank(c);
                std::string s = storage_.location(c.name, part::certificate) + " (" +
                                (k ? "self-signed" : "issued by " + c.info.issuer);
                s += d == 1 ? ", not yet valid" : d == 2 ? ", expired" : "";
                return s + ", valid until " + iso(c.info.not_after) + ")";
            };
            std::string msg = "several valid certificate pairs; using " + describe(*valid.front());
            auto [d0, k0] = rank(*valid.front());
            msg += d0 == 0 && k0 == 0
                       ? " because a CA-issued certificate is preferred over a self-signed one"
                       : " because it is valid longest";
            msg += "; not used:";
            for (std::size_t i = 1; i < valid.size(); ++i)
                msg += " " + describe(*valid[i]) + (i + 1 < valid.size() ? "," : "");
            msg += ". Delete the pair you no longer want.";
            // Logged once per situation: every reload (each folder event) would repeat it.
            if (!logging || msg == choice_said_)
                report.findings.push_back({finding::severity::warning, "", msg});
            else
                say(report, finding::severity::warning, "", msg);
            if (logging)
                choice_said_ = std::move(msg);
        } else if (logging) {
            choice_said_.clear();
        }
        return valid.front();
    }

    std::shared_ptr<credential_type> generate() {
        auto key = crypto_.generate_key(opts_.key);
        certificate_profile p;
        auto host = host_name();
        const bool ca = opts_.profile == profile_kind::group_ca;
        p.ca = ca;
        p.organization = opts_.organization;
        p.common_name = !opts_.common_name.empty() ? opts_.common_name
                        : ca                       ? "fcs Server Group CA " + host
                                                   : host;
        if (!ca) {
            // A host name that is not a valid DNS name ("my_box") stays in the subject only:
            // a certificate carries no name that fails the syntax every name is checked for.
            if (auto why = dns_name_problem(host))
                log_.write(policy::level::warning, "the host name \"" + printable_name(host) +
                                                       "\" is not a valid DNS name (" + *why +
                                                       "); the certificate does not name it");
            else
                p.dns_names = {host};
            if (host != "localhost")
                p.dns_names.push_back("localhost");
            p.ip_addresses = {"127.0.0.1", "::1"};
        }
        for (auto& d : opts_.dns_names)
            if (std::find(p.dns_names.begin(), p.dns_names.end(), d) == p.dns_names.end())
                p.dns_names.push_back(d);
        for (auto& i : opts_.ip_addresses)
            if (std::find(p.ip_addresses.begin(), p.ip_addresses.end(), i) == p.ip_addresses.end())
                p.ip_addresses.push_back(i);
        auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
        auto cert = crypto_.self_sign(key, p, now, add_years(now, opts_.validity_years));
        change_set c;
        c.archive_tag = utc_tag(now);
        c.puts.push_back({opts_.name, part::certificate, encode_chain({cert})});
        c.puts.push_back({opts_.name, part::private_key,
                          crypto_.encode(key, storage_.encoding(part::private_key))});
        auto info = crypto_.describe(cert);
        c.puts.push_back(
            {opts_.name, part::metadata, metadata_for(origin::generated, info.sha256_fingerprint)});
        storage_.commit(c);
        auto cred = std::make_shared<credential_type>();
        cred->name = opts_.name;
        cred->info = std::move(info);
        cred->chain = {std::move(cert)};
        cred->key = std::move(key);
        cred->origin = origin::generated;
        return cred;
    }

    void publish(std::shared_ptr<credential_type> c) {
        credential_ptr p = std::move(c);
        {
            std::lock_guard lock(current_mutex_);
            current_ = p;
        }
        for (auto& f : listeners_) {
            try {
                f(p);
            } catch (const std::exception& e) {
                // The pair is published; a listener's failure must not undo or hide that.
                log_.write(policy::level::error,
                           std::string("a listener of the new certificate failed: ") + e.what());
            }
        }
    }

    std::vector<std::string> open_storage() {
        auto rules = acl_.rules();
        rules.repair_folders = opts_.repair_permissions;
        auto notes = storage_.open(rules);
        opened_ = true;
        return notes;
    }

    /// The expiry finding for `s`, if its dates call for one.
    std::optional<finding> date_finding(const cert_status& s) const {
        switch (s.state) {
        case cert_state::valid:
            return std::nullopt;
        case cert_state::expiring:
            return finding{finding::severity::warning, s.certificate_location,
                           "the certificate expires in " + std::to_string(s.days_remaining) +
                               " days (" + iso(s.info.not_after) + "); replace it soon"};
        case cert_state::expired:
            return finding{finding::severity::error, s.certificate_location,
                           "the certificate expired on " + iso(s.info.not_after) +
                               "; it is still used until it is replaced"};
        case cert_state::not_yet_valid:
            return finding{finding::severity::error, s.certificate_location,
                           "the certificate is not valid before " + iso(s.info.not_before) +
                               " (check the clock); it is still used"};
        }
        return std::nullopt;
    }

    void date_findings(const cert_status& s, start_report* report) {
        auto f = date_finding(s);
        if (!f)
            return;
        if (report)
            say(*report, f->level, f->location, f->message);
        else
            log_.write(f->level == finding::severity::warning ? policy::level::warning
                                                              : policy::level::error,
                       f->location + ": " + f->message);
    }

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

} // namespace detail
} // namespace fcs

#endif // FCS_DETAIL_SERVICE_CORE_HPP
