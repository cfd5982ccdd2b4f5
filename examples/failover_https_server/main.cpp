// fcs-failover-server: the failover HTTPS REST server built on fcs::FailoverCertService.
//
//   fcs-failover-server [serve] --data-dir DIR --bind ADDR --port N [--threads N]
//       [--cert-name NAME] [--storage etcd://HOST:PORT/PREFIX --kek-file FILE]
//   fcs-failover-server replace --data-dir DIR --cert FILE --key FILE [--storage URL
//       --kek-file FILE]
//   fcs-failover-server status --data-dir DIR [--json] [--storage URL --kek-file FILE]

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include "etcd_cli.hpp"
#include "https_server.hpp"
#include "json.hpp"
#include "process_hardening.hpp"

#include <fcs/fcs.hpp>
#include <fcs/storage/etcd.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
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

const char* const main_help =
    R"(fcs-failover-server: a failover HTTPS REST server whose certificate is managed by fcs.

Usage:
  fcs-failover-server [serve] [options]      run the server (the default)
  fcs-failover-server replace --cert FILE --key FILE [--data-dir DIR]
                                             install a new certificate and key safely
  fcs-failover-server status [--data-dir DIR] [--json]
                                             show the certificate in use
  fcs-failover-server COMMAND --help         help on one command

Examples:
  fcs-failover-server
  fcs-failover-server serve --data-dir /var/lib/fcs --bind 0.0.0.0 --port 443
  fcs-failover-server replace --data-dir /var/lib/fcs --cert new.crt --key new.key
  fcs-failover-server status --data-dir /var/lib/fcs --json

Server groups: every command also takes --storage etcd://HOST:PORT[,HOST:PORT...]/PREFIX
--kek-file FILE; the pair then lives in etcd and every server of the group serves it:
  fcs-failover-server serve --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek
)";

const char* const serve_help = R"(fcs-failover-server serve: run the HTTPS server.

On the first start a self-signed certificate (EC P-256, valid 15 years) is generated in
DIR/Certificates/NAME.crt with its key in DIR/Certificates/Keys/NAME.key. The server prints its
URL and the certificate's SHA-256 fingerprint, serves GET /health, /certificate and /metrics,
picks up a certificate replaced in the folders (or with `replace`) without a restart, reloads on
SIGHUP, and stops cleanly on Ctrl-C or SIGTERM. Messages go to DIR/Logs/messages.log.
TLS session tickets are encrypted with keys kept in DIR/Certificates/Keys/NAME.tickets (a new
key every 12 hours, re-read every minute), so servers on the same data folder or a copy of it
resume each other's sessions after a failover.

Options:
  --data-dir DIR         data folder (default ./fcs-data)
  --bind ADDR            IP address to listen on (default 127.0.0.1)
  --port N               TCP port (default 8443); 0 picks a free port and prints it
  --threads N            I/O threads (default: the number of cores, at most 16)
  --cert-name NAME       base name of the certificate files (default FailoverService)
  --max-connections N    concurrent connections; more are closed at once (default 256)
  --recheck-interval S   seconds between expiry re-checks (default 21600; at most 86400)
  --storage URL          where the pair lives: the data folder (default), or
                         etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS) for a server
                         group: the pair and the ticket keys are one etcd key, PREFIX/slots/NAME;
                         the first server of the group generates it, the others load it, and
                         every server serves a change within a second. The data folder then
                         holds only Logs/.
  --kek-file FILE        with etcd: the group's 32-byte key-encryption key (mode 0600; make one
                         with: openssl rand -base64 32 > FILE); the private key and ticket keys
                         are encrypted with it before they leave the server
)" FCS_ETCD_CONNECTION_HELP R"(
Examples:
  fcs-failover-server serve --data-dir ./fcs-data --port 8443
  fcs-failover-server serve --storage etcd://10.0.0.5:2379,10.0.0.6:2379/fcs \\
      --kek-file /etc/fcs/kek --data-dir /var/lib/fcs --port 443
  fcs-failover-server serve --storage etcds://etcd1.example:2379/fcs --kek-file /etc/fcs/kek \\
      --etcd-ca /etc/fcs/etcd-ca.crt --etcd-cert /etc/fcs/node.crt --etcd-key /etc/fcs/node.key \\
      --etcd-user fcs --etcd-password-file /etc/fcs/etcd.pass
  fcs-failover-server serve --port 0            # prints: listening on https://127.0.0.1:PORT
  kill -HUP $(pidof fcs-failover-server)        # reload the certificate now
)";

