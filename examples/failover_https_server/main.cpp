// fcs-failover-server: the failover HTTPS REST server built on fcs::FailoverCertService.
//
//   fcs-failover-server [serve] --data-dir DIR --bind ADDR --port N [--threads N]
//       [--cert-name NAME] [--storage etcd://HOST:PORT/PREFIX --kek-file FILE]
//       [--log file|journal|syslog|stderr]
//   fcs-failover-server replace --data-dir DIR --cert FILE --key FILE [--storage URL
//       --kek-file FILE] [--log file|journal|syslog|stderr]
//   fcs-failover-server status --data-dir DIR [--json] [--storage URL --kek-file FILE]

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include "cli.hpp"
#include "etcd_cli.hpp"
#include "https_server.hpp"
#include "json.hpp"
#include "process_hardening.hpp"

#include <fcs/fcs.hpp>
#include <fcs/files.hpp>
#include <fcs/log/journal.hpp>
#include <fcs/log/one_of.hpp>
#include <fcs/log/syslog.hpp>
#include <fcs/status_json.hpp>
#include <fcs/storage/etcd.hpp>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/join.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
/// Where messages go (--log): the message log file (the default), the journal, syslog, stderr.
using message_sink =
    fcs::log::one_of<fcs::log::file, fcs::log::journal, fcs::log::syslog, fcs::log::stderr_sink>;
using layout = fcs::storage::failover_layout;
using storage_type = fcs::storage::directory<layout>;
template <class Log>
using service_type =
    fcs::FailoverCertService<storage_type, fcs::acl::posix, fcs::crypto::boringssl, Log>;
/// With --storage etcd://...: the pair and ticket keys live in etcd (a server group), the data
/// folder holds only Logs/.
template <class Log>
using etcd_service_type =
    fcs::FailoverCertService<fcs::storage::etcd, fcs::acl::none, fcs::crypto::boringssl, Log>;

constexpr const char* program = "fcs-failover-server";
constexpr int exit_usage = 2; // a wrong command line
/// `status` exits as a monitoring check: fcs::monitoring_exit (0 valid, 1 expiring, 2 expired,
/// not yet valid); no usable certificate, or a storage it cannot read, is critical too.
constexpr int exit_status_critical = static_cast<int>(fcs::monitoring_exit::critical);

const char* const main_description =
    R"(fcs-failover-server: a failover HTTPS REST server whose certificate is managed by fcs.

Usage:
  fcs-failover-server [serve] [options]      run the server (the default)
  fcs-failover-server replace --cert FILE --key FILE [--data-dir DIR]
                                             install a new certificate and key safely
  fcs-failover-server status [--data-dir DIR] [--json]
                                             show the certificate in use
  fcs-failover-server COMMAND --help         help on one command
)";

const char* const main_footer = R"(Examples:
  fcs-failover-server
  fcs-failover-server serve --data-dir /var/lib/fcs --bind 0.0.0.0 --port 443
  fcs-failover-server replace --data-dir /var/lib/fcs --cert new.crt --key new.key
  fcs-failover-server status --data-dir /var/lib/fcs --json

Server groups: every command also takes --storage etcd://HOST:PORT[,HOST:PORT...]/PREFIX
--kek-file FILE; the pair then lives in etcd and every server of the group serves it:
  fcs-failover-server serve --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek)";

const char* const serve_description = R"(fcs-failover-server serve: run the HTTPS server.

Usage: fcs-failover-server [serve] [OPTIONS]

On the first start a self-signed certificate (EC P-256, valid 15 years) is generated in
DIR/Certificates/NAME.crt with its key in DIR/Certificates/Keys/NAME.key. The server prints its
URL and the certificate's SHA-256 fingerprint, serves GET /health, /certificate and /metrics,
picks up a certificate replaced in the folders (or with `replace`) without a restart, reloads on
SIGHUP, and stops cleanly on Ctrl-C or SIGTERM. Messages go to DIR/Logs/messages.log (and
stderr), or with --log to the systemd journal (with the fields FCS_EVENT, FCS_CERT_NAME and
FCS_FINGERPRINT), to syslog (facility daemon) or to stderr only.
TLS session tickets are encrypted with keys kept in DIR/Certificates/Keys/NAME.tickets (a new
key every 12 hours, re-read every minute), so servers on the same data folder or a copy of it
resume each other's sessions after a failover.)";

