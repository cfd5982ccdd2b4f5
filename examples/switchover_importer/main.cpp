// fcs-switchover: puts the identical server-group certificate on both servers of a switchover
// pair (init / export / import / verify), lets the group CA sign child certificates (issue),
// and shows the pair in use (status). A thin shell around fcs/switchover.hpp.

#include <utility> // before Boost (fcs/storage/etcd.hpp): Boost 1.74 Asio with g++ 12 in C++20

#if defined(_WIN32)
// Windows (issue 13): the Windows folder storage and ACL; no etcd storage (POSIX-only).
#include <fcs/acl/windows.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/storage/layout.hpp>
#include <fcs/storage/windows_directory.hpp>
#else
#include <fcs/fcs.hpp>
#include <fcs/storage/etcd.hpp>
#endif
#include <fcs/status_json.hpp>
#include <fcs/switchover.hpp>

#include "cli.hpp"
#if !defined(_WIN32)
#include "etcd_cli.hpp"
#endif
#include "password_input.hpp"
#include "process_hardening.hpp"

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/join.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

using layout = fcs::storage::server_group_layout;
#if defined(_WIN32)
// The message log file is POSIX so far (fcs/log/sinks.hpp): on Windows messages go to stderr.
using storage_type = fcs::storage::windows_directory<layout>;
using service = fcs::FailoverCertService<storage_type, fcs::acl::windows, fcs::crypto::boringssl,
                                         fcs::log::stderr_sink>;
#else
using storage_type = fcs::storage::directory<layout>;
using service = fcs::FailoverCertService<storage_type, fcs::acl::posix, fcs::log::file>;
/// With --storage etcd://...: the pair lives in etcd (a server group), DATA holds the message log.
using etcd_service = fcs::FailoverCertService<fcs::storage::etcd, fcs::acl::none, fcs::log::file>;
#endif

constexpr int exit_ok = 0;
constexpr int exit_failed = 1; // refused input, failure, or (verify) the pair differs
constexpr int exit_usage = 2;
/// `status` exits as a monitoring check: fcs::monitoring_exit (0 valid, 1 expiring, 2 expired,
/// not yet valid); no pair, or a storage it cannot read, is critical too.
constexpr int exit_status_critical = static_cast<int>(fcs::monitoring_exit::critical);

const char* const general_description = R"(usage: fcs-switchover COMMAND [OPTIONS]

The identical server-group certificate on both servers of a switchover pair.

Commands:
  init     generate the server-group CA certificate and key (the initial active server)
  export   copy the pair for transfer (e.g. to a USB key) and print its fingerprint
  import   install a pair (the backup server, or a third-party CA's pair)
  verify   check that a peer (data folder or exported copy) has the identical pair
  issue    let the server-group CA sign a child certificate for a subsystem
  status   show the pair in use

Run "fcs-switchover COMMAND --help" for the options and examples of a command.)";

std::string general_footer() {
    return R"(Files (DATA = --data-dir):
  DATA/Certificates/ServerGroup/ServerGroupCertificate.cer   DER certificate, 0644
  DATA/Certificates/ServerGroup/ServerGroupPrivateKey.bin    DER PKCS#8 key, 0600 (folder 0700)
  DATA/Certificates/ServerGroup/Backup/<UTC timestamp>/      replaced pairs, never overwritten
  DATA/Logs/messages.log                                     the message log
)"
#if defined(_WIN32)
           R"(On Windows the files are protected by DACLs (acl::windows), not by modes: what is 0600
above is for Administrators, SYSTEM and the service account only; export and issue give their
key files to Administrators, SYSTEM and the account that runs the command (Users may read the
certificates). Messages go to standard error. --storage etcd:// is not available on Windows.
)"
#else
           R"(
Server groups in etcd: every command also takes
  --storage etcd://HOST:PORT[,HOST:PORT...]/PREFIX  --kek-file FILE
