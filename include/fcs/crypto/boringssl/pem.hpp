#ifndef FCS_CRYPTO_BORINGSSL_PEM_HPP
#define FCS_CRYPTO_BORINGSSL_PEM_HPP

// A tolerant PEM block scanner: skips a UTF-8 byte order mark, "Bag Attributes" text and any
// other text between blocks, accepts CRLF line ends, keeps RFC 1421 headers (Proc-Type,
// DEK-Info) for legacy encrypted keys. Decoded bytes go into secret_bytes (they may be keys).

#include <fcs/detail/formats.hpp>
#include <fcs/detail/secret.hpp>

#include <openssl/base64.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcs::detail {

struct pem_block {
    std::string label;   ///< "CERTIFICATE", "PRIVATE KEY", ...
    std::string headers; ///< "Proc-Type: 4,ENCRYPTED\nDEK-Info: ...\n" or empty
    secret_bytes der;
};

/// Scans every well-formed block. Returns nullopt when a block starts but is malformed
/// (truncated, bad base64): the caller reports a parse error for the whole input.
inline std::optional<std::vector<pem_block>> pem_blocks(std::span<const std::uint8_t> in) {
    std::string_view s(reinterpret_cast<const char*>(in.data()), in.size());
    std::vector<pem_block> out;
    std::size_t pos = 0;
    constexpr std::string_view begin = "-----BEGIN ", end = "-----END ", dashes = "-----";
    while ((pos = s.find(begin, pos)) != std::string_view::npos) {
        auto label_start = pos + begin.size();
        auto label_end = s.find(dashes, label_start);
        if (label_end == std::string_view::npos)
            return std::nullopt;
        pem_block block;
        block.label = std::string(s.substr(label_start, label_end - label_start));
        if (block.label.find('\n') != std::string::npos)
            return std::nullopt;
        auto body_start = label_end + dashes.size();
        std::string end_line = std::string(end) + block.label + std::string(dashes);
        auto body_end = s.find(end_line, body_start);
        if (body_end == std::string_view::npos)
            return std::nullopt; // truncated
        // Body lines: headers ("Key: value") first, then base64.
        secret_bytes b64;
        std::string_view body = s.substr(body_start, body_end - body_start);
        std::size_t lp = 0;
        bool in_headers = true;
        while (lp <= body.size()) {
            auto nl = body.find('\n', lp);
            auto line = body.substr(lp, nl == std::string_view::npos ? body.size() - lp : nl - lp);
            while (!line.empty() &&
                   (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
                line.remove_suffix(1);
            while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
                line.remove_prefix(1);
            if (in_headers && line.find(':') != std::string_view::npos) {
                block.headers.append(line).push_back('\n');
            } else if (!line.empty()) {
                in_headers = false;
                b64.insert(b64.end(), line.begin(), line.end());
            }
            if (nl == std::string_view::npos)
                break;
            lp = nl + 1;
        }
        std::size_t max_len = 0;
        if (!EVP_DecodedLength(&max_len, b64.size()))
            return std::nullopt;
        block.der.resize(max_len);
        std::size_t len = 0;
        if (!EVP_DecodeBase64(block.der.data(), &len, max_len, b64.data(), b64.size()))
            return std::nullopt;
        block.der.resize(len);
        out.push_back(std::move(block));
        pos = body_end + end_line.size();
    }
    return out;
}

/// PEM-encodes DER bytes (64-column lines) into secret memory.
inline secret_bytes pem_encode(std::string_view label, std::span<const std::uint8_t> der) {
    std::size_t b64_len = 0;
    EVP_EncodedLength(&b64_len, der.size());
    secret_bytes b64(b64_len);
    auto n = EVP_EncodeBlock(b64.data(), der.data(), der.size());
    secret_bytes out;
    out.reserve(n + n / 64 + 2 * label.size() + 40);
    auto put = [&](std::string_view t) { out.insert(out.end(), t.begin(), t.end()); };
    put("-----BEGIN ");
    put(label);
    put("-----\n");
    for (std::size_t i = 0; i < n; i += 64) {
        out.insert(out.end(), b64.begin() + i, b64.begin() + std::min<std::size_t>(n, i + 64));
        out.push_back('\n');
    }
    put("-----END ");
    put(label);
    put("-----\n");
    return out;
}

} // namespace fcs::detail

#endif // FCS_CRYPTO_BORINGSSL_PEM_HPP