const char* const replace_help = R"(fcs-failover-server replace: install a new certificate and key.

The vendor's replacement procedure done safely: the new pair (PEM certificate or chain, PEM key
that is not password-protected) is validated first (it parses, the key matches, the dates are
valid), the pair in use is copied to Certificates/Archive/, and the new pair is committed as one
step. Works whether the server is running or not: a running server picks it up by itself. On any
failure the installed pair stays byte-identical and the exit status is non-zero.

Options:
  --data-dir DIR     data folder (default ./fcs-data)
  --cert FILE        the new certificate (leaf first, or a chain in any order)
  --key FILE         its private key
  --cert-name NAME   base name of the certificate files (default FailoverService)
  --storage URL      etcd://HOST:PORT[,HOST:PORT...]/PREFIX: replace the group's pair in etcd
                     (the previous one goes to PREFIX/archive/; every server of the group
                     serves the new one within a second); --data-dir then holds only Logs/
  --kek-file FILE    with etcd: the group's key-encryption key (mode 0600)
)" FCS_ETCD_CONNECTION_HELP R"(
Examples:
  fcs-failover-server replace --data-dir /var/lib/fcs --cert server.crt --key server.key
  fcs-failover-server replace --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek \\
      --cert server.crt --key server.key
)";

const char* const status_help =
    R"(fcs-failover-server status: show the certificate in the data folder.

Reads the folder without changing it and prints subject, issuer, names, serial, dates, days
remaining, SHA-256 fingerprint, state (valid / expiring / expired) and origin.

Options:
  --data-dir DIR     data folder (default ./fcs-data)
  --json             print JSON (the same document as GET /certificate)
  --cert-name NAME   base name of the certificate files (default FailoverService)
  --storage URL      etcd://HOST:PORT[,HOST:PORT...]/PREFIX: show the group's pair in etcd
  --kek-file FILE    with etcd: the group's key-encryption key (mode 0600)
)" FCS_ETCD_CONNECTION_HELP R"(
Examples:
  fcs-failover-server status --data-dir /var/lib/fcs --json
  fcs-failover-server status --storage etcd://10.0.0.5:2379/fcs --kek-file /etc/fcs/kek
)";

/// Parsed command line: options with values, flags, and misuse.
struct args {
    std::map<std::string, std::string> values;
    std::map<std::string, bool> flags;
    bool help = false;
};

[[noreturn]] void usage_error(const std::string& command, const std::string& message) {
    std::cerr << program << " " << command << ": " << message << "\n(see " << program << " "
              << command << " --help)\n";
    std::exit(2);
}

args parse(const std::string& command, const std::vector<std::string>& in,
           const std::vector<std::string>& with_value, const std::vector<std::string>& flags) {
    args a;
    for (std::size_t i = 0; i < in.size(); ++i) {
        std::string opt = in[i];
        if (opt == "--help" || opt == "-h") {
            a.help = true;
            continue;
        }
        std::optional<std::string> inline_value;
        if (auto eq = opt.find('='); opt.starts_with("--") && eq != std::string::npos) {
            inline_value = opt.substr(eq + 1);
            opt = opt.substr(0, eq);
        }
        if (opt == "--etcd-password" || opt == "--password")
            usage_error(command, "passwords are never taken from the command line; use "
                                 "--etcd-password-file FILE");
        if (std::find(with_value.begin(), with_value.end(), opt) != with_value.end()) {
            if (!inline_value && i + 1 >= in.size())
                usage_error(command, opt + " needs a value");
            auto v = inline_value ? *inline_value : in[++i];
            if (v.size() > 4096)
                usage_error(command, opt + ": value too long");
            a.values[opt] = v;
        } else if (std::find(flags.begin(), flags.end(), opt) != flags.end() && !inline_value) {
            a.flags[opt] = true;
        } else {
            usage_error(command, "unknown option '" + in[i] + "'");
        }
    }
    return a;
}

