#ifndef FCS_SWITCHOVER_HPP
#define FCS_SWITCHOVER_HPP

// Switchover pairs: the operations that put one server-group certificate on both servers of a
// pair (import, export, verify) and let the group CA sign child certificates (issue). They
// work on any started FailoverCertService whose crypto backend can read PKCS#12 and CSRs
// (fcs::crypto::boringssl); the example program fcs-switchover is a thin shell around them.

#include <fcs/detail/formats.hpp>
#if defined(_WIN32)
#include <fcs/acl/windows.hpp>
#include <fcs/detail/win32_fs.hpp>
#else
#include <fcs/detail/fs.hpp>
#endif
#include <fcs/detail/secret.hpp>
#include <fcs/error.hpp>
#include <fcs/names.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/types.hpp>

// range-v3 (librange-v3-dev, header-only; link fcs::switchover): what std::ranges lacks in
// g++ 12 (ranges::to, views::concat, views::join with a separator). Kept out of the headers
// <fcs/fcs.hpp> includes: see docs/ARCHITECTURE.md ("range-v3").
#include <range/v3/range/conversion.hpp>
#include <range/v3/view/concat.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/join.hpp>
#include <range/v3/view/transform.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fcs::switchover {

/// How an input is encoded; `automatic` detects it by content, never by file name.
enum class input_format { automatic, pem, der, pkcs12 };

inline std::optional<input_format> input_format_from_string(std::string_view s) noexcept {
    if (s == "auto")
        return input_format::automatic;
    if (s == "pem")
        return input_format::pem;
    if (s == "der")
        return input_format::der;
    if (s == "pkcs12")
        return input_format::pkcs12;
    return std::nullopt;
}

/// The pair to import: a certificate file and a key file, or one bundle (PKCS#12, or a PEM
/// file holding the certificate and the key).
struct import_source {
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
    std::filesystem::path bundle_file;
    input_format format = input_format::automatic;
};

/// The steps of an import, reported in this order.
enum class import_step { validate, stage, back_up, commit };

inline const char* to_string(import_step s) noexcept {
    switch (s) {
    case import_step::validate:
        return "validate";
    case import_step::stage:
        return "stage";
    case import_step::back_up:
        return "back up";
    case import_step::commit:
        return "commit";
    }
    return "?";
}

/// Called once per step with a line for the operator.
using progress = std::function<void(import_step, const std::string&)>;

struct import_result {
    bool already_present = false;     ///< the identical pair was installed: nothing changed
    cert_status status;               ///< the pair in use afterwards
    std::string previous_fingerprint; ///< "" when no pair was installed before
    std::string backup_folder;        ///< where the replaced pair went ("" when none)
    std::vector<std::string> notes;   ///< e.g. chain certificates that are not stored
};

struct export_result {
    std::filesystem::path certificate;
    std::filesystem::path key;
    std::string fingerprint;
    bool unchanged = false;         ///< the folder already held the identical pair
    std::vector<std::string> notes; ///< e.g. an existing folder that others can read
};

struct verify_result {
    bool identical = false;
    std::string local_fingerprint;
    std::string peer_fingerprint; ///< "" when the peer certificate cannot be read
    std::filesystem::path peer_certificate;
    std::filesystem::path peer_key;
    std::vector<std::string> differences; ///< what differs, in plain words
};

/**
 * A child certificate for a subsystem, signed by the server-group CA.
 *
 * The names the certificate carries (subjectAltName) are the operator's: `dns_names` and
 * `ip_addresses`, each checked (host-name syntax, IPv4/IPv6 address). With a request
 * (`csr_file`), the names it asks for are signed only when the operator confirms them:
 * - names given here: exactly these are signed; a name only the request asks for is not
 *   signed and is reported in issue_result::notes;
 * - no names given and `accept_csr_names`: the request's DNS and IP names are signed, each
 *   checked like the operator's (a request name that is not a valid host name or address
 *   refuses the whole request);
 * - neither: a request that asks for names is refused (errc::invalid_argument), its names
 *   listed, so no one signs names they have not seen.
 * Other kinds of names a request asks for (URI, email, ...) are never signed (noted).
 */
struct issue_request {
    std::string common_name; ///< required unless the CSR has one
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;
    bool accept_csr_names = false; ///< sign the request's own names (see above)
    int days = 365;
    key_type key = key_type::ec_p256; ///< for a fresh key (no CSR)
    std::filesystem::path csr_file;   ///< sign this request instead of generating a key
    std::filesystem::path out_dir;
};