const char* const serve_footer = R"(Examples:
  fcs-failover-server serve --data-dir ./fcs-data --port 8443
  fcs-failover-server serve --storage etcd://10.0.0.5:2379,10.0.0.6:2379/fcs \
      --kek-file /etc/fcs/kek --data-dir /var/lib/fcs --port 443
  fcs-failover-server serve --storage etcds://etcd1.example:2379/fcs --kek-file /etc/fcs/kek \
      --etcd-ca /etc/fcs/etcd-ca.crt --etcd-cert /etc/fcs/node.crt --etcd-key /etc/fcs/node.key \
      --etcd-user fcs --etcd-password-file /etc/fcs/etcd.pass
  fcs-failover-server serve --port 0            # prints: listening on https://127.0.0.1:PORT
  kill -HUP $(pidof fcs-failover-server)        # reload the certificate now)";

const char* const replace_description =
    R"(fcs-failover-server replace: install a new certificate and key.

Usage: fcs-failover-server replace --cert FILE --key FILE [OPTIONS]

The vendor's replacement procedure done safely: the new pair (PEM certificate or chain, PEM key
that is not password-protected) is validated first (it parses, the key matches, the dates are
valid), the pair in use is copied to Certificates/Archive/, and the new pair is committed as one
step. Works whether the server is running or not: a running server picks it up by itself. On any
failure the installed pair stays byte-identical and the exit status is non-zero.)";

const char* const replace_footer = R"(Examples:
  fcs-failover-server replace --data-dir /var/lib/fcs --cert server.crt --key server.key
  fcs-failover-server replace --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek \
      --cert server.crt --key server.key)";

const char* const status_description =
    R"(fcs-failover-server status: show the certificate in the data folder.

Usage: fcs-failover-server status [--json] [OPTIONS]

Reads the folder without changing it and prints subject, issuer, names, serial, dates, days
remaining, SHA-256 fingerprint, key type, state (valid / expiring / expired) and origin; what
the next start would do about the rest (an unusable file, an interrupted change) goes to stderr.
Exit status, as monitoring checks (Nagios, Icinga) expect: 0 valid; 1 warning, the certificate
expires within 30 days; 2 critical, expired, not yet valid, no usable certificate, or the storage
cannot be read (and 2 for a wrong command line).)";

const char* const status_footer = R"(Examples:
  fcs-failover-server status --data-dir /var/lib/fcs --json
  fcs-failover-server status --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek)";

/// What the command line says (one command is parsed; each fills its part).
struct arguments {
    std::string command = "serve";
    std::string data_dir = "./fcs-data";
    std::string cert_name = fcs::service_options{}.name;
    std::string storage, kek_file;
    fcs::examples::etcd_connection_args etcd;
    // serve
    std::string bind = fcs_example::server_config{}.bind;
    unsigned long port = 8443;
    unsigned long threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    unsigned long max_connections = fcs_example::server_config{}.max_connections;
    unsigned long recheck_interval = 21600;
    std::string log = "file"; ///< serve, replace: where messages go
    // serve: ACME renewal
    std::string acme_directory, acme_ca, acme_eab_kid, acme_eab_key_file;
    std::vector<std::string> acme_contacts, acme_names, acme_ips;
    std::string acme_challenge = "tls-alpn-01";
    unsigned long acme_http_port = 80;
    unsigned long acme_renew_before = 0; ///< seconds; 0: the default rule
    unsigned long acme_lock_lease = 600;
    unsigned long acme_retry = 60;
    // replace
    std::string cert, key;
    // status
    bool json = false;
    fcs::examples::cli::given_set given; ///< the options given (by their --long names)
};

[[noreturn]] void usage_error(const std::string& command, const std::string& message) {
    std::cerr << program << " " << command << ": " << message << "\n(see " << program << " "
              << command << " --help)\n";
    std::exit(exit_usage);
}