std::string value_or(const args& a, const std::string& key, std::string fallback) {
    auto it = a.values.find(key);
    return it == a.values.end() ? fallback : it->second;
}

unsigned long number(const std::string& command, const args& a, const std::string& key,
                     unsigned long fallback, unsigned long lo, unsigned long hi) {
    auto it = a.values.find(key);
    if (it == a.values.end())
        return fallback;
    unsigned long v = 0;
    auto& s = it->second;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
        usage_error(command, key + " " + s + ": expected a number from " + std::to_string(lo) +
                                 " to " + std::to_string(hi));
    return v;
}

fcs::service_options service_options_from(const std::string& command, const args& a) {
    fcs::service_options o;
    o.name = value_or(a, "--cert-name", o.name);
    if (!fcs::storage::valid_slot_name(o.name))
        usage_error(command, "--cert-name '" + o.name + "': not a valid file base name");
    return o;
}

fs::path data_dir_of(const args& a) {
    return fs::absolute(value_or(a, "--data-dir", "./fcs-data"));
}

fcs::log::file message_log(const fs::path& data, bool echo) {
    return fcs::log::file(data / "Logs" / "messages.log", echo);
}

/// --storage etcd://... with its --kek-file, or nullopt for the data folder. Misuse (a
/// --kek-file without etcd, etcd without a --kek-file, a URL that does not parse) exits.
std::optional<fcs::storage::etcd_options> etcd_options_from(const std::string& command,
                                                            const args& a) {
    auto url = value_or(a, "--storage", "");
    const bool kek = a.values.count("--kek-file") > 0;
    if (url.empty() || url == "dir" || url == "directory") {
        if (kek)
            usage_error(command, "--kek-file is for --storage etcd://...");
        if (auto misuse = fcs::examples::etcd_connection_without_etcd(
                [&](std::string_view name) { return a.values.count("--" + std::string(name)); }))
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
    o.kek_file = value_or(a, "--kek-file", "");
    if (auto misuse = fcs::examples::apply_etcd_connection(o, [&](std::string_view name) {
            auto it = a.values.find("--" + std::string(name));
            return it == a.values.end() ? std::nullopt : std::optional(it->second);
        }))
        usage_error(command, *misuse);
    return o;
}

template <class Service>
constexpr bool in_etcd = std::is_same_v<typename Service::storage_type, fcs::storage::etcd>;

/// Reads a whole input file with a size bound; the error names the file and the cause.
fcs::secret_bytes read_input(const std::string& path) {
    constexpr std::size_t limit = fcs::crypto::max_input_size;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw fcs::error(fcs::errc::io_failed, path, "read", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw fcs::error(fcs::errc::unsafe_file, path, "read", "not a regular file");
    }
    fcs::secret_bytes out;
    out.reserve(static_cast<std::size_t>(std::min<off_t>(st.st_size, limit + 1)));
    std::uint8_t buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            OPENSSL_cleanse(buf, sizeof buf);
            ::close(fd);
            throw fcs::error(fcs::errc::io_failed, path, "read", std::strerror(e));
        }
        if (n == 0)
            break;
        out.insert(out.end(), buf, buf + n);
        if (out.size() > limit) {
            OPENSSL_cleanse(buf, sizeof buf);
            ::close(fd);
            throw fcs::error(fcs::errc::too_large, path, "read",
                             "larger than 1 MiB; not a certificate or key");
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    ::close(fd);
    return out;
}

void print_status_text(const fcs::cert_status& s) {
    std::string sans;
    for (auto& n : s.info.sans)
        sans += (sans.empty() ? "" : ", ") + n;
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
              << "fingerprint   SHA256 " << s.info.sha256_fingerprint << "\n";
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

int serve(const std::vector<std::string>& argv) {
    auto a =
        parse("serve", argv,
              {"--data-dir", "--bind", "--port", "--threads", "--cert-name", "--max-connections",
               "--recheck-interval", "--storage", "--kek-file", "--etcd-ca", "--etcd-cert",
               "--etcd-key", "--etcd-user", "--etcd-password-file"},
              {});
    if (a.help) {
        std::cout << serve_help;
        return 0;
    }
    fcs_example::server_config cfg;
    cfg.data_dir = data_dir_of(a);
    cfg.bind = value_or(a, "--bind", cfg.bind);
    boost::system::error_code bind_ec;
    (void)boost::asio::ip::make_address(cfg.bind, bind_ec);
    if (bind_ec) // checked before start(), which may generate a certificate
        usage_error("serve", "--bind " + cfg.bind + ": not an IP address");
    cfg.port = static_cast<unsigned short>(number("serve", a, "--port", 8443, 0, 65535));
    unsigned cores = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    cfg.threads = static_cast<unsigned>(number("serve", a, "--threads", cores, 1, 64));
    cfg.max_connections = number("serve", a, "--max-connections", cfg.max_connections, 1, 100000);
    cfg.recheck_interval =
        std::chrono::seconds(number("serve", a, "--recheck-interval", 21600, 1, 86400));
    auto opts = service_options_from("serve", a);
    auto eo = etcd_options_from("serve", a);

    if (eo) {
        using service_t = etcd_service_type<fcs::log::file>;
        return serve_with(
            [&] {
                return service_t(opts, fcs::storage::etcd(*eo), fcs::acl::none{},
                                 fcs::crypto::boringssl{}, message_log(cfg.data_dir, true));
            },
            cfg,
            "etcd storage " + a.values["--storage"] + " (messages in " +
                (cfg.data_dir / "Logs").string() + "/)");
    }
    using service_t = service_type<fcs::log::file>;
    return serve_with(
        [&] {
            return service_t(opts, storage_type(cfg.data_dir), fcs::acl::posix{},
                             fcs::crypto::boringssl{}, message_log(cfg.data_dir, true));
        },
        cfg, "data folder " + cfg.data_dir.string());
}

int replace(const std::vector<std::string>& argv) {
    auto a =
        parse("replace", argv,
              {"--data-dir", "--cert", "--key", "--cert-name", "--storage", "--kek-file",
               "--etcd-ca", "--etcd-cert", "--etcd-key", "--etcd-user", "--etcd-password-file"},
              {});
    if (a.help) {
        std::cout << replace_help;
        return 0;
    }
    if (!a.values.count("--cert") || !a.values.count("--key"))
        usage_error("replace", "both --cert FILE and --key FILE are required");
    auto data = data_dir_of(a);
    auto opts = service_options_from("replace", a);
    auto eo = etcd_options_from("replace", a);
    auto cert_path = a.values["--cert"], key_path = a.values["--key"];
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
            etcd_service_type<fcs::log::file> service(opts, fcs::storage::etcd(*eo),
                                                      fcs::acl::none{}, fcs::crypto::boringssl{},
                                                      message_log(data, false));
            return installed(service.install(cert, key, cert_path, key_path),
                             "the previous pair, if any, is in etcd under " +
                                 service.storage().options().prefix + "/archive/" + opts.name +
                                 "/; every server of the group uses the new one for new "
                                 "connections within a second");
        }
        service_type<fcs::log::file> service(opts, storage_type(data), fcs::acl::posix{},
                                             fcs::crypto::boringssl{}, message_log(data, false));
        return installed(service.install(cert, key, cert_path, key_path),
                         "the previous pair is in " + layout::archive_folder("") +
                             "/; a running server uses the new one for new connections "
                             "within a second");
    } catch (const fcs::error& e) {
        std::cerr << program << " replace: " << e.what() << "\n"
                  << "nothing was changed; the installed certificate and key are as before\n";
        // The message log records refused replacements too (never a typo'd folder created for it).
        std::error_code ec;
        if (fs::is_directory(eo ? data : data / layout::folder(fcs::part::certificate), ec))
            message_log(data, false)
                .write(fcs::policy::level::error, std::string("replace refused: ") + e.what() +
                                                      "; the installed pair was not changed");
        return 1;
    }
}