The pair then lives in etcd at PREFIX/slots/ServerGroup (one key: certificate, and the private
key encrypted with AES-256-GCM under the 32-byte key-encryption key in FILE, which must be
0600); replaced pairs go to PREFIX/archive/. DATA holds only the message log. etcds:// is etcd
over TLS. How to reach etcd:
)" + fcs::examples::etcd_connection_help() +
           R"(
Example:
  fcs-switchover import --data-dir /var/lib/app --storage etcd://10.0.0.5:2379/fcs \
      --kek-file /etc/fcs/kek --bundle group.pfx --password-file /root/pfx.pass
)"
#endif
           R"(
Exit status: 0 success; 1 failure, refused input or (verify) a different pair, with the file
and the cause on stderr and the installed pair unchanged; 2 wrong command line. status exits
as a monitoring check: 0 valid, 1 expires within 30 days, 2 expired, not yet valid, no pair or
the storage cannot be read.)";
}

/// Each command's help: {description (usage lines and what it does), footer (examples)}.
struct command_text {
    const char* name;
    const char* description;
    const char* footer;
};

const command_text commands[] = {
    {"init", R"(usage: fcs-switchover init --data-dir DIR [--key-type TYPE] [--cn NAME]

Generates the server-group CA certificate (CA:TRUE, keyCertSign, cRLSign, valid 15 years) and
its key when no valid pair exists. With a valid pair already there it says so and changes
nothing.)",
     R"(Example:
  fcs-switchover init --data-dir /var/lib/app --key-type ec-p384)"},
    {"export", R"(usage: fcs-switchover export --data-dir DIR --to DIR2 [--force]

Copies the installed pair into DIR2 for transfer: the folder is created 0700, the certificate
0644, the key 0600. Prints the SHA-256 fingerprint to compare on the other side. A different
pair already in DIR2 is only replaced with --force.)",
     R"(Example:
  fcs-switchover export --data-dir /var/lib/app --to /media/usb/servergroup)"},
    {"import",
     R"(usage: fcs-switchover import --data-dir DIR (--cert FILE --key FILE | --bundle FILE)
                             [--format auto|pem|der|pkcs12]
                             [--password-file FILE | --password-env VAR | --password-stdin]

Validates the pair (format detected by content; the key must match a certificate, be usable
by a TLS server and the certificate must be valid now), stages it, backs up the installed
pair into Certificates/ServerGroup/Backup/<UTC timestamp>/ and commits the new pair as one
step. Prints each step and the new fingerprint. The identical pair is reported as "already
present" and nothing changes. A refused input changes no file.

Accepted: PEM or DER certificates (a chain is fine: the certificate whose key matches is the
group certificate); keys as PKCS#8 (plain or encrypted), PKCS#1 RSA, SEC1 EC, legacy
encrypted PEM, in PEM or DER; PKCS#12 bundles (.pfx/.p12); certificate and key in one PEM.

Passwords are never taken from the command line: --password-file FILE, --password-env VAR or
--password-stdin (below).)",
     R"(Examples:
  fcs-switchover import --data-dir /var/lib/app \
      --cert /media/usb/servergroup/ServerGroupCertificate.cer \
      --key /media/usb/servergroup/ServerGroupPrivateKey.bin
  fcs-switchover import --data-dir /var/lib/app --bundle group.pfx --password-file /root/pfx.pass
  printf '%s\n' "$PW" | fcs-switchover import --data-dir /var/lib/app --bundle group.p12 --password-stdin)"},
    {"verify", R"(usage: fcs-switchover verify --data-dir DIR --peer DIR2

Compares the installed pair with the peer's: DIR2 is the peer's data folder or an exported
copy. Exit 0 and "identical" when the certificate and the private key are the same on both
sides; exit 1 and what differs otherwise.)",
     R"(Example:
  fcs-switchover verify --data-dir /var/lib/app --peer /mnt/active/var/lib/app)"},
    {"issue", R"(usage: fcs-switchover issue --data-dir DIR --cn NAME [--dns NAME]... [--ip ADDR]...
                            [--days N] [--key-type TYPE] --out DIR2
       fcs-switchover issue --data-dir DIR --csr FILE
                            ([--dns NAME]... [--ip ADDR]... | --accept-csr-names)
                            [--cn NAME] [--days N] --out DIR2

The server-group CA signs a child certificate (serverAuth and clientAuth) for a subsystem,
with a freshly generated key, or for the key of a request (--csr; its signature is checked).
Writes DIR2/NAME.crt, DIR2/NAME.key (0600, not with --csr) and DIR2/ServerGroupCA.crt (the
trust anchor); never overwrites. Prints every name (SAN) the certificate carries. Refused
when the group certificate is not a CA.

Names: --dns takes a host name (letters, digits, hyphens, dots; "*." only as the whole
first label), --ip an IPv4 or IPv6 address; anything else is refused. From a request only
its DNS and IP names are ever taken, and only when you confirm them:
  --dns/--ip given      exactly these names are signed; names the request also asks for
                        are not signed (each is printed as a note)
  --accept-csr-names    the request's DNS and IP names are signed (each checked as above)
Without either, a request that asks for names is refused and its names are printed.)",
     R"(Examples:
  fcs-switchover issue --data-dir /var/lib/app --cn reports.example --dns reports.example \
      --ip 10.0.0.7 --out /tmp/reports
  fcs-switchover issue --data-dir /var/lib/app --csr reports.csr --dns reports.example \
      --out /tmp/reports
  fcs-switchover issue --data-dir /var/lib/app --csr reports.csr --accept-csr-names \
      --out /tmp/reports)"},
    {"status", R"(usage: fcs-switchover status --data-dir DIR [--json]

Shows the pair in use: subject, issuer, SANs, serial, validity, days left, SHA-256
fingerprint, key type, state, origin, CA or not; what the next start would do about the rest
goes to stderr. Reads only: creates, repairs and archives nothing. Exit status, as monitoring
checks (Nagios, Icinga) expect: 0 valid; 1 warning, the pair expires within 30 days; 2
critical, expired, not yet valid, no pair, or the storage cannot be read.)",
     R"(Example:
  fcs-switchover status --data-dir /var/lib/app --json)"},
};

