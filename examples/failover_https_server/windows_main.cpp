// fcs-failover-server for Windows (issue 13): the certificate service on the Windows storage
// and ACL (storage::windows_directory, acl::windows), served over HTTPS by the lean layer
// (tls/https_server.hpp) with live reload on the folder watch (ReadDirectoryChangesW, through
// fcs::reloader). From a console, Ctrl-C (or Ctrl-Break, or closing the console) stops it
// cleanly; installed as a Windows service (fcs/winsvc/service.hpp) it runs on its virtual
// account NT SERVICE\<name>, logs to DATA\Logs\messages.log, and the SCM stops it.
// Wiring only, as the POSIX program: every rule lives in include/fcs.
//
//   fcs-failover-server.exe [OPTIONS]                      serve from this console
//   fcs-failover-server.exe install --service-name NAME [--manual] [OPTIONS]
//   fcs-failover-server.exe uninstall --service-name NAME
//   fcs-failover-server.exe service --service-name NAME [OPTIONS]   (what the SCM starts)
// OPTIONS: [--data-dir DIR] [--bind ADDR] [--port N] [--name NAME] [--vendor V --product P]
//          [--service-account NAME] (console only: the service that will read the files)
// DIR defaults to %PROGRAMDATA%\<V>\<P> (fcs\FailoverServer). It prints the URL once serving
// (and logs "serving URL"). GET /health answers {"status":"ok"|"warning"|"error", "state",
// "days_remaining", "sha256_fingerprint"}; anything else 404.
#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/acl/windows.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/one_of.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/reloader.hpp>
#include <fcs/storage/windows_directory.hpp>
#include <fcs/tls/https_server.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/winsvc/service.hpp>

#include "process_hardening.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using storage = fcs::storage::windows_directory<fcs::storage::failover_layout>;
/// stderr from a console; the message log file DATA\Logs\messages.log as a service.
using sink = fcs::log::one_of<fcs::log::stderr_sink, fcs::log::file>;
using service = fcs::FailoverCertService<storage, fcs::acl::windows, fcs::crypto::boringssl, sink>;

struct config {
    std::string command; ///< "" (serve from the console), install, uninstall, service
    std::optional<std::filesystem::path> data_dir;
    std::string vendor = "fcs", product = "FailoverServer";
    std::string bind = "127.0.0.1";
    unsigned short port = 8443;
    std::string name = FCS_DEFAULT_CERT_NAME;
    std::string service_account;
    std::string service_name; ///< install, uninstall, service
    bool manual_start = false; ///< install: on demand instead of at boot
    /// The serving options as given (install passes them on to the service's command line).
    std::vector<std::pair<std::string, std::string>> serve_options;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "fcs-failover-server: %s\nusage: fcs-failover-server [OPTIONS]\n"
                 "       fcs-failover-server install --service-name NAME [--manual] [OPTIONS]\n"
                 "       fcs-failover-server uninstall --service-name NAME\n"
                 "OPTIONS: [--data-dir DIR] [--bind ADDR] [--port N] [--name NAME] "
                 "[--vendor V --product P] [--service-account NAME]\n",
                 why.c_str());
    std::exit(2);
}