/// The options every command takes: where the pair lives and how to reach etcd.
void add_storage_options(CLI::App& app, arguments& a, const char* storage_help) {
    using fcs::examples::cli::value;
    value(app, "--data-dir", a.data_dir, "DIR", "data folder (default ./fcs-data)");
    value(app, "--cert-name", a.cert_name, "NAME",
          "base name of the certificate files (default FailoverService)");
    value(app, "--storage", a.storage, "URL", storage_help);
    value(app, "--kek-file", a.kek_file, "FILE",
          "with etcd: the group's 32-byte key-encryption key (mode 0600; make one\n"
          "with: openssl rand -base64 32 > FILE); the private key and ticket keys\n"
          "are encrypted with it before they leave the server");
    fcs::examples::add_etcd_connection_options(app, a.etcd);
}

/// --log: where the commands that write messages (serve, replace) send them.
void add_log_option(CLI::App& app, arguments& a) {
    namespace cli = fcs::examples::cli;
    cli::value(app, "--log", a.log, "SINK",
               "where messages go: file (DIR/Logs/messages.log, the default), journal\n"
               "(the systemd journal, with FCS_EVENT, FCS_CERT_NAME, FCS_FINGERPRINT),\n"
               "syslog (facility daemon) or stderr")
        ->check(cli::word_in("--log", {"file", "journal", "syslog", "stderr"}));
}

/// serve's --acme-* options: automatic renewal from an ACME CA (README.md, "ACME renewal").
void add_acme_options(CLI::App& app, arguments& a) {
    namespace cli = fcs::examples::cli;
    auto many = [&](const std::string& name, std::vector<std::string>& into, std::string type,
                    std::string help) {
        app.add_option(name, into, std::move(help))
            ->type_name(std::move(type))
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
            ->check(cli::bounded(name));
    };
    cli::value(app, "--acme-directory", a.acme_directory, "URL",
               "renew the certificate from this ACME CA (RFC 8555 directory URL, https://);\n"
               "off when not given: the admin's replacement stays the only way");
    cli::value(app, "--acme-ca", a.acme_ca, "FILE",
               "the CA certificates (PEM) the ACME directory is served with (default: the\n"
               "system's trust store)");
    many("--acme-contact", a.acme_contacts, "URL", "account contact, e.g. mailto:admin@example.com (repeatable)");
    many("--acme-name", a.acme_names, "DNS", "a DNS name the certificate must carry (repeatable)");
    many("--acme-ip", a.acme_ips, "ADDR", "an IP address the certificate must carry (repeatable)");
    cli::value(app, "--acme-eab-kid", a.acme_eab_kid, "KID",
               "External Account Binding key id, when the CA requires one");
    cli::value(app, "--acme-eab-key-file", a.acme_eab_key_file, "FILE",
               "the EAB HMAC key (base64url) in a file only its owner may read");
    cli::value(app, "--acme-challenge", a.acme_challenge, "TYPE",
               "tls-alpn-01 (default: answered on the server's own port) or http-01")
        ->check(cli::word_in("--acme-challenge", {"tls-alpn-01", "http-01"}));
    cli::value(app, "--acme-http-port", a.acme_http_port, "N",
               "with http-01: the plain-HTTP port the answers are served on (default 80)")
        ->check(cli::number_in("--acme-http-port", 1, 65535));
    cli::value(app, "--acme-renew-before", a.acme_renew_before, "S",
               "renew this many seconds before expiry (default: a third of the lifetime,\n"
               "and at least 30 days ahead when the lifetime allows)")
        ->check(cli::number_in("--acme-renew-before", 1, 10u * 365 * 86400));
    cli::value(app, "--acme-lock-lease", a.acme_lock_lease, "S",
               "in a server group: how long one node's claim to renew lasts, so a node that\n"
               "dies while renewing blocks the others at most this long (default 600)")
        ->check(cli::number_in("--acme-lock-lease", 5, 86400));
    cli::value(app, "--acme-retry", a.acme_retry, "S",
               "after a failed renewal, the first retry in seconds (default 60; doubled at\n"
               "each further failure, at most an hour)")
        ->check(cli::number_in("--acme-retry", 1, 3600));
}