struct usage_error {
    std::string message;
};

/// What the command line says, filled by CLI11. Options with one value are in `values` (by
/// name without "--"), repeatable ones in `lists`; `given` says which options were given.
struct arguments {
    std::string command;
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, std::vector<std::string>, std::less<>> lists;
    bool force = false, accept_csr_names = false, json = false;
    fcs::examples::password_source password{"", {}, {}, false};
#if !defined(_WIN32)
    fcs::examples::etcd_connection_args etcd;
#endif
    fcs::examples::cli::given_set given;

    bool flag(std::string_view f) const { return given.contains("--" + std::string(f)); }
    std::optional<std::string> one(std::string_view name) const {
        auto it = values.find(name);
        if (it == values.end() || !flag(name))
            return std::nullopt;
        return it->second;
    }
    std::string required(std::string_view name) const {
        auto v = one(name);
        if (!v || v->empty())
            throw usage_error{"--" + std::string(name) + " is required"};
        return *v;
    }
    std::vector<std::string> all(std::string_view name) const {
        auto it = lists.find(name);
        return it == lists.end() ? std::vector<std::string>{} : it->second;
    }
};

/// Adds `--name VALUE` (one value) to `cmd`, bound to a.values[name].
CLI::Option* one_value(CLI::App& cmd, arguments& a, const std::string& name, std::string type,
                       std::string help) {
    return fcs::examples::cli::value(cmd, "--" + name, a.values[name], std::move(type),
                                     std::move(help));
}