/// The command line, bounded: every value at most 1024 bytes, the port 1 to 65535.
config parse(int argc, char** argv) {
    config c;
    int i = 1;
    if (i < argc && (std::string_view(argv[i]) == "install" ||
                     std::string_view(argv[i]) == "uninstall" ||
                     std::string_view(argv[i]) == "service"))
        c.command = argv[i++];
    for (; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "--manual") {
            if (c.command != "install")
                usage("--manual goes with install");
            c.manual_start = true;
            continue;
        }
        if (i + 1 >= argc)
            usage(std::string(opt) + " needs a value");
        const std::string value = argv[++i];
        if (value.empty() || value.size() > 1024)
            usage(std::string(opt) + ": a value of 1 to 1024 bytes");
        if (opt == "--service-name") {
            if (auto bad = fcs::winsvc::check_name(value); !bad.empty())
                usage("--service-name " + value + ": " + bad);
            c.service_name = value;
            continue;
        }
        if (opt == "--data-dir")
            c.data_dir = std::filesystem::path(fcs::detail::widen(value));
        else if (opt == "--bind")
            c.bind = value;
        else if (opt == "--port") {
            char* end = nullptr;
            const long p = std::strtol(value.c_str(), &end, 10);
            if (*end || p < 1 || p > 65535)
                usage("--port: a number from 1 to 65535");
            c.port = static_cast<unsigned short>(p);
        } else if (opt == "--name")
            c.name = value;
        else if (opt == "--service-account")
            c.service_account = value;
        else if (opt == "--vendor")
            c.vendor = value;
        else if (opt == "--product")
            c.product = value;
        else
            usage("unknown option " + std::string(opt));
        c.serve_options.emplace_back(opt, value);
    }
    if (!c.command.empty() && c.service_name.empty())
        usage(c.command + " needs --service-name NAME");
    if (c.command.empty() && !c.service_name.empty())
        usage("--service-name goes with install, uninstall or service");
    if (c.command == "uninstall" && !c.serve_options.empty())
        usage("uninstall takes only --service-name");
    if ((c.command == "install" || c.command == "service") && !c.service_account.empty())
        usage("a service runs on its own account NT SERVICE\\" + c.service_name +
              "; --service-account is for the console");
    if (c.command == "service")
        c.service_account = "NT SERVICE\\" + c.service_name;
    return c;
}

void handle(const service& svc, const fcs::http::request& req, fcs::http::response& res) {
    namespace http = boost::beast::http;
    res.version(11);
    res.set(http::field::server, "fcs-failover-server");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_type, "application/json");
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (target != "/health") {
        res.result(http::status::not_found);
        res.body() = "{\"error\":\"not found\"}\n";
        return;
    }
    if (req.method() != http::verb::get) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET");
        res.body() = "{\"error\":\"method not allowed\"}\n";
        return;
    }
    const auto s = svc.status();
    const char* status = s.state == fcs::cert_state::valid      ? "ok"
                         : s.state == fcs::cert_state::expiring ? "warning"
                                                                : "error";
    res.result(http::status::ok);
    res.body() = std::string("{\"status\":\"") + status + "\",\"state\":\"" +
                 fcs::to_string(s.state) +
                 "\",\"days_remaining\":" + std::to_string(s.days_remaining) +
                 ",\"sha256_fingerprint\":\"" + s.info.sha256_fingerprint + "\"}\n";
}