struct issue_result {
    std::filesystem::path certificate;    ///< PEM, the child certificate
    std::filesystem::path key;            ///< PEM PKCS#8, 0600 ("" when a CSR was signed)
    std::filesystem::path ca_certificate; ///< PEM, the group certificate (the trust anchor)
    cert_info info;                       ///< read back from the signed certificate
    std::vector<std::string> sans;        ///< every subjectAltName it carries (info.sans)
    std::vector<std::string> notes;       ///< e.g. request names that were not signed
};

namespace detail {

/// A crypto backend that can do what switchover needs beyond fcs::policy::CryptoBackend.
template <class C>
concept SwitchoverCrypto = policy::CryptoBackend<C> &&
    requires(const C& c, std::span<const std::uint8_t> in, const secret_bytes* pw,
             std::string_view where, const typename C::certificate& cert,
             const typename C::private_key& key, const certificate_profile& prof, time_point t,
             const typename C::public_key& pub) {
    { c.parse_pkcs12(in, pw, where) } -> std::same_as<typename C::bundle>;
    { c.parse_csr(in, where) } -> std::same_as<typename C::certificate_request>;
    { c.same_key(key, key) } -> std::same_as<bool>;
    { c.issue(cert, key, pub, prof, t, t) } -> std::same_as<typename C::certificate>;
    { C::public_of(key) } -> std::same_as<typename C::public_key>;
    { c.parse_csr(in, where).public_key } -> std::convertible_to<typename C::public_key>;
    { c.fingerprint(cert) } -> std::same_as<std::string>;
    { C::looks_like_pkcs12(in) } -> std::same_as<bool>;
    { C::starts_like_pkcs12(in) } -> std::same_as<bool>;
};

template <class Service>
constexpr void check_service() {
    static_assert(SwitchoverCrypto<typename Service::crypto_type>,
                  "fcs::switchover: the service's crypto backend must read PKCS#12 bundles and "
                  "certificate requests and sign certificates (a public_key type, public_of, "
                  "parse_pkcs12, parse_csr, same_key, issue, fingerprint, looks_like_pkcs12, "
                  "starts_like_pkcs12), as "
                  "fcs::crypto::boringssl does; see fcs/switchover.hpp");
}

inline std::string shown(const std::filesystem::path& p) {
#if defined(_WIN32)
    return fcs::detail::narrow(p.native()); // UTF-8, not the ANSI code page
#else
    return p.string();
#endif
}

// The platform seam: an output folder (export, issue) and the reading of an input file.
// Everything else in this header is platform-independent.
#if !defined(_WIN32)
/// An output folder, opened (created with exactly `mode` when missing) without following a
/// symlink at its last component; its files are written by name relative to it.
class out_folder {
public:
    out_folder(const std::filesystem::path& dir, mode_t mode) : path_(dir) {
        if (::mkdir(dir.c_str(), mode) == 0) {
            created_ = true;
        } else if (errno != EEXIST) {
            fcs::detail::throw_io(shown(dir), "create folder", errno);
        }
        fd_ = fcs::detail::unique_fd(
            ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd_) {
            int e = errno;
            struct stat st {};
            if (::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
                e = ELOOP;
            fcs::detail::throw_io(shown(dir), "open folder", e);
        }
        if (created_ && ::fchmod(fd_.get(), mode) != 0) // the umask may have narrowed it
            fcs::detail::throw_io(shown(dir), "set folder mode", errno);
    }

    bool created() const noexcept { return created_; }

    /// A note when an existing folder is accessible by group or others; nullopt otherwise.
    std::optional<std::string> too_open_note() const {
        struct stat st {};
        if (created_ || ::fstat(fd_.get(), &st) != 0 || !(st.st_mode & 077))
            return std::nullopt;
        return path_.string() + ": the folder is accessible by group or others (mode " +
               std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
               std::to_string(st.st_mode & 7) + "); the key file itself is 0600";
    }

    bool exists(const std::string& name) const { return fcs::detail::exists_at(fd_.get(), name); }

    secret_bytes read(const std::string& name, std::size_t max_size) const {
        return fcs::detail::read_at(fd_.get(), name, (path_ / name).string(), max_size).first;
    }

    /// Writes `data` as `name` (created with its final mode, fsynced, renamed into place). An
    /// existing file is only replaced when `replace`.
    void write(const std::string& name, std::span<const std::uint8_t> data, mode_t mode,
               bool replace) const {
        if (!replace && exists(name))
            throw error(errc::conflict, shown(path_ / name), "write",
                        "the file exists; remove it or choose another folder");
        protection p;
        p.file_mode = mode;
        auto tmp = fcs::detail::write_temp_at(fd_.get(), data, p, shown(path_));
        if (::renameat(fd_.get(), tmp.c_str(), fd_.get(), name.c_str()) != 0) {
            int e = errno;
            ::unlinkat(fd_.get(), tmp.c_str(), 0);
            fcs::detail::throw_io(shown(path_ / name), "rename into place", e);
        }
        fcs::detail::fsync_dir(fd_.get(), shown(path_));
    }

private:
    std::filesystem::path path_;
    fcs::detail::unique_fd fd_;
    bool created_ = false;
};

inline secret_bytes read_input_file(const std::filesystem::path& file, std::size_t max_size) {
    return fcs::detail::read_file(file, max_size);
}

/// What separates the folders of a storage location.
inline constexpr const char* location_separators = "/";
#else
/// An output folder on Windows: created when missing, refused when it is a reparse point (a
/// junction planted in its place) or a file. The POSIX modes map to protected DACLs given at
/// creation (SECURITY_ATTRIBUTES): an owner-only mode (0600, 0700) to LOCAL SYSTEM,
/// Administrators and the account that runs the program; a mode others may read (0644) adds
/// read for BUILTIN\Users. Files are written to a temporary file created with that DACL and
/// moved into place (MoveFileExW, write-through).
class out_folder {
public:
    out_folder(const std::filesystem::path& dir, unsigned mode)
        : path_(dir), wpath_(dir.wstring()),
          created_(fcs::detail::create_folder_w(wpath_, descriptor(mode, true), shown(dir))) {}

