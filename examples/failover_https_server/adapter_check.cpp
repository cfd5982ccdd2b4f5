// fcs-adapter-check: connects to an HTTPS endpoint the way the vendor's adapters do and says
// whether it would trust it.
//
//   fcs-adapter-check --url URL [--validate-endpoint-certificate true|false] [--ca FILE] [--pin
//   SHA256]

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <fcs/crypto/boringssl.hpp>
#include <fcs/tls/client.hpp>

#include "cli.hpp"
#include "process_hardening.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

constexpr const char* program = "fcs-adapter-check";

const char* const description =
    R"(fcs-adapter-check: connect to an HTTPS endpoint the way an adapter does.

Usage:
  fcs-adapter-check --url URL [--validate-endpoint-certificate true|false] [--ca FILE] [--pin SHA256]

With validation on (the default) the server's certificate must chain to --ca FILE (a CA or the
server's own certificate, PEM) or, without --ca, to the system store (/etc/ssl/certs), and must
name the host of the URL; otherwise the check fails with the reason and exit status 1. With
--validate-endpoint-certificate false it connects anyway and says that it did not verify.
--pin compares the SHA-256 fingerprint of the server's certificate (hex, colons optional) and
fails on a difference, whatever the validation setting. Then it sends GET for the URL's path
(default /health) and prints the answer. A wrong command line exits with status 2.)";

const char* const footer = R"(Examples:
  fcs-adapter-check --url https://failover.example:8443/health --ca failover.crt
  fcs-adapter-check --url https://127.0.0.1:8443 --validate-endpoint-certificate false \
      --pin 3F:1A:...:9C)";

[[noreturn]] void usage(const std::string& message) {
    std::cerr << program << ": " << message << "\n(see " << program << " --help)\n";
    std::exit(2);
}

[[noreturn]] void fail(const std::string& message) {
    std::cerr << program << ": FAILED: " << message << "\n";
    std::exit(1);
}

struct url_parts {
    std::string host; ///< without brackets
    std::string port = "443";
    std::string path = "/health";
};

url_parts parse_url(const std::string& url) {
    constexpr std::string_view scheme = "https://";
    if (!url.starts_with(scheme))
        usage("--url " + url + ": only https:// URLs are supported");
    std::string rest = url.substr(scheme.size());
    url_parts u;
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos)
        u.path = rest.substr(slash);
    if (authority.starts_with("[")) {
        auto close = authority.find(']');
        if (close == std::string::npos)
            usage("--url " + url + ": unterminated [IPv6 address]");
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':')
                usage("--url " + url + ": expected ':' after ]");
            u.port = authority.substr(close + 2);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.host.empty() || u.port.empty() || u.port.size() > 5 ||
        !std::all_of(u.port.begin(), u.port.end(), [](unsigned char c) { return std::isdigit(c); }))
        usage("--url " + url + ": expected https://HOST[:PORT][/PATH]");
    return u;
}

std::string normalize_fingerprint(std::string s) {
    std::string out;
    for (unsigned char c : s)
        if (std::isxdigit(c))
            out.push_back(static_cast<char>(std::toupper(c)));
        else if (c != ':' && !std::isspace(c))
            return {};
    return out;
}

/// Runs one async operation to completion under the stream's timeout.
template <class Start>
beast::error_code run_op(net::io_context& ioc, Start start) {
    beast::error_code result = net::error::would_block;
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

} // namespace