/// The options every command takes: where the pair lives, and how to reach etcd.
void add_storage_options(CLI::App& cmd, arguments& a) {
    one_value(cmd, a, "data-dir", "DIR", "the data folder");
#if defined(_WIN32)
    one_value(cmd, a, "storage", "URL",
              "dir (the data folder; the only storage on Windows: etcd:// is\n"
              "not available on Windows)");
#else
    one_value(cmd, a, "storage", "URL",
              "etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS): the pair\n"
              "lives in etcd; DIR then holds only the message log");
    one_value(cmd, a, "kek-file", "FILE", "with etcd: the group's key-encryption key (mode 0600)");
    fcs::examples::add_etcd_connection_options(cmd, a.etcd);
#endif
}

const char* const key_type_help = "ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096";

/// Each command's own options.
void add_command_options(CLI::App& cmd, arguments& a) {
    namespace cli = fcs::examples::cli;
    const std::string& c = cmd.get_name();
    if (c == "init") {
        one_value(cmd, a, "key-type", "TYPE", key_type_help);
        one_value(cmd, a, "cn", "NAME",
                  "common name of the CA (default \"fcs Server Group CA <host name>\")");
    } else if (c == "export") {
        one_value(cmd, a, "to", "DIR2", "where to copy the pair (created 0700)");
        cmd.add_flag("--force", a.force, "replace a different pair already in DIR2");
    } else if (c == "import") {
        one_value(cmd, a, "cert", "FILE", "the certificate (or chain)");
        one_value(cmd, a, "key", "FILE", "its private key");
        one_value(cmd, a, "bundle", "FILE", "certificate and key in one file (PKCS#12 or PEM)");
        one_value(cmd, a, "format", "FORMAT", "auto (default: by content), pem, der or pkcs12");
        fcs::examples::add_password_options(cmd, a.password, "the key's or bundle's password",
                                            "Password (never taken from the command line)");
    } else if (c == "verify") {
        one_value(cmd, a, "peer", "DIR2", "the peer's data folder or an exported copy");
    } else if (c == "issue") {
        one_value(cmd, a, "cn", "NAME", "the child's common name");
        for (auto [name, type, help] :
             {std::tuple{"dns", "NAME", "a DNS name to sign (repeatable)"},
              std::tuple{"ip", "ADDR", "an IPv4 or IPv6 address to sign (repeatable)"}})
            cmd.add_option(std::string("--") + name, a.lists[name], help)
                ->type_name(type)
                ->check(cli::bounded(std::string("--") + name))
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        one_value(cmd, a, "days", "N",
                  "validity in days (default 365, at most the group\n"
                  "certificate's end)")
            ->check(cli::number_in("--days", 1, 3650, "--days must be a number from 1 to 3650"));
        one_value(cmd, a, "key-type", "TYPE", key_type_help);
        one_value(cmd, a, "csr", "FILE", "sign for the key of this request (PEM or DER)");
        cmd.add_flag("--accept-csr-names", a.accept_csr_names,
                     "sign the request's DNS and IP names (each checked)");
        one_value(cmd, a, "out", "DIR2", "where the child's files go (never overwritten)");
    } else if (c == "status") {
        cmd.add_flag("--json", a.json,
                     "print JSON: the status document (README.md, \"Status JSON\"), the\n"
                     "same one `fcs-failover-server status --json` gives");
    }
}