    bool created() const noexcept { return created_; }
    std::optional<std::string> too_open_note() const { return std::nullopt; }

    bool exists(const std::string& name) const {
        return ::GetFileAttributesW(file(name).c_str()) != INVALID_FILE_ATTRIBUTES;
    }

    secret_bytes read(const std::string& name, std::size_t max_size) const {
        auto r = fcs::detail::read_w(file(name), shown(path_ / name), max_size);
        if (!r)
            throw error(errc::not_found, shown(path_ / name), "open", "no such file");
        return std::move(r->data);
    }

    void write(const std::string& name, std::span<const std::uint8_t> data, unsigned mode,
               bool replace) const {
        if (!replace && exists(name))
            throw error(errc::conflict, shown(path_ / name), "write",
                        "the file exists; remove it or choose another folder");
        auto tmp = fcs::detail::write_temp_w(wpath_, data, descriptor(mode, false), shown(path_));
        try {
            fcs::detail::replace_w(wpath_ + L"\\" + tmp, file(name), shown(path_ / name));
        } catch (...) {
            ::DeleteFileW((wpath_ + L"\\" + tmp).c_str());
            throw;
        }
    }

    /// The self-relative descriptor for a POSIX `mode` (see the class comment); a folder's
    /// entries are inherited by what is created in it.
    static std::vector<std::uint8_t> descriptor(unsigned mode, bool folder) {
        const std::wstring self = fcs::detail::widen(acl::process_account_sid().str());
        const std::wstring flags = folder ? L"OICI" : L"";
        std::wstring sddl = L"D:P(A;" + flags + L";FA;;;SY)(A;" + flags + L";FA;;;BA)(A;" +
                            flags + L";FA;;;" + self + L")";
        if (mode & 0044)
            sddl += L"(A;" + flags + L";" + (folder ? L"0x1200a9" : L"FR") + L";;;BU)";
        PSECURITY_DESCRIPTOR sd = nullptr;
        ULONG len = 0;
        if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1,
                                                                    &sd, &len))
            fcs::detail::throw_win32("output DACL", "build the security descriptor");
        fcs::detail::unique_local<void> owned(sd);
        const auto* p = static_cast<const std::uint8_t*>(sd);
        return std::vector<std::uint8_t>(p, p + len);
    }

private:
    std::wstring file(const std::string& name) const {
        return wpath_ + L"\\" + fcs::detail::widen(name);
    }
    std::filesystem::path path_;
    std::wstring wpath_;
    bool created_ = false;
};

/// What separates the folders of a storage location (windows_directory: a backslash).
inline constexpr const char* location_separators = "/\\";

/// Windows: read through the Win32 helpers (a reparse point or folder refused, size bounded).
inline secret_bytes read_input_file(const std::filesystem::path& file, std::size_t max_size) {
    auto r = fcs::detail::read_w(file.wstring(), shown(file), max_size);
    if (!r)
        throw error(errc::not_found, shown(file), "open", "no such file");
    return std::move(r->data);
}
#endif

