// libFuzzer target: the HTTP request path of fcs-failover-server. Bytes go through the
// server's request reader (fcs::http::request_reader, Beast's parser) with the server's own
// limits, in two pieces, then into the server's real handler (https_server::handle), as they
// would after the TLS layer; the answer is serialized as the connection sends it and parsed
// back. Any response must be well-formed
// and free of key material.
#include <utility> // before Boost (Boost 1.74 Asio, g++ 12, C++20)

#include "https_server.hpp"

#include <fcs/fcs.hpp>

#include <openssl/base64.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>

#include <cstdlib>
#include <filesystem>

namespace {
using storage_t = fcs::storage::directory<fcs::storage::failover_layout>;
using service_t = fcs::FailoverCertService<storage_t, fcs::acl::posix, fcs::log::null_sink>;

struct fixture {
    std::filesystem::path dir;
    std::unique_ptr<service_t> service;
    std::unique_ptr<fcs_example::https_server<service_t>> server;
    std::vector<std::string> secrets; ///< the private scalar as hex and as base64
    fixture() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "fcs-fuzz-http-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data());
        service = std::make_unique<service_t>(fcs::service_options{}, storage_t(dir),
                                              fcs::acl::posix{}, fcs::log::null_sink{});
        service->start();
        fcs_example::server_config cfg;
        cfg.port = 0; // binds an ephemeral loopback port; never accepts
        cfg.data_dir = dir;
        server = std::make_unique<fcs_example::https_server<service_t>>(*service, cfg);
        // The secret part of the key is its scalar (the PEM's first bytes are the same
        // algorithm identifiers for every P-256 key, so they prove nothing).
        const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(service->current()->key.get());
        std::uint8_t scalar[32];
        BN_bn2bin_padded(scalar, sizeof scalar, EC_KEY_get0_private_key(ec));
        static constexpr char hex[] = "0123456789abcdef";
        std::string h;
        for (auto b : scalar)
            h += {hex[b >> 4], hex[b & 15]};
        secrets.push_back(h);
        std::uint8_t b64[64];
        auto n = EVP_EncodeBlock(b64, scalar, 30); // 30 bytes: no padding, a clean run
        secrets.emplace_back(reinterpret_cast<char*>(b64), n);
        OPENSSL_cleanse(scalar, sizeof scalar);
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
    // The server's reader with the server's limits, fed as a connection feeds it: in pieces
    // (the value of the last byte picks where the whole input is cut, so the fuzzer explores
    // partial headers and bodies held between reads).
    fcs::http::request_reader reader({limits.max_header_bytes, limits.max_body_bytes});
    if (size == 0)
        return 0;
    const std::size_t cut = data[size - 1] % (size + 1);
    auto chars = reinterpret_cast<const char*>(data);
    auto r = reader.feed({chars, cut});
    if (r == fcs::http::request_reader::result::need_more)
        r = reader.feed({chars + cut, size - cut});
    if (r == fcs::http::request_reader::result::need_more) {
        if (reader.buffered() > limits.max_header_bytes + limits.max_body_bytes)
            __builtin_trap(); // the reader holds more than its bounds
        return 0;
    }
    if (r != fcs::http::request_reader::result::done)
        return 0;
    auto req = reader.take();
    fcs::http::response res;
    f.server->handle(req, res);
    res.prepare_payload();
    // What goes on the wire parses back as one whole answer with the same body.
    {
        auto wire = fcs::http::serialize(res);
        http::response_parser<http::string_body> back;
        back.eager(true);
        back.body_limit(wire.size());
        boost::beast::error_code pec;
        auto used = back.put(boost::asio::buffer(wire), pec);
        if (pec || !back.is_done() || used != wire.size() || back.get().body() != res.body())
            __builtin_trap();
    }
    // Only the 404 echoes the request (it names the path), and then it must hold exactly that
    // and nothing else. (An earlier oracle, "holds the secret and the request did not", was
    // fooled: libFuzzer learns the secret from the comparison itself, and the echo's escaping
    // supplied the one missing character: a "\ufffd" ends in "d".) Every other answer is
    // made without request data, so it must never hold the key at all.
    if (res.result() == http::status::not_found) {
        std::string_view target(req.target().data(), req.target().size());
        target = target.substr(0, target.find('?'));
        if (res.body() !=
            fcs_example::json_object().add("error", "not found").add("path", target).str() + "\n")
            __builtin_trap();
    } else {
        for (auto& secret : f.secrets)
            if (res.body().find(secret) != std::string::npos)
                __builtin_trap();
        if (res.body().find("PRIVATE KEY") != std::string::npos)
            __builtin_trap();
    }
    if (res.result_int() < 200 || res.result_int() > 599)
        __builtin_trap();
    return 0;
}