/// Parses `argv` with CLI11 (one subcommand per command). --help prints the command's help;
/// a wrong command line throws usage_error.
std::optional<arguments> parse(int argc, char** argv) {
    namespace cli = fcs::examples::cli;
    arguments a;
    a.command = argv[1];
    std::vector<std::string> args(argv + 1, argv + argc);
    CLI::App app(general_description, "fcs-switchover");
    app.formatter(std::make_shared<cli::help_formatter>());
    app.require_subcommand(1, 1);
    CLI::App* chosen = nullptr;
    for (auto& c : commands) {
        auto* cmd = app.add_subcommand(c.name, c.description);
        cmd->footer(c.footer);
        cmd->allow_extras();
        add_storage_options(*cmd, a);
        add_command_options(*cmd, a);
        if (a.command == c.name)
            chosen = cmd;
    }
    if (!chosen)
        throw usage_error{"unknown command \"" + a.command + "\""};
    // Before CLI11 sees them, so a password given anyway is never echoed in a message.
    if (auto p = cli::password_argument(args, {"--password", "--etcd-password"}))
        throw usage_error{*p == "--password"
                              ? "passwords are never taken from the command line; use "
                                "--password-file, --password-env or --password-stdin"
                              : "passwords are never taken from the command line; use "
                                "--etcd-password-file FILE"};
    std::reverse(args.begin(), args.end()); // CLI11 takes the arguments last first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::cout << chosen->help();
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        throw usage_error{cli::message_of(e)};
    }
    if (auto extra = chosen->remaining(); !extra.empty()) {
        auto& x = extra.front();
        if (!x.starts_with("--"))
            throw usage_error{"unexpected argument \"" + x + "\""};
        throw usage_error{"unknown option " + x.substr(0, x.find('=')) + " for " + a.command};
    }
    a.given = cli::given_options(*chosen);
    if (auto two = fcs::examples::password_source_problem(a.password))
        throw usage_error{*two};
#if !defined(_WIN32)
    if (a.password.from_stdin && a.etcd.password.from_stdin)
        throw usage_error{"standard input gives one password: use --etcd-password-file or "
                          "--etcd-password-env for etcd's"};
#endif
    return a;
}

/// Reads the password as the command line says; nullopt when none is configured.
std::optional<fcs::secret_bytes> read_password(const arguments& a) {
    return fcs::examples::read_password(a.password, "read password");
}

fcs::key_type key_type_of(const arguments& a) {
    auto kt = a.one("key-type");
    if (!kt)
        return fcs::key_type::ec_p256;
    auto k = fcs::key_type_from_string(*kt);
    if (!k || *k == fcs::key_type::ed25519)
        throw usage_error{"--key-type must be ec-p256, ec-p384, rsa2048, rsa3072 or rsa4096"};
    return *k;
}

fcs::service_options service_options_of(const arguments& a, bool generate) {
    fcs::service_options o;
    o.name = std::string(layout::slot);
    o.profile = fcs::profile_kind::group_ca;
    o.key = key_type_of(a);
    o.generate_when_missing = generate;
    if (auto cn = a.one("cn"); cn && generate)
        o.common_name = *cn;
    return o;
}

/// Builds the service the command line asks for (the data folder, or etcd with --storage) and
/// runs `f` with it.
template <class F>
int with_service(const arguments& a, bool generate, F&& f) {
    std::filesystem::path data = a.required("data-dir");
    auto url = a.one("storage");
#if defined(_WIN32)
    if (url && *url != "dir" && *url != "directory")
        throw usage_error{url->starts_with("etcd://") || url->starts_with("etcds://")
                              ? "--storage etcd:// is not available on Windows (the etcd storage "
                                "is POSIX-only); use the data folder"
                              : "--storage must be dir (the data folder) on Windows"};
    service svc(service_options_of(a, generate), storage_type(data), fcs::acl::windows{},
                fcs::crypto::boringssl{}, fcs::log::stderr_sink{});
    return f(svc);
#else
    auto log = fcs::log::file(data / "Logs" / "messages.log");
    if (!url || *url == "dir" || *url == "directory") {
        if (a.one("kek-file"))
            throw usage_error{"--kek-file is for --storage etcd://..."};
        if (auto misuse = fcs::examples::etcd_connection_without_etcd(a.given))
            throw usage_error{*misuse};
        service svc(service_options_of(a, generate), storage_type(data), fcs::acl::posix{}, log);
        return f(svc);
    }
    if (!url->starts_with("etcd://") && !url->starts_with("etcds://"))
        throw usage_error{
            "--storage must be etcd://HOST:PORT[,HOST:PORT...]/PREFIX (or etcds:// for TLS)"};
    auto o = fcs::storage::etcd_options::from_url(*url);
    o.kek_file = a.required("kek-file");
    if (auto misuse = fcs::examples::apply_etcd_connection(o, a.etcd, a.given))
        throw usage_error{*misuse};
    etcd_service svc(service_options_of(a, generate), fcs::storage::etcd(o), fcs::acl::none{}, log);
    return f(svc);
#endif
}

