#ifndef FCS_HTTP_REQUEST_READER_HPP
#define FCS_HTTP_REQUEST_READER_HPP

// HTTP/1.1 requests from a byte stream, bounded, for servers that read their own socket
// (fcs::tls::https_server): bytes go in as they arrive, whole requests come out. Boost.Beast's
// parser does the parsing; this adds the limits, the keeping of a partial header between reads
// (Beast needs the whole header in one buffer) and of pipelined bytes after a request, and
// gives every buffer back when no request is under way, so an idle connection holds none.

#include <utility> // before Boost: Boost 1.74 Asio needs it with g++ 12 in C++20

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace fcs::http {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

/// Bounds on one request.
struct request_limits {
    std::size_t max_header_bytes = 8 * 1024; ///< request line and header fields
    std::size_t max_body_bytes = 4 * 1024;
};

/**
 * Parses requests from bytes fed in any pieces.
 *
 * Example:
 * @code
 *   fcs::http::request_reader reader(limits);
 *   auto r = reader.next();                      // pipelined bytes first
 *   while (r == request_reader::result::need_more)
 *       r = reader.feed(bytes_from_the_socket());
 *   if (r == request_reader::result::done) serve(reader.take());
 * @endcode
 */
class request_reader {
public:
    enum class result {
        need_more, ///< no complete request yet: feed more bytes
        done,      ///< a request is complete: take() it
        too_large, ///< over a limit: answer 413 and close
        malformed  ///< not HTTP/1.x: answer 400 and close
    };

    explicit request_reader(request_limits limits = {}) noexcept
        : limits_(limits) {}

    /// Adds bytes read from the peer and parses what it can.
    result feed(std::span<const char> bytes) {
        if (bytes.size() > limits_.max_header_bytes + limits_.max_body_bytes + max_record)
            return result::too_large; // more than any one read of a connection can bring
        pending_.append(bytes.data(), bytes.size());
        return next();
    }

    /// Parses the bytes already held (after take(): the pipelined next request).
    result next() {
        if (pending_.empty())
            return result::need_more;
        if (!parser_) {
            parser_ = std::make_unique<parser_type>();
            parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
            parser_->body_limit(limits_.max_body_bytes);
            parser_->eager(true);
        }
        std::size_t used = 0;
        boost::beast::error_code ec;
        while (used < pending_.size() && !parser_->is_done()) {
            auto n =
                parser_->put(boost::asio::buffer(pending_.data() + used, pending_.size() - used), ec);
            used += n;
            if (ec == boost::beast::http::error::need_more) {
                ec = {};
                break;
            }
            if (ec || n == 0)
                break;
        }
        pending_.erase(0, used);
        using boost::beast::http::error;
        if (ec == error::header_limit || ec == error::body_limit || ec == error::buffer_overflow)
            return result::too_large;
        if (ec)
            return result::malformed;
        if (parser_->is_done())
            return result::done;
        // A header still incomplete is held whole (Beast parses it in one piece); the body is
        // consumed as it comes. Either way the bytes held stay under the limits.
        if (pending_.size() > limits_.max_header_bytes + limits_.max_body_bytes)
            return result::too_large;
        return result::need_more;
    }

    /// The complete request (after result::done); the reader is ready for the next one.
    request take() {
        auto req = parser_->release();
        parser_.reset();
        release();
        return req;
    }

    /// True when no request is under way and no byte is held.
    bool idle() const noexcept { return !parser_ && pending_.empty(); }

    /// Bytes held that no parsed request used yet.
    std::size_t buffered() const noexcept { return pending_.size(); }

    /// Gives the buffers back when nothing is held (an idle connection keeps no heap).
    void release() noexcept {
        if (pending_.empty())
            std::string().swap(pending_);
    }

    /// The most one read from a TLS connection brings: one record's plaintext.
    static constexpr std::size_t max_record = 16 * 1024;

private:
    using parser_type = boost::beast::http::request_parser<boost::beast::http::string_body>;
    request_limits limits_;
    std::unique_ptr<parser_type> parser_;
    std::string pending_;
};

/**
 * The bytes of `res` on the wire: status line, fields, blank line, body. Call
 * res.prepare_payload() first (Content-Length).
 */
inline std::string serialize(const response& res) {
    std::string out;
    out.reserve(256 + res.body().size());
    out += "HTTP/1.1 ";
    out += std::to_string(res.result_int());
    out += ' ';
    auto reason = res.reason();
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& f : res) {
        auto name = f.name_string();
        auto value = f.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
    return out;
}

} // namespace fcs::http

#endif // FCS_HTTP_REQUEST_READER_HPP