int main(int argc, char** argv) {
    if (auto failed = fcs::examples::harden_process()) {
        std::cerr << "fcs-adapter-check: " << *failed << "\n";
        return 1;
    }
    namespace cli = fcs::examples::cli;
    std::string url_text, ca_text, pin_text, validate_text = "true";
    unsigned long timeout_s = 10;
    CLI::App app(description, program);
    app.formatter(std::make_shared<cli::help_formatter>());
    app.footer(footer);
    app.allow_extras();
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cli::value(app, "--url", url_text, "URL", "https://HOST[:PORT][/PATH]");
    cli::value(app, "--validate-endpoint-certificate", validate_text, "BOOL",
               "true (default) or false")
        ->check(CLI::Validator(
            [](std::string& v) -> std::string {
                if (v != "true" && v != "false")
                    throw cli::usage_problem("--validate-endpoint-certificate " + v.substr(0, 64) +
                                             ": expected true or false");
                return {};
            },
            "", "true_or_false"));
    cli::value(app, "--ca", ca_text, "FILE", "trust anchors (PEM) instead of the system store");
    cli::value(app, "--pin", pin_text, "SHA256", "expected certificate fingerprint");
    cli::value(app, "--timeout", timeout_s, "SECONDS",
               "connect, handshake and request timeout (default 10)")
        ->check(cli::number_in("--timeout", 1, 600, "--timeout %v: expected 1 to 600 seconds"));
    std::vector<std::string> args(argv + 1, argv + argc);
    std::reverse(args.begin(), args.end()); // CLI11 takes the arguments last first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::ParseError& e) {
        usage(cli::message_of(e));
    }
    if (auto extra = app.remaining(); !extra.empty())
        usage("unknown option '" + extra.front() + "'");
    const bool validate = validate_text == "true";
    auto given = [&](const char* name, const std::string& v) {
        return app.count(name) > 0 ? std::optional(v) : std::nullopt;
    };
    auto url = given("--url", url_text), ca = given("--ca", ca_text),
         pin = given("--pin", pin_text);
    if (!url)
        usage("--url URL is required");
    auto u = parse_url(*url);
    std::string want_pin;
    if (pin) {
        want_pin = normalize_fingerprint(*pin);
        if (want_pin.size() != 64)
            usage("--pin " + *pin +
                  ": expected a SHA-256 fingerprint (64 hex digits, colons optional)");
    }

    // The one client-TLS set-up of fcs (fcs/tls/client.hpp): the trust store, the host check
    // and ValidateEndpointCertificate, as the vendor's adapters do it.
    std::optional<fcs::tls::client_context> tls;
    try {
        tls.emplace(fcs::tls::client_options{
            .ca_file = ca ? std::filesystem::path(*ca) : std::filesystem::path(),
            .validate_endpoint_certificate = validate,
            // Like a Java trust store: every certificate in --ca is an anchor, so a server's own
            // self-signed certificate (no keyCertSign, so not a "CA") can be trusted directly.
            .ca_certificates_are_anchors = true,
            .cert_file = {},
            .key_file = {},
            .purpose = {},
        });
    } catch (const fcs::error& e) {
        fail(std::string(ca ? "--ca " : "") + e.what());
    }
    const std::string& trusted_by = tls->trusted_by();

    net::io_context ioc;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, tls->asio());
    SSL* ssl_handle = stream.native_handle();
    try {
        tls->prepare(ssl_handle, u.host);
    } catch (const fcs::error& e) {
        fail(e.what());
    }

    auto timeout = std::chrono::seconds(timeout_s);
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(u.host, u.port, ec);
    if (ec)
        fail("cannot resolve " + u.host + ": " + ec.message());
    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_after(timeout);
    ec = run_op(ioc, [&](auto h) { tcp_layer.async_connect(endpoints, h); });
    if (ec)
        fail("cannot connect to " + u.host + ":" + u.port + ": " + ec.message());
    tcp_layer.expires_after(timeout);
    ec = run_op(ioc, [&](auto h) { stream.async_handshake(ssl::stream_base::client, h); });
    if (ec) {
        long vr = SSL_get_verify_result(ssl_handle);
        if (validate && vr != X509_V_OK)
            fail(std::string("the server's certificate is not trusted: ") +
                 X509_verify_cert_error_string(vr) + " (checked against " + trusted_by +
                 " for the name " + u.host +
                 "). Give the server's certificate or its CA with --ca FILE, or use "
                 "--validate-endpoint-certificate false to connect without verifying.");
        fail("TLS handshake with " + u.host + ":" + u.port + " failed: " + ec.message());
    }

    bssl::UniquePtr<X509> peer(SSL_get_peer_certificate(ssl_handle));
    if (!peer)
        fail("the server sent no certificate");
    fcs::crypto::boringssl crypto;
    fcs::crypto::boringssl::certificate cert(std::move(peer));
    auto info = crypto.describe(cert);
    std::cout << "connected to " << u.host << ":" << u.port << " (" << SSL_get_version(ssl_handle)
              << ", " << SSL_get_cipher_name(ssl_handle) << ")\n"
              << "certificate subject " << info.subject << "; issuer " << info.issuer << "\n"
              << "fingerprint SHA256 " << info.sha256_fingerprint << "\n";
    if (validate)
        std::cout << "verified: the certificate is trusted by " << trusted_by << " and names "
                  << u.host << "\n";
    else
        std::cout << "NOT VERIFIED: --validate-endpoint-certificate false; the server's "
                     "certificate was not "
                     "checked (anyone on the path could have answered)\n";
    if (pin) {
        if (normalize_fingerprint(info.sha256_fingerprint) != want_pin)
            fail("pin mismatch: expected " + *pin + ", the server presented SHA256 " +
                 info.sha256_fingerprint);
        std::cout << "pin: the certificate matches the pinned SHA-256 fingerprint\n";
    }

    http::request<http::empty_body> req(http::verb::get, u.path, 11);
    req.set(http::field::host, u.host);
    req.set(http::field::user_agent, program);
    req.set(http::field::connection, "close");
    tcp_layer.expires_after(timeout);
    ec = run_op(ioc, [&](auto h) { http::async_write(stream, req, h); });
    if (ec)
        fail("sending the request failed: " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 20);
    tcp_layer.expires_after(timeout);
    ec = run_op(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); });
    if (ec)
        fail("reading the answer failed: " + ec.message());
    auto& res = parser.get();
    std::cout << "HTTP " << res.result_int() << " " << res.reason() << "\n";
    auto body = res.body();
    if (body.size() > 4096)
        body = body.substr(0, 4096) + "...";
    std::cout << body;
    if (!body.empty() && body.back() != '\n')
        std::cout << "\n";
    tcp_layer.expires_after(std::chrono::seconds(2));
    run_op(ioc, [&](auto h) { stream.async_shutdown(h); });
    return 0;
}