/// "DNS:a.example, IP:10.0.0.1"; "(none)" for no names.
std::string listed(const std::vector<std::string>& names) {
    using namespace std::string_view_literals;
    return names.empty() ? "(none)"
                         : names | ranges::views::join(", "sv) | ranges::to<std::string>();
}

void print_status(const fcs::cert_status& s) {
    std::cout << "certificate: " << s.certificate_location << "\n"
              << "key:         " << s.key_location << "\n"
              << "subject:     " << s.info.subject << "\n"
              << "issuer:      " << s.info.issuer << "\n"
              << "SANs:        " << listed(s.info.sans) << "\n"
              << "serial:      " << s.info.serial << "\n"
              << "valid:       " << service::iso(s.info.not_before) << " to "
              << service::iso(s.info.not_after) << " (" << s.days_remaining << " days left)\n"
              << "SHA-256:     " << s.info.sha256_fingerprint << "\n"
              << "state:       " << fcs::to_string(s.state) << "\n"
              << "origin:      " << fcs::to_string(s.origin) << "\n"
              << "key type:    " << s.info.key_type << "\n"
              << "CA:          " << (s.info.is_ca ? "yes" : "no") << "\n";
}

void print_findings(const std::vector<fcs::finding>& findings) {
    for (auto& f : findings)
        if (f.level != fcs::finding::severity::info)
            std::cerr << (f.level == fcs::finding::severity::warning ? "warning: " : "error: ")
                      << (f.location.empty() ? "" : f.location + ": ") << f.message << "\n";
}

void print_findings(const fcs::start_report& r) {
    print_findings(r.findings);
}

int cmd_init(const arguments& a) {
    return with_service(a, true, [&](auto& svc) {
        auto report = svc.start();
        print_findings(report);
        auto& s = report.status;
        if (report.generated) {
            std::cout << "generated the server-group CA certificate and key\n";
        } else {
            std::cout << "a valid pair already exists (" << s.info.subject
                      << (s.info.is_ca ? ", CA" : ", not a CA") << "); nothing changed\n";
        }
        std::cout << "certificate: " << s.certificate_location << "\n"
                  << "valid until: " << service::iso(s.info.not_after) << "\n"
                  << "SHA-256:     " << s.info.sha256_fingerprint << "\n";
        return exit_ok;
    });
}

/// How a key file written by export and issue is protected, for their output.
#if defined(_WIN32)
constexpr const char* key_file_protection = "(Administrators, SYSTEM and this account only)";
#else
constexpr const char* key_file_protection = "(0600)";
#endif

int cmd_export(const arguments& a) {
    auto to = a.required("to");
    return with_service(a, false, [&](auto& svc) {
        print_findings(svc.start());
        auto r = fcs::switchover::export_to(svc, to, a.flag("force"));
        for (auto& n : r.notes)
            std::cerr << "note: " << n << "\n";
        std::cout << (r.unchanged ? "already exported (identical pair): " : "exported: ")
                  << r.certificate.string() << "\n          " << r.key.string() << " "
                  << key_file_protection << "\n"
                  << "SHA-256:  " << r.fingerprint << "\n"
                  << "Compare this fingerprint on the other server after the import.\n";
        return exit_ok;
    });
}