/// `names` separated by `sep` ("DNS:a, IP:1.2.3.4"); "" for none.
inline std::string joined(const std::vector<std::string>& names, std::string_view sep) {
    return names | ranges::views::join(sep) | ranges::to<std::string>();
}

inline std::string file_stem_of(std::string_view cn) {
    std::string out;
    for (char c : cn)
        out.push_back((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '_' || (c == '.' && !out.empty())
                          ? c
                          : '_');
    return out.empty() ? std::string("child") : out.substr(0, 100);
}

} // namespace detail

/**
 * Reads an input file (a certificate, key, bundle, request or password file), refusing a
 * non-regular file and anything over `max_size` from its size before reading it all.
 * @throws fcs::error naming the file: errc::not_found, errc::too_large, errc::io_failed.
 */
inline secret_bytes read_input(const std::filesystem::path& file,
                               std::size_t max_size = crypto::max_input_size) {
    return detail::read_input_file(file, max_size);
}

/**
 * Imports a pair into a started service: validates it (parses by content, decrypts with
 * `password`, key usable by a TLS server, key matches a certificate, dates valid now), then
 * backs up the installed pair and commits the new one as one step (install_parsed, origin
 * imported). The identical pair (same certificate fingerprint and same private key) is
 * reported as already present and changes nothing. A refused input changes no file.
 *
 * @tparam Service a FailoverCertService whose crypto backend meets detail::SwitchoverCrypto.
 * @throws fcs::error naming the input file and the cause.
 */