/// Serves until stopped: by Ctrl-C from a console, by the SCM when `scm` is given.
int serve(const config& c, fcs::winsvc::control* scm) {
    const std::filesystem::path data =
        c.data_dir ? *c.data_dir : fcs::storage::program_data_folder(c.vendor, c.product);
    fcs::acl::windows acl(
        {.service_name = c.service_account, .service_writes = !c.service_account.empty()});
    // As a service nobody sees stderr: the message log, readable by Users like the certificate.
    std::optional<fcs::log::file> log_file;
    if (scm)
        log_file.emplace(data / "Logs" / "messages.log", false,
                         acl.descriptor(fcs::item_class::public_item, true),
                         acl.descriptor(fcs::item_class::public_item, false));
    try {
        fcs::service_options opts;
        opts.name = c.name;
        service svc(opts, storage(data), acl, fcs::crypto::boringssl{},
                    log_file ? sink(*log_file) : sink(fcs::log::stderr_sink{}));
        svc.start();
        fcs::tls::server_context tls;
        tls.follow(svc);
        if (!tls.current())
            throw std::runtime_error("the certificate in use could not be prepared for TLS: " +
                                     tls.last_error());
        fcs::tls::https_options o;
        o.bind = c.bind;
        o.port = c.port;
        o.log = [&svc](fcs::policy::level l, std::string m) { svc.log().write(l, m); };
        fcs::tls::https_server server(tls.native_handle(), o,
                                      [&svc](const fcs::http::request& req,
                                             fcs::http::response& res) { handle(svc, req, res); });
        fcs::reloader_options ro;
        ro.change_reason = "a change in Certificates\\";
        ro.storage_name = "the data folder";
        fcs::reloader<service> reloads(svc, &tls, ro);
        reloads.start(); // the folder watch is in place before the URL is printed
        tls.use_ticket_keys(reloads.ticket_keys());
        // Asio turns the console's Ctrl-C / Ctrl-Break / close into these signals; the SCM's
        // stop comes on its dispatcher thread and is posted to the server's control executor.
        boost::asio::signal_set signals(server.control_executor());
        auto stop = [&](const std::string& why) {
            svc.log().write(fcs::policy::level::info, "stopping (" + why + ")");
            server.stop();
        };
        // The SCM's stop handler refers to this frame: cleared before it ends (waits for a call
        // in progress).
        struct forget_stop {
            fcs::winsvc::control* scm;
            ~forget_stop() {
                if (scm)
                    scm->on_stop({});
            }
        } forget{scm};
        if (scm) {
            scm->on_stop([&] {
                boost::asio::post(server.control_executor(), [&] { stop("service stop"); });
            });
        } else {
            signals.add(SIGINT);
            signals.add(SIGTERM);
#ifdef SIGBREAK
            signals.add(SIGBREAK);
#endif
            signals.async_wait([&](boost::system::error_code ec, int sig) {
                if (!ec)
                    stop("signal " + std::to_string(sig));
            });
        }
        svc.log().write(fcs::policy::level::info, "serving " + server.url());
        if (scm) {
            scm->running();
        } else {
            std::printf("%s\n", server.url().c_str());
            std::fflush(stdout);
        }
        server.run();
        reloads.stop();
        svc.log().write(fcs::policy::level::info, "stopped");
        return 0;
    } catch (const std::exception& e) {
        if (log_file)
            log_file->write(fcs::policy::level::error, std::string("not serving: ") + e.what());
        std::fprintf(stderr, "fcs-failover-server: %s\n", e.what());
        return 1;
    }
}

/// install: the service's command line is this program with `service`, its name and the
/// serving options given here (a relative --data-dir made absolute).
int install(const config& c) {
    std::wstring program(32768, L'\0');
    const DWORD n = ::GetModuleFileNameW(nullptr, program.data(), static_cast<DWORD>(program.size()));
    if (n == 0 || n >= program.size())
        throw std::runtime_error("cannot find this program's path (GetModuleFileNameW)");
    program.resize(n);
    fcs::winsvc::install_options o;
    o.name = c.service_name;
    o.display_name = "fcs failover HTTPS server (" + c.service_name + ")";
    o.description = "Serves the failover certificate over HTTPS (fcs-failover-server).";
    o.program = program;
    o.auto_start = !c.manual_start;
    o.arguments = {L"service", L"--service-name", fcs::detail::widen(c.service_name)};
    for (const auto& [opt, value] : c.serve_options) {
        o.arguments.push_back(fcs::detail::widen(opt));
        o.arguments.push_back(opt == "--data-dir"
                                  ? std::filesystem::absolute(*c.data_dir).native()
                                  : fcs::detail::widen(value));
    }
    fcs::winsvc::install(o);
    std::printf("installed service %s: runs as NT SERVICE\\%s, starts %s\n"
                "start it with: sc start %s\n",
                c.service_name.c_str(), c.service_name.c_str(),
                c.manual_start ? "on demand" : "at boot", c.service_name.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (auto failed = fcs::examples::harden_process()) {
        std::fprintf(stderr, "fcs-failover-server: %s\n", failed->c_str());
        return 1;
    }
    const config c = parse(argc, argv);
    try {
        if (c.command == "install")
            return install(c);
        if (c.command == "uninstall") {
            fcs::winsvc::uninstall(c.service_name);
            std::printf("uninstalled service %s\n", c.service_name.c_str());
            return 0;
        }
        if (c.command == "service")
            return fcs::winsvc::run(c.service_name,
                                    [&](fcs::winsvc::control& scm) { return serve(c, &scm); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fcs-failover-server %s: %s\n", c.command.c_str(), e.what());
        return 1;
    }
    return serve(c, nullptr);
}