int cmd_import(const arguments& a) {
    fcs::switchover::import_source src;
    if (auto c = a.one("cert"))
        src.cert_file = *c;
    if (auto k = a.one("key"))
        src.key_file = *k;
    if (auto b = a.one("bundle"))
        src.bundle_file = *b;
    if (src.bundle_file.empty() == (src.cert_file.empty() && src.key_file.empty()))
        throw usage_error{"give either --cert FILE --key FILE or --bundle FILE"};
    if (src.bundle_file.empty() && (src.cert_file.empty() || src.key_file.empty()))
        throw usage_error{"--cert and --key go together (a single PEM or PKCS#12 file: --bundle)"};
    if (auto f = a.one("format")) {
        auto fmt = fcs::switchover::input_format_from_string(*f);
        if (!fmt)
            throw usage_error{"--format must be auto, pem, der or pkcs12"};
        src.format = *fmt;
    }
    auto password = read_password(a);
    return with_service(a, false, [&](auto& svc) {
        print_findings(svc.start());
        try {
            auto r = fcs::switchover::import_pair(
                svc, src, password ? &*password : nullptr,
                [](fcs::switchover::import_step s, const std::string& line) {
                    std::cout << "[" << fcs::switchover::to_string(s) << "] " << line << "\n";
                });
            for (auto& n : r.notes)
                std::cout << "note: " << n << "\n";
            if (r.already_present) {
                std::cout << "already present: the identical pair is installed; nothing changed\n"
                          << "SHA-256: " << r.status.info.sha256_fingerprint << "\n";
                return exit_ok;
            }
            std::cout << "imported: " << r.status.certificate_location << "\n"
                      << "SHA-256: " << r.status.info.sha256_fingerprint << "\n";
            return exit_ok;
        } catch (const fcs::error& e) {
            if (e.fcs_code() == fcs::errc::key_encrypted)
                throw fcs::error(e.fcs_code(), e.file(), e.step(),
                                 e.cause() +
                                     " (--password-file, --password-env or --password-stdin)");
            throw;
        }
    });
}

int cmd_verify(const arguments& a) {
    auto peer = a.required("peer");
    return with_service(a, false, [&](auto& svc) {
        print_findings(svc.start());
        auto r = fcs::switchover::verify_identical(svc, peer);
        if (r.identical) {
            std::cout << "identical: certificate and private key are the same on both sides\n"
                      << "SHA-256: " << r.local_fingerprint << "\n";
            return exit_ok;
        }
        std::cout << "different:\n";
        for (auto& d : r.differences)
            std::cout << "  " << d << "\n";
        std::cerr << peer << ": the pair differs from " << svc.status().certificate_location
                  << "\n";
        return exit_failed;
    });
}

int cmd_issue(const arguments& a) {
    fcs::switchover::issue_request req;
    req.out_dir = a.required("out");
    if (auto cn = a.one("cn"))
        req.common_name = *cn;
    if (auto csr = a.one("csr"))
        req.csr_file = *csr;
    else if (req.common_name.empty())
        throw usage_error{"--cn is required (or --csr with a request that names one)"};
    req.dns_names = a.all("dns");
    req.ip_addresses = a.all("ip");
    for (auto& d : req.dns_names)
        if (auto why = fcs::dns_name_problem(d))
            throw usage_error{"--dns \"" + fcs::printable_name(d) +
                              "\" is not a valid host name: " + *why};
    for (auto& ip : req.ip_addresses)
        if (!fcs::ip_address_octets(ip))
            throw usage_error{"--ip \"" + fcs::printable_name(ip) +
                              "\" is not an IPv4 (a.b.c.d) or IPv6 address"};
    req.accept_csr_names = a.flag("accept-csr-names");
    if (req.accept_csr_names && req.csr_file.empty())
        throw usage_error{"--accept-csr-names goes with --csr"};
    if (req.accept_csr_names && (!req.dns_names.empty() || !req.ip_addresses.empty()))
        throw usage_error{"give the names to sign (--dns/--ip) or --accept-csr-names, not both"};
    req.key = key_type_of(a);
    if (auto d = a.one("days")) // 1 to 3650: checked by the parser (cli::number_in)
        req.days = std::stoi(*d);
    return with_service(a, false, [&](auto& svc) {
        print_findings(svc.start());
        auto r = fcs::switchover::issue(svc, req);
        for (auto& n : r.notes)
            std::cerr << "note: " << n << "\n";
        std::cout << "issued: " << r.info.subject << " by " << r.info.issuer << "\n"
                  << "SANs:        " << listed(r.sans) << "\n"
                  << "valid until: " << service::iso(r.info.not_after) << "\n"
                  << "certificate: " << r.certificate.string() << "\n";
        if (!r.key.empty())
            std::cout << "key:         " << r.key.string() << " " << key_file_protection << "\n";
        std::cout << "CA:          " << r.ca_certificate.string() << "\n"
                  << "SHA-256:     " << r.info.sha256_fingerprint << "\n";
        return exit_ok;
    });
}