template <class Service>
import_result import_pair(Service& svc, const import_source& src, const secret_bytes* password,
                          const progress& on_step = {}) {
    detail::check_service<Service>();
    using crypto_t = typename Service::crypto_type;
    auto& crypto = svc.crypto();
    auto say = [&](import_step s, const std::string& line) {
        if (on_step)
            on_step(s, line);
    };
    std::vector<typename crypto_t::certificate> chain;
    typename crypto_t::private_key key;
    std::string cert_where, key_where;
    try {
        const bool bundle = !src.bundle_file.empty();
        if (bundle == (!src.cert_file.empty() || !src.key_file.empty()))
            throw error(errc::invalid_argument, "", "import",
                        "give either a certificate and a key file, or one bundle file");
        if (!bundle && (src.cert_file.empty() || src.key_file.empty()))
            throw error(errc::invalid_argument, "", "import",
                        "give both the certificate file and the key file");
        if (bundle) {
            cert_where = key_where = src.bundle_file.string();
            auto data = read_input(src.bundle_file);
            if (data.empty())
                throw error(errc::parse_failed, cert_where, "load bundle", "the file is empty");
            const bool pem = fcs::detail::looks_like_pem(data);
            if (src.format == input_format::der)
                throw error(
                    errc::invalid_argument, cert_where, "load bundle",
                    "a bundle is PKCS#12 or PEM; --format der applies to --cert/--key files");
            if (src.format == input_format::pem && !pem)
                throw error(errc::parse_failed, cert_where, "load bundle",
                            "not PEM (--format pem was given)");
            if (src.format == input_format::pkcs12 && pem)
                throw error(errc::parse_failed, cert_where, "load bundle",
                            "PEM, not PKCS#12 (--format pkcs12 was given)");
            if (pem) {
                chain = crypto.parse_certificates(data, cert_where);
                key = crypto.parse_private_key(data, password, key_where);
            } else if (crypto_t::starts_like_pkcs12(data) || src.format == input_format::pkcs12) {
                auto b = crypto.parse_pkcs12(data, password, cert_where);
                chain = std::move(b.chain);
                key = std::move(b.key);
            } else {
                throw error(errc::parse_failed, cert_where, "load bundle",
                            "neither a PKCS#12 bundle nor a PEM file with certificate and key "
                            "(truncated or garbage?)");
            }
        } else {
            cert_where = src.cert_file.string();
            key_where = src.key_file.string();
            if (src.format == input_format::pkcs12)
                throw error(errc::invalid_argument, cert_where, "import",
                            "--format pkcs12 needs --bundle, not --cert/--key");
            auto cert_data = read_input(src.cert_file);
            auto key_data = read_input(src.key_file);
            for (auto* item : {&cert_data, &key_data}) {
                const auto& where = item == &cert_data ? cert_where : key_where;
                if (item->empty())
                    throw error(errc::parse_failed, where, "load", "the file is empty");
                if (crypto_t::looks_like_pkcs12(*item))
                    throw error(errc::invalid_argument, where, "load",
                                "this is a PKCS#12 bundle; import it with --bundle");
                const bool pem = fcs::detail::looks_like_pem(*item);
                if (src.format == input_format::pem && !pem)
                    throw error(errc::parse_failed, where, "load",
                                "not PEM (--format pem was given)");
                if (src.format == input_format::der && pem)
                    throw error(errc::parse_failed, where, "load",
                                "PEM, not DER (--format der was given)");
            }
            chain = crypto.parse_certificates(cert_data, cert_where);
            key = crypto.parse_private_key(key_data, password, key_where);
        }
        // The first certificate whose key matches is the group certificate.
        auto leaf = std::find_if(chain.begin(), chain.end(),
                                 [&](auto& c) { return crypto.matches(c, key); });
        if (leaf == chain.end())
            throw error(errc::key_mismatch, key_where, "validate",
                        cert_where == key_where
                            ? "the private key does not match any certificate in the file"
                            : "the private key does not match the certificate in " + cert_where);
        std::rotate(chain.begin(), leaf, leaf + 1);
        auto info = crypto.describe(chain.front());
        auto now = svc.clock().now();
        if (now > info.not_after)
            throw error(errc::certificate_expired, cert_where, "validate",
                        "the certificate (" + info.subject + ") expired on " +
                            Service::iso(info.not_after));
        if (now < info.not_before)
            throw error(errc::not_yet_valid, cert_where, "validate",
                        "the certificate (" + info.subject + ") is not valid before " +
                            Service::iso(info.not_before));
        import_result r;
        say(import_step::validate, cert_where + (cert_where == key_where ? "" : " + " + key_where) +
                                       ": " + info.subject + ", issued by " + info.issuer + ", " +
                                       crypto_t::key_description(key) +
                                       " key matches, valid until " + Service::iso(info.not_after) +
                                       (info.is_ca ? ", CA" : ""));
        auto cur = svc.current();
        if (cur && cur->info.sha256_fingerprint == info.sha256_fingerprint &&
            crypto.same_key(cur->key, key)) {
            r.already_present = true;
            r.previous_fingerprint = cur->info.sha256_fingerprint;
            r.status = svc.status();
            svc.log().write(policy::level::info,
                            cert_where + ": import: already present (SHA-256 " +
                                info.sha256_fingerprint + "); nothing changed");
            return r;
        }
        if (svc.storage().encoding(part::certificate) == encoding::der && chain.size() > 1)
            r.notes.push_back(
                std::to_string(chain.size() - 1) +
                " further certificate(s) in the input are not stored: the server-group "
                "layout keeps the group certificate only (one DER certificate)");
        auto location =
            svc.storage().location(cur ? cur->name : svc.options().name, part::certificate);
        auto key_location =
            svc.storage().location(cur ? cur->name : svc.options().name, part::private_key);
        say(import_step::stage, "new pair written to temporary files next to " + location +
                                    " and " + key_location +
                                    " (created with their final modes, fsynced)");
        std::vector<std::string> before;
        if constexpr (requires { svc.storage().archive_entries(); })
            before = svc.storage().archive_entries();
        r.status =
            svc.install_parsed(std::move(chain), std::move(key), cert_where, origin::imported);
        if (cur) {
            r.previous_fingerprint = cur->info.sha256_fingerprint;
            if constexpr (requires { svc.storage().archive_entries(); }) {
                for (auto& e : svc.storage().archive_entries())
                    if (std::find(before.begin(), before.end(), e) == before.end()) {
                        r.backup_folder = e.substr(0, e.rfind('/'));
                        break;
                    }
            }
            say(import_step::back_up,
                "the previous pair (SHA-256 " + cur->info.sha256_fingerprint + ") is in " +
                    (r.backup_folder.empty() ? std::string("the archive") : r.backup_folder + "/"));
        } else {
            say(import_step::back_up, "no pair was installed; nothing to back up");
        }
        say(import_step::commit, "committed as one step (journaled rename): " + location +
                                     ", SHA-256 " + r.status.info.sha256_fingerprint);
        return r;
    } catch (const error& e) {
        svc.log().write(policy::level::warning,
                        std::string("import refused, nothing changed: ") + e.what());
        throw;
    }
}

/**
 * Copies the installed pair into `dir` for transfer (a USB key): the folder is created 0700,
 * the certificate 0644 and the key 0600, each created with its final mode. The bytes are the
 * stored ones, checked first to still be the pair in use. An existing different pair in
 * `dir` is only replaced with `replace`.
 * @throws fcs::error naming the file and the cause.
 */