/// Prints the pair `service` finds in its storage; `where` names that storage for messages.
template <class Service>
int status_with(Service& service, const args& a, const std::string& where) {
    // Read only: inspect() creates, repairs, replays and archives nothing.
    auto r = service.inspect();
    if (!r.status) {
        std::cerr << program << " status: " << where << ": no usable certificate\n";
        for (auto& f : r.findings)
            std::cerr << program << " status: " << (f.location.empty() ? "" : f.location + ": ")
                      << f.message << "\n";
        return 1;
    }
    if (a.flags.count("--json"))
        std::cout << fcs_example::certificate_json(*r.status) << "\n";
    else
        print_status_text(*r.status);
    for (auto& f : r.findings)
        if (f.level != fcs::finding::severity::info)
            std::cerr << program << " status: "
                      << (f.level == fcs::finding::severity::warning ? "warning: " : "error: ")
                      << (f.location.empty() ? "" : f.location + ": ") << f.message << "\n";
    return 0;
}

int status(const std::vector<std::string>& argv) {
    auto a = parse("status", argv,
                   {"--data-dir", "--cert-name", "--storage", "--kek-file", "--etcd-ca",
                    "--etcd-cert", "--etcd-key", "--etcd-user", "--etcd-password-file"},
                   {"--json"});
    if (a.help) {
        std::cout << status_help;
        return 0;
    }
    auto opts = service_options_from("status", a);
    try {
        // The null log: a status query writes nothing to the message log.
        if (auto eo = etcd_options_from("status", a)) {
            etcd_service_type<fcs::log::null_sink> service(
                opts, fcs::storage::etcd(*eo), fcs::acl::none{}, fcs::crypto::boringssl{},
                fcs::log::null_sink{});
            return status_with(service, a, a.values["--storage"]);
        }
        auto data = data_dir_of(a);
        std::error_code ec;
        if (!fs::is_directory(data / layout::folder(fcs::part::certificate), ec)) {
            std::cerr << program << " status: " << data.string() << ": no "
                      << layout::folder(fcs::part::certificate) << "/ folder; run `" << program
                      << " serve --data-dir " << data.string() << "` once first\n";
            return 1;
        }
        service_type<fcs::log::null_sink> service(opts, storage_type(data), fcs::acl::posix{},
                                                  fcs::crypto::boringssl{}, fcs::log::null_sink{});
        return status_with(service, a, data.string());
    } catch (const fcs::error& e) {
        std::cerr << program << " status: " << e.what() << "\n";
        return 1;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (auto failed = fcs::examples::harden_process()) {
        std::cerr << program << ": " << *failed << "\n";
        return 1;
    }
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
        std::cout << main_help << "\n" << serve_help;
        return 0;
    }
    std::string command = "serve";
    if (!args.empty() && !args.front().starts_with("-")) {
        command = args.front();
        args.erase(args.begin());
    }
    try {
        if (command == "serve")
            return serve(args);
        if (command == "replace")
            return replace(args);
        if (command == "status")
            return status(args);
        if (command == "help") {
            std::cout << main_help;
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << program << " " << command << ": " << e.what() << "\n";
        return 1;
    }
    std::cerr << program << ": unknown command '" << command << "'\n\n" << main_help;
    return 2;
}