/// The command line: three CLI11 subcommands, `serve` the default. --help prints and exits 0;
/// a wrong command line prints why and exits 2.
arguments parse_command_line(std::vector<std::string> args) {
    namespace cli = fcs::examples::cli;
    arguments a;
    CLI::App app(main_description, program);
    app.formatter(std::make_shared<cli::help_formatter>());
    app.footer(main_footer);
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.require_subcommand(1, 1);

    auto* serve = app.add_subcommand("serve", serve_description);
    serve->footer(serve_footer);
    add_storage_options(*serve, a,
                        "where the pair lives: the data folder (default), or\n"
                        "etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS) for a server\n"
                        "group: the pair and the ticket keys are one etcd key, PREFIX/slots/NAME;\n"
                        "the first server of the group generates it, the others load it, and\n"
                        "every server serves a change within a second. The data folder then\n"
                        "holds only Logs/.");
    cli::value(*serve, "--bind", a.bind, "ADDR", "IP address to listen on (default 127.0.0.1)");
    cli::value(*serve, "--port", a.port, "N",
               "TCP port (default 8443); 0 picks a free port and prints it")
        ->check(cli::number_in("--port", 0, 65535));
    cli::value(*serve, "--threads", a.threads, "N",
               "I/O threads (default: the number of cores, at most 16)")
        ->check(cli::number_in("--threads", 1, 64));
    cli::value(*serve, "--max-connections", a.max_connections, "N",
               "concurrent connections; more are closed at once (default 256)")
        ->check(cli::number_in("--max-connections", 1, 100000));
    cli::value(*serve, "--recheck-interval", a.recheck_interval, "S",
               "seconds between expiry re-checks (default 21600; at most 86400)")
        ->check(cli::number_in("--recheck-interval", 1, 86400));
    add_log_option(*serve, a);
    add_acme_options(*serve, a);

    auto* replace = app.add_subcommand("replace", replace_description);
    replace->footer(replace_footer);
    add_storage_options(*replace, a,
                        "etcd://HOST:PORT[,HOST:PORT...]/PREFIX: replace the group's pair in etcd\n"
                        "(the previous one goes to PREFIX/archive/; every server of the group\n"
                        "serves the new one within a second); --data-dir then holds only Logs/");
    cli::value(*replace, "--cert", a.cert, "FILE",
               "the new certificate (leaf first, or a chain in any order)");
    cli::value(*replace, "--key", a.key, "FILE", "its private key");
    add_log_option(*replace, a);

    auto* status = app.add_subcommand("status", status_description);
    status->footer(status_footer);
    add_storage_options(*status, a,
                        "etcd://HOST:PORT[,HOST:PORT...]/PREFIX: show the group's pair in etcd");
    status->add_flag("--json", a.json,
                     "print JSON: the status document (README.md, \"Status JSON\"), the same\n"
                     "one GET /certificate and `fcs-switchover status --json` give");

    // No command (or options first): serve. "help": the general help.
    if (args.empty() ||
        (args.front().starts_with("-") && args.front() != "--help" && args.front() != "-h"))
        args.insert(args.begin(), "serve");
    if (args.front() == "--help" || args.front() == "-h") {
        std::cout << app.help() << "\n" << serve->help();
        std::exit(0);
    }
    if (args.front() == "help") {
        std::cout << app.help();
        std::exit(0);
    }
    a.command = args.front();
    if (a.command != "serve" && a.command != "replace" && a.command != "status") {
        std::cerr << program << ": unknown command '" << a.command << "'\n\n" << app.help();
        std::exit(exit_usage);
    }
    // Before CLI11 sees them, so a password given anyway is never echoed in a message.
    if (cli::password_argument(args, {"--password", "--etcd-password"}))
        usage_error(a.command, "passwords are never taken from the command line; use "
                               "--etcd-password-file FILE, --etcd-password-env VAR or "
                               "--etcd-password-stdin");
    for (auto* sub : {serve, replace, status})
        sub->allow_extras();
    std::reverse(args.begin(), args.end()); // CLI11 takes the arguments last first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help(); // the command's help (CLI11 hands it to the parsed command)
        std::exit(0);
    } catch (const CLI::ParseError& e) {
        usage_error(a.command, cli::message_of(e));
    }
    auto* parsed = app.get_subcommand(a.command);
    a.given = cli::given_options(*parsed);
    if (auto extra = parsed->remaining(); !extra.empty())
        usage_error(a.command, "unknown option '" + extra.front() + "'");
    if (!fcs::storage::valid_slot_name(a.cert_name))
        usage_error(a.command, "--cert-name '" + a.cert_name + "': not a valid file base name");
    return a;
}