template <class Service>
export_result export_to(Service& svc, const std::filesystem::path& dir, bool replace = false) {
    detail::check_service<Service>();
    auto cur = svc.current();
    if (!cur)
        throw error(errc::not_found, svc.storage().location(svc.options().name, part::certificate),
                    "export", "no certificate pair is installed; run init or import first");
    auto& crypto = svc.crypto();
    auto cert_item = svc.storage().read(cur->name, part::certificate);
    auto key_item = svc.storage().read(cur->name, part::private_key);
    if (!cert_item || !key_item)
        throw error(
            errc::not_found,
            svc.storage().location(cur->name, cert_item ? part::private_key : part::certificate),
            "export", "the file is missing; the pair on disk changed since start");
    auto chain = crypto.parse_certificates(cert_item->data, cert_item->location);
    auto key = crypto.parse_private_key(key_item->data, nullptr, key_item->location);
    if (crypto.fingerprint(chain.front()) != cur->info.sha256_fingerprint ||
        !crypto.same_key(key, cur->key))
        throw error(
            errc::conflict, cert_item->location, "export",
            "the pair on disk is not the pair in use (changed since start); run the command again");
    export_result r;
    r.fingerprint = cur->info.sha256_fingerprint;
    detail::out_folder out(dir, 0700);
    if (auto note = out.too_open_note())
        r.notes.push_back(*note);
    auto base = [](const std::string& loc) {
        return loc.substr(loc.find_last_of(detail::location_separators) + 1);
    };
    std::string cert_name = base(cert_item->location), key_name = base(key_item->location);
    r.certificate = dir / cert_name;
    r.key = dir / key_name;
    auto same_bytes = [&](const std::string& name, const secret_bytes& want) {
        if (!out.exists(name))
            return std::optional<bool>{};
        return std::optional<bool>{out.read(name, crypto::max_input_size) == want};
    };
    auto cert_same = same_bytes(cert_name, cert_item->data);
    auto key_same = same_bytes(key_name, key_item->data);
    if (cert_same.value_or(false) && key_same.value_or(false)) {
        r.unchanged = true;
        return r;
    }
    if (!replace && (cert_same || key_same))
        throw error(errc::conflict, (dir / (cert_same ? cert_name : key_name)).string(), "export",
                    "a different file of that name exists; remove it, choose an empty folder, or "
                    "replace it (--force)");
    out.write(key_name, key_item->data, 0600, true);
    out.write(cert_name, cert_item->data, 0644, true);
    svc.log().write(policy::level::info,
                    "exported the pair (SHA-256 " + r.fingerprint + ") to " + dir.string());
    return r;
}

/**
 * Compares the installed pair with a peer's: `peer` is the peer's data folder or an exported
 * copy. Identical means the same certificate (DER bytes) and the same private key.
 * @throws fcs::error when no pair is installed here.
 */
template <class Service>
verify_result verify_identical(Service& svc, const std::filesystem::path& peer) {
    detail::check_service<Service>();
    auto cur = svc.current();
    if (!cur)
        throw error(errc::not_found, svc.storage().location(svc.options().name, part::certificate),
                    "verify", "no certificate pair is installed here; run init or import first");
    auto& crypto = svc.crypto();
    verify_result r;
    r.local_fingerprint = cur->info.sha256_fingerprint;
    auto pick = [&](part p) {
        auto loc = svc.storage().location(cur->name, p);
        auto in_data = peer / loc;
        auto flat = peer / loc.substr(loc.rfind('/') + 1);
        std::error_code ec;
        return std::filesystem::exists(in_data, ec) ? in_data : flat;
    };
    r.peer_certificate = pick(part::certificate);
    r.peer_key = pick(part::private_key);
    std::vector<typename Service::crypto_type::certificate> peer_chain;
    try {
        auto data = read_input(r.peer_certificate);
        peer_chain = crypto.parse_certificates(data, r.peer_certificate.string());
    } catch (const error& e) {
        r.differences.push_back(
            "peer certificate " + r.peer_certificate.string() + ": " +
            (e.fcs_code() == errc::not_found ? std::string("missing") : e.cause()));
    }
    if (!peer_chain.empty()) {
        r.peer_fingerprint = crypto.fingerprint(peer_chain.front());
        if (crypto.encode(peer_chain.front(), encoding::der) !=
            crypto.encode(cur->chain.front(), encoding::der))
            r.differences.push_back("certificate differs: here SHA-256 " + r.local_fingerprint +
                                    " (" + cur->info.subject + "), peer SHA-256 " +
                                    r.peer_fingerprint + " (" +
                                    crypto.describe(peer_chain.front()).subject + ")");
    }
    try {
        auto data = read_input(r.peer_key);
        auto peer_key = crypto.parse_private_key(data, nullptr, r.peer_key.string());
        if (!crypto.same_key(peer_key, cur->key))
            r.differences.push_back(
                "private key differs (" + r.peer_key.string() + ")" +
                (!peer_chain.empty() && crypto.matches(peer_chain.front(), peer_key)
                     ? std::string(": the peer has another pair")
                     : std::string()));
    } catch (const error& e) {
        r.differences.push_back(
            "peer private key " + r.peer_key.string() + ": " +
            (e.fcs_code() == errc::not_found ? std::string("missing") : e.cause()));
    }
    r.identical = r.differences.empty();
    return r;
}

