// fcs-failover-server for Windows (issue 13), the console form: the certificate service on the
// Windows storage and ACL (storage::windows_directory, acl::windows), served over HTTPS by the
// lean layer (tls/https_server.hpp) with live reload on the folder watch (ReadDirectoryChangesW,
// through fcs::reloader). Ctrl-C (or Ctrl-Break, or closing the console) stops it cleanly.
// Wiring only, as the POSIX program: every rule lives in include/fcs.
//
//   fcs-failover-server.exe [--data-dir DIR] [--bind ADDR] [--port N] [--name NAME]
//                           [--service-account NAME] [--vendor V --product P]
// DIR defaults to %PROGRAMDATA%\<V>\<P> (fcs\FailoverServer). It prints the URL once serving.
// GET /health answers {"status":"ok"|"warning"|"error", "state", "days_remaining",
// "sha256_fingerprint"}; anything else 404.
#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/acl/windows.hpp>
#include <fcs/crypto/boringssl.hpp>
#include <fcs/failover_cert_service.hpp>
#include <fcs/log/sinks.hpp>
#include <fcs/reloader.hpp>
#include <fcs/storage/windows_directory.hpp>
#include <fcs/tls/https_server.hpp>
#include <fcs/tls/server_context.hpp>

#include "process_hardening.hpp"

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

namespace {

using storage = fcs::storage::windows_directory<fcs::storage::failover_layout>;
using service = fcs::FailoverCertService<storage, fcs::acl::windows, fcs::crypto::boringssl,
                                         fcs::log::stderr_sink>;

struct config {
    std::optional<std::filesystem::path> data_dir;
    std::string vendor = "fcs", product = "FailoverServer";
    std::string bind = "127.0.0.1";
    unsigned short port = 8443;
    std::string name = FCS_DEFAULT_CERT_NAME;
    std::string service_account;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "fcs-failover-server: %s\nusage: fcs-failover-server [--data-dir DIR] "
                 "[--bind ADDR] [--port N] [--name NAME] [--service-account NAME] "
                 "[--vendor V --product P]\n",
                 why.c_str());
    std::exit(2);
}

/// The command line, bounded: every value at most 1024 bytes, the port 1 to 65535.
config parse(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (i + 1 >= argc)
            usage(std::string(opt) + " needs a value");
        const std::string value = argv[++i];
        if (value.empty() || value.size() > 1024)
            usage(std::string(opt) + ": a value of 1 to 1024 bytes");
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
    }
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

} // namespace

int main(int argc, char** argv) {
    if (auto failed = fcs::examples::harden_process()) {
        std::fprintf(stderr, "fcs-failover-server: %s\n", failed->c_str());
        return 1;
    }
    try {
        const config c = parse(argc, argv);
        fcs::service_options opts;
        opts.name = c.name;
        service svc(opts,
                    storage(c.data_dir ? *c.data_dir
                                       : fcs::storage::program_data_folder(c.vendor, c.product)),
                    fcs::acl::windows({.service_name = c.service_account,
                                       .service_writes = !c.service_account.empty()}),
                    fcs::crypto::boringssl{}, fcs::log::stderr_sink{});
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
        // Asio turns the console's Ctrl-C / Ctrl-Break / close into these signals.
        boost::asio::signal_set signals(server.control_executor(), SIGINT, SIGTERM);
#ifdef SIGBREAK
        signals.add(SIGBREAK);
#endif
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec)
                return;
            svc.log().write(fcs::policy::level::info,
                            "stopping (signal " + std::to_string(sig) + ")");
            server.stop();
        });
        std::printf("%s\n", server.url().c_str());
        std::fflush(stdout);
        server.run();
        reloads.stop();
        svc.log().write(fcs::policy::level::info, "stopped");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fcs-failover-server: %s\n", e.what());
        return 1;
    }
}