fcs::service_options service_options_from(const arguments& a) {
    fcs::service_options o;
    o.name = a.cert_name;
    return o;
}

fs::path data_dir_of(const arguments& a) {
    return fs::absolute(a.data_dir);
}

fcs::log::file message_log(const fs::path& data, bool echo) {
    return fcs::log::file(data / "Logs" / "messages.log", echo);
}

/// The sink --log names; with the file, `echo` copies each message to stderr too.
message_sink message_sink_of(const arguments& a, const fs::path& data, bool echo) {
    if (a.log == "journal")
        return fcs::log::journal(program);
    if (a.log == "syslog")
        return fcs::log::syslog(program);
    if (a.log == "stderr")
        return fcs::log::stderr_sink{};
    return message_log(data, echo);
}

/// Where --log sends messages, in words (for the start-up lines).
std::string messages_where(const arguments& a, const fs::path& data) {
    if (a.log == "journal")
        return "the journal (SYSLOG_IDENTIFIER=" + std::string(program) + ")";
    if (a.log == "syslog")
        return "syslog (facility daemon)";
    if (a.log == "stderr")
        return "stderr";
    return (data / "Logs" / "messages.log").string();
}

/// --storage etcd://... with its --kek-file, or nullopt for the data folder. Misuse (a
/// --kek-file without etcd, etcd without a --kek-file, a URL that does not parse) exits.
std::optional<fcs::storage::etcd_options> etcd_options_from(const arguments& a) {
    const std::string& command = a.command;
    const auto& url = a.storage;
    const bool kek = a.given.contains("--kek-file");
    if (url.empty() || url == "dir" || url == "directory") {
        if (kek)
            usage_error(command, "--kek-file is for --storage etcd://...");
        if (auto misuse = fcs::examples::etcd_connection_without_etcd(a.given))
            usage_error(command, *misuse);
        return std::nullopt;
    }
    if (!url.starts_with("etcd://") && !url.starts_with("etcds://"))
        usage_error(command, "--storage " + url +
                                 ": expected etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for "
                                 "TLS), or leave it out for the data folder");
    if (!kek)
        usage_error(command, "--storage " + url +
                                 " needs --kek-file FILE (the group's key-encryption key, mode "
                                 "0600)");
    fcs::storage::etcd_options o;
    try {
        o = fcs::storage::etcd_options::from_url(url);
    } catch (const fcs::error& e) {
        usage_error(command, std::string("--storage: ") + e.what());
    }
    o.kek_file = a.kek_file;
    if (auto misuse = fcs::examples::apply_etcd_connection(o, a.etcd, a.given))
        usage_error(command, *misuse);
    return o;
}

/// Reads a whole input file with a size bound; the error names the file and the cause.
fcs::secret_bytes read_input(const std::string& path) {
    return fcs::read_input_file(path, fcs::crypto::max_input_size);
}

void print_status_text(const fcs::cert_status& s) {
    using namespace std::string_view_literals;
    const auto sans = s.info.sans | ranges::views::join(", "sv) | ranges::to<std::string>();
    std::cout << "certificate   " << s.certificate_location << "\n"
              << "subject       " << s.info.subject << "\n"
              << "issuer        " << s.info.issuer << (s.info.self_signed ? " (self-signed)" : "")
              << "\n"
              << "names         " << sans << "\n"
              << "serial        " << s.info.serial << "\n"
              << "not before    " << fcs_example::iso8601(s.info.not_before) << "\n"
              << "not after     " << fcs_example::iso8601(s.info.not_after) << " ("
              << s.days_remaining << " days remaining)\n"
              << "state         " << fcs::to_string(s.state) << "\n"
              << "origin        " << fcs::to_string(s.origin) << "\n"
              << "fingerprint   SHA256 " << s.info.sha256_fingerprint << "\n"
              << "key type      " << s.info.key_type << "\n";
    if (s.origin == fcs::origin::acme)
        std::cout << "next renewal  " << fcs_example::iso8601(fcs::acme::renewal_due(s.info, {}))
                  << " (ACME, default schedule)\n";
}