/**
 * The server-group CA signs a child certificate (serverAuth and clientAuth) for a subsystem:
 * for a fresh key, or for the public key of a request whose signature verifies. The child
 * never outlives the group certificate. Files are written to `out_dir` (created 0700): the
 * certificate (PEM, 0644), the key (PEM PKCS#8, 0600) and the group certificate as the trust
 * anchor (PEM, 0644); existing files are never overwritten.
 * @throws fcs::error: errc::not_a_ca when the group certificate is not a CA.
 */
template <class Service>
issue_result issue(Service& svc, const issue_request& req) {
    detail::check_service<Service>();
    using crypto_t = typename Service::crypto_type;
    auto cur = svc.current();
    if (!cur)
        throw error(errc::not_found, svc.storage().location(svc.options().name, part::certificate),
                    "issue", "no certificate pair is installed; run init or import first");
    const auto where = svc.storage().location(cur->name, part::certificate);
    if (!cur->info.is_ca)
        throw error(
            errc::not_a_ca, where, "issue",
            "the group certificate (" + cur->info.subject +
                ") is not a CA (basicConstraints CA:TRUE missing) and cannot sign certificates");
    auto now = std::chrono::floor<std::chrono::seconds>(svc.clock().now());
    if (now > cur->info.not_after)
        throw error(errc::certificate_expired, where, "issue",
                    "the group certificate expired on " + Service::iso(cur->info.not_after));
    if (req.days < 1 || req.days > 3650)
        throw error(errc::invalid_argument, "", "issue", "--days must be between 1 and 3650");
    if (req.out_dir.empty())
        throw error(errc::invalid_argument, "", "issue", "an output folder is required");
    auto& crypto = svc.crypto();
    issue_result r;
    certificate_profile p;
    p.client_auth = true;
    p.organization = svc.options().organization;
    p.common_name = req.common_name;
    for (auto& d : req.dns_names)
        check_dns_name(d, "");
    for (auto& ip : req.ip_addresses)
        check_ip_address(ip, "");
    p.dns_names = req.dns_names;
    p.ip_addresses = req.ip_addresses;
    const bool names_given = !req.dns_names.empty() || !req.ip_addresses.empty();
    if (req.accept_csr_names && req.csr_file.empty())
        throw error(errc::invalid_argument, "", "issue",
                    "accepting a request's names (--accept-csr-names) needs a request (--csr)");
    if (req.accept_csr_names && names_given)
        throw error(errc::invalid_argument, req.csr_file.string(), "issue",
                    "give the names to sign (--dns/--ip) or accept the request's names "
                    "(--accept-csr-names), not both");
    std::optional<typename crypto_t::private_key> fresh;
    typename crypto_t::public_key subject_key;
    if (!req.csr_file.empty()) {
        const auto csr_where = req.csr_file.string();
        auto data = read_input(req.csr_file);
        auto csr = crypto.parse_csr(data, csr_where);
        if (p.common_name.empty())
            p.common_name = csr.common_name;
        // Only names are taken from a request, never other extensions it asks for, and its
        // names only when the operator confirmed them (see issue_request).
        namespace views = ranges::views;
        auto dns_label = [](const std::string& d) { return "DNS:\"" + printable_name(d) + "\""; };
        auto ip_label = [](const std::string& ip) { return "IP:" + ip; };
        const auto asked = views::concat(csr.dns_names | views::transform(dns_label),
                                         csr.ip_addresses | views::transform(ip_label)) |
                           ranges::to<std::vector<std::string>>();
        auto listed = [](const std::vector<std::string>& v) { return detail::joined(v, ", "); };
        if (!names_given && !asked.empty() && !req.accept_csr_names)
            throw error(errc::invalid_argument, csr_where, "issue",
                        "the request asks for the names " + listed(asked) +
                            "; names from a request are signed only when confirmed: give the "
                            "names to sign (--dns NAME, --ip ADDRESS) or accept the request's "
                            "names (--accept-csr-names)");
        if (req.accept_csr_names) {
            for (auto& d : csr.dns_names)
                check_dns_name(d, csr_where);
            for (auto& ip : csr.ip_addresses)
                check_ip_address(ip, csr_where);
            p.dns_names = csr.dns_names;
            p.ip_addresses = csr.ip_addresses;
        } else {
            auto lower = [](std::string_view v) {
                std::string out(v);
                for (auto& c : out)
                    if (c >= 'A' && c <= 'Z')
                        c = static_cast<char>(c - 'A' + 'a');
                return out;
            };
            // The request's names the operator did not give (DNS case-blind, IP by value).
            auto dns_not_given = [&](const std::string& d) {
                return std::none_of(p.dns_names.begin(), p.dns_names.end(),
                                    [&](auto& g) { return lower(g) == lower(d); });
            };
            auto ip_not_given = [&](const std::string& ip) {
                return std::none_of(p.ip_addresses.begin(), p.ip_addresses.end(), [&](auto& g) {
                    return ip_address_octets(g) == ip_address_octets(ip);
                });
            };
            const auto dropped =
                views::concat(
                    csr.dns_names | views::filter(dns_not_given) | views::transform(dns_label),
                    csr.ip_addresses | views::filter(ip_not_given) | views::transform(ip_label)) |
                ranges::to<std::vector<std::string>>();
            if (!dropped.empty())
                r.notes.push_back("the request also asks for " + listed(dropped) +
                                  "; not signed (only the names given with --dns/--ip are)");
        }
        if (!csr.other_names.empty())
            r.notes.push_back("the request asks for " + listed(csr.other_names) +
                              "; never signed (only DNS names and IP addresses are)");
        subject_key = std::move(csr.public_key);
    } else {
        fresh = crypto.generate_key(req.key);
        subject_key = crypto_t::public_of(*fresh);
    }
    if (p.common_name.empty())
        throw error(errc::invalid_argument, req.csr_file.string(), "issue",
                    "a common name is required (--cn), and the request has none");
    time_point not_before = now - std::chrono::minutes(5); // tolerate a peer's clock running behind
    time_point not_after = now + std::chrono::days(req.days);
    if (not_after > cur->info.not_after) {
        not_after = cur->info.not_after;
        r.notes.push_back("validity shortened to the group certificate's end, " +
                          Service::iso(not_after));
    }
    auto child = crypto.issue(cur->chain.front(), cur->key, subject_key, p, not_before, not_after);
    r.info = crypto.describe(child);
    r.sans = r.info.sans;
    detail::out_folder out(req.out_dir, 0700);
    auto stem = detail::file_stem_of(p.common_name);
    for (auto name : {stem + ".crt", stem + ".key"}) // check all before writing any
        if (out.exists(name))
            throw error(errc::conflict, (req.out_dir / name).string(), "issue",
                        "the file exists; remove it or choose another folder");
    r.certificate = req.out_dir / (stem + ".crt");
    r.ca_certificate = req.out_dir / "ServerGroupCA.crt";
    if (fresh) {
        r.key = req.out_dir / (stem + ".key");
        auto key_pem = crypto.encode(*fresh, encoding::pem);
        out.write(stem + ".key", key_pem, 0600, false);
    }
    out.write(stem + ".crt", crypto.encode(child, encoding::pem), 0644, false);
    auto ca_pem = crypto.encode(cur->chain.front(), encoding::pem);
    bool ca_written = false;
    if (out.exists("ServerGroupCA.crt")) {
        auto have = out.read("ServerGroupCA.crt", crypto::max_input_size);
        if (!std::equal(have.begin(), have.end(), ca_pem.begin(), ca_pem.end()))
            r.notes.push_back(r.ca_certificate.string() +
                              " exists and is another certificate; left as it is");
        ca_written = true;
    }
    if (!ca_written)
        out.write("ServerGroupCA.crt", ca_pem, 0644, false);
    svc.log().write(policy::level::info,
                    "issued a child certificate (" + r.info.subject + ", names " +
                        (r.sans.empty() ? std::string("none") : detail::joined(r.sans, " ")) +
                        ", serial " + r.info.serial + ", valid until " +
                        Service::iso(r.info.not_after) + ", SHA-256 " + r.info.sha256_fingerprint +
                        ") to " + req.out_dir.string());
    return r;
}

} // namespace fcs::switchover

#endif // FCS_SWITCHOVER_HPP