int cmd_status(const arguments& a) {
    return with_service(a, false, [&](auto& svc) {
        // Read only: inspect() creates, repairs, replays and archives nothing.
        fcs::inspect_report report;
        try {
            report = svc.inspect();
        } catch (const fcs::error& e) {
            if (e.fcs_code() != fcs::errc::not_found) // no data folder yet: no pair either
                throw;
            report.findings.push_back({fcs::finding::severity::info, "", e.what()});
        }
        print_findings(report.findings);
        if (!report.status) {
            std::cerr << svc.storage().location(std::string(layout::slot), fcs::part::certificate)
                      << ": no certificate pair is installed (run init or import)\n";
            return exit_status_critical;
        }
        if (a.json)
            std::cout << fcs::status_json_text(fcs::status_json(*report.status, report.findings), 2)
                      << "\n";
        else
            print_status(*report.status);
        return static_cast<int>(fcs::monitoring_exit_of(report.status->state));
    });
}

} // namespace

int main(int argc, char** argv) {
    if (auto failed = fcs::examples::harden_process()) {
        std::cerr << "fcs-switchover: " << *failed << "\n";
        return exit_failed;
    }
    if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h" ||
        std::string_view(argv[1]) == "help") {
        std::cout << general_description << "\n\n" << general_footer() << "\n";
        return argc < 2 ? exit_usage : exit_ok;
    }
    std::string command = argv[1];
    // A failure of `status` itself is critical to a monitoring check, never a warning (1).
    const int failure_exit = command == "status" ? exit_status_critical : exit_failed;
    try {
        auto parsed = parse(argc, argv);
        if (!parsed) // --help: printed
            return exit_ok;
        const auto& a = *parsed;
        if (a.command == "init")
            return cmd_init(a);
        if (a.command == "export")
            return cmd_export(a);
        if (a.command == "import")
            return cmd_import(a);
        if (a.command == "verify")
            return cmd_verify(a);
        if (a.command == "issue")
            return cmd_issue(a);
        return cmd_status(a);
    } catch (const usage_error& e) {
        std::cerr << "fcs-switchover " << command << ": " << e.message << "\n";
        const bool known = std::any_of(std::begin(commands), std::end(commands),
                                       [&](auto& c) { return command == c.name; });
        std::cerr << (known ? "Run \"fcs-switchover " + command + " --help\".\n"
                            : std::string("Run \"fcs-switchover --help\".\n"));
        return exit_usage;
    } catch (const fcs::error& e) {
        // "FILE: CAUSE (STEP)": the file and the cause first, for the operator.
        std::cerr << "fcs-switchover " << command << ": "
                  << (e.file().empty() ? "" : e.file() + ": ") << e.cause()
                  << (e.step().empty() ? "" : " (" + e.step() + ")") << "\n";
        return failure_exit;
    } catch (const std::exception& e) {
        std::cerr << "fcs-switchover " << command << ": " << e.what() << "\n";
        return failure_exit;
    }
}