/**
 * Starts `make()`'s service, then serves until SIGINT/SIGTERM. The server's reloader watches
 * the storage (the folders, or with etcd the slot: another server's ticket-key rotation, a
 * `replace` anywhere) and reloads on its worker thread.
 */
template <class Make>
int serve_with(Make make, const fcs_example::server_config& cfg, const std::string& where) {
    using service_t = decltype(make());
    std::unique_ptr<service_t> service; // not movable: built in place from make()'s prvalue
    fcs::start_report report;
    try {
        service.reset(new service_t(make())); // etcd: reads the key-encryption key file
        report = service->start();
    } catch (const fcs::error& e) {
        std::cerr << program << ": cannot start with the " << where << ": " << e.what() << "\n";
        return 1;
    }
    try {
        // Watches the storage (inotify, or etcd's watch stream) through fcs::reloader.
        fcs_example::https_server<service_t> server(*service, cfg);
        auto& s = report.status;
        std::cout << program << ": " << where << "\n"
                  << "certificate " << s.certificate_location << " (" << s.info.subject << "), "
                  << fcs::to_string(s.state) << ", valid until "
                  << fcs_example::iso8601(s.info.not_after) << " (" << s.days_remaining << " days)"
                  << (report.generated ? ", generated now" : "") << "\n"
                  << "fingerprint SHA256 " << server.tls().current()->sha256_fingerprint() << "\n"
                  << "listening on " << server.url() << std::endl;
        service->log().write(fcs::policy::level::info, "listening on " + server.url() + " with " +
                                                           s.certificate_location + ", SHA-256 " +
                                                           s.info.sha256_fingerprint);
        server.run();
        service->log().write(fcs::policy::level::info, "stopped");
        std::cout << program << ": stopped" << std::endl;
        return 0;
    } catch (const std::exception& e) {
        service->log().write(fcs::policy::level::error, std::string("server failed: ") + e.what());
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}

/// serve's ACME renewal settings, or nullopt without --acme-directory (checked: exits 2 on a
/// contradiction, 1 when the CA file or the EAB key file cannot be read).
std::optional<fcs::acme::renewal_options> acme_options_from(const arguments& a) {
    const bool any = std::any_of(a.given.begin(), a.given.end(),
                                 [](const std::string& o) { return o.starts_with("--acme-"); });
    if (a.acme_directory.empty()) {
        if (any)
            usage_error("serve", "the --acme-* options need --acme-directory URL");
        return std::nullopt;
    }
    if (a.acme_names.empty() && a.acme_ips.empty())
        usage_error("serve", "--acme-directory needs at least one --acme-name or --acme-ip");
    if (a.acme_eab_kid.empty() != a.acme_eab_key_file.empty())
        usage_error("serve", "--acme-eab-kid and --acme-eab-key-file go together");
    fcs::acme::renewal_options r;
    r.acme.directory_url = a.acme_directory;
    r.acme.ca_file = a.acme_ca;
    r.acme.contacts = a.acme_contacts;
    for (auto& n : a.acme_names)
        r.identifiers.push_back({fcs::acme::identifier::kind::dns, n});
    for (auto& ip : a.acme_ips)
        r.identifiers.push_back({fcs::acme::identifier::kind::ip, ip});
    r.challenge = a.acme_challenge == "http-01" ? fcs::acme::challenge_type::http_01
                                                : fcs::acme::challenge_type::tls_alpn_01;
    if (a.acme_renew_before)
        r.renew_before = std::chrono::seconds(a.acme_renew_before);
    r.lock_lease = std::chrono::seconds(a.acme_lock_lease);
    r.retry_first = std::chrono::seconds(a.acme_retry);
    try {
        (void)fcs::acme::identifiers_json(r.identifiers);
        (void)fcs::acme::acme_detail::split_url(r.acme.directory_url);
    } catch (const fcs::error& e) {
        usage_error("serve", e.what());
    }
    try { // the CA file (--acme-ca): refused at start, not in every renewal attempt
        fcs::acme::client::check(r.acme);
    } catch (const fcs::error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        std::exit(1);
    }
    if (!a.acme_eab_kid.empty()) {
        r.acme.eab_kid = a.acme_eab_kid;
        try {
            r.acme.eab_hmac_key = fcs::acme::read_eab_key(a.acme_eab_key_file);
        } catch (const fcs::error& e) {
            std::cerr << program << ": " << e.what() << "\n";
            std::exit(1);
        }
    }
    return r;
}

int serve(const arguments& a) {
    fcs_example::server_config cfg;
    cfg.data_dir = data_dir_of(a);
    cfg.bind = a.bind;
    boost::system::error_code bind_ec;
    (void)boost::asio::ip::make_address(cfg.bind, bind_ec);
    if (bind_ec) // checked before start(), which may generate a certificate
        usage_error("serve", "--bind " + cfg.bind + ": not an IP address");
    // The ranges are checked by the parser (cli::number_in).
    cfg.port = static_cast<unsigned short>(a.port);
    cfg.threads = static_cast<unsigned>(a.threads);
    cfg.max_connections = a.max_connections;
    cfg.recheck_interval = std::chrono::seconds(a.recheck_interval);
    try { // socket activation: systemd listens (--bind/--port are then its, not ours)
        if (auto fd = fcs::systemd::listen_socket())
            cfg.listen_fd = *fd;
    } catch (const fcs::error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
    cfg.acme = acme_options_from(a);
    cfg.acme_http_port = static_cast<unsigned short>(a.acme_http_port);
    auto opts = service_options_from(a);
    auto eo = etcd_options_from(a);

    const auto messages = " (messages to " + messages_where(a, cfg.data_dir) + ")";
    if (eo) {
        using service_t = etcd_service_type<message_sink>;
        return serve_with(
            [&] {
                return service_t(opts, fcs::storage::etcd(*eo), fcs::acl::none{},
                                 fcs::crypto::boringssl{}, message_sink_of(a, cfg.data_dir, true));
            },
            cfg, "etcd storage " + a.storage + messages);
    }
    using service_t = service_type<message_sink>;
    return serve_with(
        [&] {
            return service_t(opts, storage_type(cfg.data_dir), fcs::acl::posix{},
                             fcs::crypto::boringssl{}, message_sink_of(a, cfg.data_dir, true));
        },
        cfg, "data folder " + cfg.data_dir.string() + messages);
}

int replace(const arguments& a) {
    if (a.cert.empty() || a.key.empty())
        usage_error("replace", "both --cert FILE and --key FILE are required");
    auto data = data_dir_of(a);
    auto opts = service_options_from(a);
    auto eo = etcd_options_from(a);
    const auto& cert_path = a.cert;
    const auto& key_path = a.key;
    try {
        auto cert = read_input(cert_path);
        auto key = read_input(key_path);
        // install() opens the storage itself: only the folders (or the etcd slot), no
        // generating or archiving as start() would.
        auto installed = [](const fcs::cert_status& s, const std::string& previous) {
            std::cout << "installed " << s.certificate_location << " (" << s.info.subject
                      << ", issued by " << s.info.issuer << ")\n"
                      << "valid until " << fcs_example::iso8601(s.info.not_after) << " ("
                      << s.days_remaining << " days), state " << fcs::to_string(s.state) << "\n"
                      << "fingerprint SHA256 " << s.info.sha256_fingerprint << "\n"
                      << previous << "\n";
            return 0;
        };
        if (eo) {
            // install() checks the key-encryption key against the group's, then replaces the
            // pair with a compare-and-swap on the revision it read: a concurrent replacement
            // by another admin makes this one fail (errc::conflict), never both succeed.
            etcd_service_type<message_sink> service(opts, fcs::storage::etcd(*eo), fcs::acl::none{},
                                                    fcs::crypto::boringssl{},
                                                    message_sink_of(a, data, false));
            return installed(service.install(cert, key, cert_path, key_path),
                             "the previous pair, if any, is in etcd under " +
                                 service.storage().options().prefix + "/archive/" + opts.name +
                                 "/; every server of the group uses the new one for new "
                                 "connections within a second");
        }
        service_type<message_sink> service(opts, storage_type(data), fcs::acl::posix{},
                                           fcs::crypto::boringssl{},
                                           message_sink_of(a, data, false));
        return installed(service.install(cert, key, cert_path, key_path),
                         "the previous pair is in " + layout::archive_folder("") +
                             "/; a running server uses the new one for new connections "
                             "within a second");
    } catch (const fcs::error& e) {
        std::cerr << program << " replace: " << e.what() << "\n"
                  << "nothing was changed; the installed certificate and key are as before\n";
        // The message log records refused replacements too (never a typo'd folder created for
        // it); stderr has it already.
        std::error_code ec;
        if (a.log != "stderr" &&
            (a.log != "file" ||
             fs::is_directory(eo ? data : data / layout::folder(fcs::part::certificate), ec)))
            message_sink_of(a, data, false)
                .write(fcs::policy::level::error, std::string("replace refused: ") + e.what() +
                                                      "; the installed pair was not changed");
        return 1;
    }
}

/// Prints the pair `service` finds in its storage; `where` names that storage for messages.
/// Exit status: fcs::monitoring_exit_of the pair's state, critical without a usable pair.
template <class Service>
int status_with(Service& service, const arguments& a, const std::string& where) {
    // Read only: inspect() creates, repairs, replays and archives nothing.
    auto r = service.inspect();
    if (!r.status) {
        std::cerr << program << " status: " << where << ": no usable certificate\n";
        for (auto& f : r.findings)
            std::cerr << program << " status: " << (f.location.empty() ? "" : f.location + ": ")
                      << f.message << "\n";
        return exit_status_critical;
    }
    if (a.json)
        std::cout << fcs::status_json_text(fcs::status_json(*r.status, r.findings), 2) << "\n";
    else
        print_status_text(*r.status);
    for (auto& f : r.findings)
        if (f.level != fcs::finding::severity::info)
            std::cerr << program << " status: "
                      << (f.level == fcs::finding::severity::warning ? "warning: " : "error: ")
                      << (f.location.empty() ? "" : f.location + ": ") << f.message << "\n";
    return static_cast<int>(fcs::monitoring_exit_of(r.status->state));
}

int status(const arguments& a) {
    auto opts = service_options_from(a);
    try {
        // The null log: a status query writes nothing to the message log.
        if (auto eo = etcd_options_from(a)) {
            etcd_service_type<fcs::log::null_sink> service(
                opts, fcs::storage::etcd(*eo), fcs::acl::none{}, fcs::crypto::boringssl{},
                fcs::log::null_sink{});
            return status_with(service, a, a.storage);
        }
        auto data = data_dir_of(a);
        std::error_code ec;
        if (!fs::is_directory(data / layout::folder(fcs::part::certificate), ec)) {
            std::cerr << program << " status: " << data.string() << ": no "
                      << layout::folder(fcs::part::certificate) << "/ folder; run `" << program
                      << " serve --data-dir " << data.string() << "` once first\n";
            return exit_status_critical;
        }
        service_type<fcs::log::null_sink> service(opts, storage_type(data), fcs::acl::posix{},
                                                  fcs::crypto::boringssl{}, fcs::log::null_sink{});
        return status_with(service, a, data.string());
    } catch (const fcs::error& e) {
        std::cerr << program << " status: " << e.what() << "\n";
        return exit_status_critical;
    }
}

} // namespace

int main(int argc, char** argv) {
    // A failure of `status` itself is critical to a monitoring check, never a warning (1).
    const int failed_status =
        argc > 1 && std::string_view(argv[1]) == "status" ? exit_status_critical : 1;
    if (auto failed = fcs::examples::harden_process()) {
        std::cerr << program << ": " << *failed << "\n";
        return failed_status;
    }
    std::string command = "serve";
    try {
        auto a = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
        command = a.command;
        if (command == "replace")
            return replace(a);
        if (command == "status")
            return status(a);
        return serve(a);
    } catch (const std::exception& e) {
        std::cerr << program << " " << command << ": " << e.what() << "\n";
        return failed_status;
    }
}
