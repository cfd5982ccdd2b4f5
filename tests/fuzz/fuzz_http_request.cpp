// libFuzzer target: the HTTP request path of fcs-failover-server. Bytes go through Beast's
// parser with the server's own limits, then into the server's real handler
// (https_server::handle), as they would after the TLS layer. Any response must be well-formed
// and free of key material.
#include <utility> // before Boost (Boost 1.74 Asio, g++ 12, C++20)

#include "https_server.hpp"

#include <fcs/fcs.hpp>

#include <cstdlib>
#include <filesystem>

namespace {
using storage_t = fcs::storage::directory<fcs::storage::failover_layout>;
using service_t = fcs::FailoverCertService<storage_t, fcs::acl::posix, fcs::log::null_sink>;

struct fixture {
    std::filesystem::path dir;
    std::unique_ptr<service_t> service;
    std::unique_ptr<fcs_example::https_server<service_t>> server;
    std::string key_body;
    fixture() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "fcs-fuzz-http-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data());
        service = std::make_unique<service_t>(fcs::service_options{}, storage_t(dir), fcs::acl::posix{}, fcs::log::null_sink{});
        service->start();
        fcs_example::server_config cfg;
        cfg.port = 0; // binds an ephemeral loopback port; never accepts
        cfg.data_dir = dir;
        server = std::make_unique<fcs_example::https_server<service_t>>(*service, cfg);
        auto key = service->storage().read(FCS_DEFAULT_CERT_NAME, fcs::part::private_key);
        auto text = fcs::as_text(key->data);
        key_body = std::string(text.substr(text.find('\n') + 1, 32));
    }
    ~fixture() {
        server.reset();
        service.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

fixture& state() {
    static fixture f;
    return f;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace http = boost::beast::http;
    auto& f = state();
    const fcs_example::server_config limits;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (used < size && !ec && !parser.is_done()) {
        auto n = parser.put(boost::asio::buffer(data + used, size - used), ec);
        if (n == 0)
            break;
        used += n;
    }
    if (ec || !parser.is_done())
        return 0;
    auto req = parser.release();
    http::response<http::string_body> res;
    f.server->handle(req, res);
    res.prepare_payload();
    if (res.body().find("PRIVATE KEY") != std::string::npos || res.body().find(f.key_body) != std::string::npos)
        __builtin_trap(); // key material in a response
    if (res.result_int() < 200 || res.result_int() > 599)
        __builtin_trap();
    return 0;
}
