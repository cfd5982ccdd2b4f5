// The bodies of fcs::basic_service (declared, and documented, in fcs/basic_service.hpp).
// Included by that header only. Out of the class and not inline, so that an
// `extern template class fcs::basic_service<...>` (fcs/services.hpp under
// FCS_SEPARATE_COMPILATION) keeps a unit from compiling them again.

#include <fcs/detail/time.hpp>
#include <fcs/names.hpp>
#include <fcs/storage/layout.hpp>

#include <algorithm>
#include <chrono>
#include <tuple>

#ifdef _WIN32
#include <fcs/detail/win32.hpp>
#else
#include <unistd.h>
#endif

namespace fcs {

namespace detail {

inline std::string host_name() {
#ifdef _WIN32
    wchar_t buf[256] = {};
    DWORD n = 255;
    if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &n) || n == 0)
        return "localhost";
    return narrow(std::wstring_view(buf, n));
#else
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "localhost";
    return buf;
#endif
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

} // namespace detail

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::iso(time_point t) -> std::string {
    return detail::iso8601(t);
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
basic_service<Storage, Acl, Crypto, Log, Clock>::basic_service(service_options o, Storage s, Acl a,
                                                               Crypto c, Log l, Clock k)
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::start() -> start_report {
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
            say(report, finding::severity::info, storage_.location(chosen->name, part::certificate),
                std::string("generated a new ") +
                    (opts_.profile == profile_kind::group_ca ? "server-group CA" : "self-signed") +
                    " certificate (" + crypto_.key_description(chosen->key) + ", valid until " +
                    iso(chosen->info.not_after) + "), SHA-256 " + chosen->info.sha256_fingerprint,
                {"generated", chosen->name, chosen->info.sha256_fingerprint});
        } catch (const error& e) {
            // A shared storage (etcd) refuses the write when another node stored a pair
            // first (errc::conflict): all nodes of a group must serve the winner's pair.
            if (e.fcs_code() != errc::conflict)
                throw;
            auto again = scan_storage(report, scan_mode::start);
            if (again.valid.empty())
                throw;
            chosen = choose(again.valid, report, true);
            say(report, finding::severity::info, storage_.location(chosen->name, part::certificate),
                "another node stored a pair first; using it, SHA-256 " +
                    chosen->info.sha256_fingerprint);
        }
    }
    publish(chosen);
    report.status = status();
    date_findings(report.status, &report);
    return report;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::status() const -> cert_status {
    auto c = current();
    if (!c)
        throw error(errc::not_found, "", "status", "the service has not been started");
    return status_of(*c);
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::current() const -> credential_ptr {
    std::lock_guard lock(current_mutex_);
    return current_;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::on_change(
    std::function<void(const credential_ptr&)> f) -> void {
    std::lock_guard lock(change_mutex_);
    listeners_.push_back(std::move(f));
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::install(std::span<const std::uint8_t> cert_in,
                                                              std::span<const std::uint8_t> key_in,
                                                              std::string_view cert_where,
                                                              std::string_view key_where,
                                                              enum origin how) -> cert_status {
    auto chain = crypto_.parse_certificates(cert_in, cert_where);
    private_key key;
    try {
        key = crypto_.parse_private_key(key_in, nullptr, key_where);
    } catch (const error& e) {
        if (e.fcs_code() == errc::key_encrypted)
            throw error(errc::key_encrypted, std::string(key_where), "install",
                        "key is password-protected; the failover service needs an unprotected key");
        throw;
    }
    return install_parsed(std::move(chain), std::move(key), cert_where, how);
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::install_parsed(std::vector<certificate> chain,
                                                                     private_key key,
                                                                     std::string_view cert_where,
                                                                     enum origin how)
    -> cert_status {
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
    c.archive_tag = detail::utc_tag(now);
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
    policy::write_log(log_, policy::level::info,
                      storage_.location(name, part::certificate) + ": " +
                          std::string(to_string(how)) + " a new certificate (" +
                          cred->info.subject + ", issued by " + cred->info.issuer + "), SHA-256 " +
                          cred->info.sha256_fingerprint +
                          (cur ? "; the previous one (SHA-256 " + cur->info.sha256_fingerprint +
                                     ") is in the archive"
                               : std::string()),
                      {to_string(how), name, cred->info.sha256_fingerprint});
    auto st = status();
    date_findings(st, nullptr);
    return st;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::reload() -> reload_result {
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
    policy::write_log(log_, policy::level::info, "reloaded: " + r.message,
                      {"reloaded", best->name, best->info.sha256_fingerprint});
    date_findings(status(), nullptr);
    return r;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::read_item(part p)
    -> std::optional<stored_item> {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::inspect() -> inspect_report {
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
        scratch.findings.push_back({finding::severity::error, storage_.location(name, p),
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::replace_item(
    part p, std::optional<secret_bytes> expected, secret_bytes data) -> bool {
    std::lock_guard lock(change_mutex_);
    auto c = current();
    const auto name = c ? c->name : opts_.name;
    change_set cs;
    cs.archive_tag = detail::utc_tag(clock_.now());
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::recheck() -> cert_status {
    auto st = status();
    date_findings(st, nullptr);
    return st;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::status_of(const credential_type& c) const
    -> cert_status {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::encode_chain(
    const std::vector<certificate>& chain) const -> secret_bytes {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::archive(
    const std::vector<archive_item>& items, start_report& report) -> void {
    if (items.empty())
        return;
    change_set c;
    c.archive_tag = detail::utc_tag(clock_.now());
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::metadata_for(enum origin how,
                                                                   const std::string& fingerprint)
    -> secret_bytes {
    return to_secret(std::string("origin=") + to_string(how) + "\nsha256=" + fingerprint + "\n");
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::stored_origin(
    const std::string& name, const std::string& fingerprint) const -> std::optional<enum origin> {
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
    for (auto o : {origin::generated, origin::installed, origin::imported, origin::acme})
        if (text.starts_with(std::string("origin=") + to_string(o) + "\n"))
            return o;
    return std::nullopt;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::say(start_report& r, finding::severity sev,
                                                          const std::string& where,
                                                          const std::string& msg,
                                                          const policy::log_fields& fields)
    -> void {
    r.findings.push_back({sev, where, msg});
    auto lv = sev == finding::severity::info      ? policy::level::info
              : sev == finding::severity::warning ? policy::level::warning
                                                  : policy::level::error;
    policy::write_log(log_, lv, where.empty() ? msg : where + ": " + msg, fields);
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::order_chain(std::vector<certificate>& chain,
                                                                  const private_key& key) const
    -> bool {
    for (std::size_t i = 0; i < chain.size(); ++i)
        if (crypto_.matches(chain[i], key)) {
            std::rotate(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(i),
                        chain.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            return true;
        }
    return false;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::scan_storage(start_report& report,
                                                                   scan_mode mode) -> scan_result {
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
            out.to_archive.push_back(
                {name, part::certificate, "certificate without a private key", cert_item->data});
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::choose(
    std::vector<std::shared_ptr<credential_type>>& valid, start_report& report, bool logging)
    -> std::shared_ptr<credential_type> {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::generate()
    -> std::shared_ptr<credential_type> {
    auto key = crypto_.generate_key(opts_.key);
    certificate_profile p;
    auto host = detail::host_name();
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
    auto cert = crypto_.self_sign(key, p, now, detail::add_years(now, opts_.validity_years));
    change_set c;
    c.archive_tag = detail::utc_tag(now);
    c.puts.push_back({opts_.name, part::certificate, encode_chain({cert})});
    c.puts.push_back(
        {opts_.name, part::private_key, crypto_.encode(key, storage_.encoding(part::private_key))});
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::publish(std::shared_ptr<credential_type> c)
    -> void {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::open_storage() -> std::vector<std::string> {
    auto rules = acl_.rules();
    rules.repair_folders = opts_.repair_permissions;
    auto notes = storage_.open(rules);
    opened_ = true;
    return notes;
}

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::date_finding(const cert_status& s) const
    -> std::optional<finding> {
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

template <class Storage, class Acl, class Crypto, class Log, class Clock>
auto basic_service<Storage, Acl, Crypto, Log, Clock>::date_findings(const cert_status& s,
                                                                    start_report* report) -> void {
    auto f = date_finding(s);
    if (!f)
        return;
    const policy::log_fields fields{to_string(s.state), s.name, s.info.sha256_fingerprint};
    if (report)
        say(*report, f->level, f->location, f->message, fields);
    else
        policy::write_log(log_,
                          f->level == finding::severity::warning ? policy::level::warning
                                                                 : policy::level::error,
                          f->location + ": " + f->message, fields);
}

} // namespace fcs
