// fcs/http/request_reader.hpp: requests from bytes in any pieces, bounded, pipelined; and the
// answer's bytes on the wire. Included first: the header is self-contained.
#include <fcs/http/request_reader.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace {
using fcs::http::request_reader;
using result = request_reader::result;

std::span<const char> bytes(std::string_view s) { return {s.data(), s.size()}; }
} // namespace

BOOST_AUTO_TEST_SUITE(http_request_reader)

BOOST_AUTO_TEST_CASE(a_request_in_any_pieces_comes_out_whole) {
    const std::string wire = "POST /x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{7}, wire.size()}) {
        request_reader r;
        result last = result::need_more;
        for (std::size_t i = 0; i < wire.size(); i += step) {
            BOOST_TEST((last == result::need_more), "step " << step << " at " << i);
            last = r.feed(bytes(std::string_view(wire).substr(i, step)));
        }
        BOOST_TEST((last == result::done), "step " << step);
        auto req = r.take();
        BOOST_TEST(std::string(req.target()) == "/x?y=1");
        BOOST_TEST(req.body() == "hello");
        BOOST_TEST(r.idle());
    }
}

BOOST_AUTO_TEST_CASE(pipelined_requests_come_out_one_by_one) {
    request_reader r;
    BOOST_TEST((r.feed(bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHo")) ==
                result::done));
    BOOST_TEST(std::string(r.take().target()) == "/a");
    BOOST_TEST(!r.idle()); // the start of the second is held
    BOOST_TEST((r.next() == result::need_more));
    BOOST_TEST((r.feed(bytes("st: a\r\n\r\n")) == result::done));
    BOOST_TEST(std::string(r.take().target()) == "/b");
    BOOST_TEST(r.idle());
    BOOST_TEST((r.next() == result::need_more));
}

BOOST_AUTO_TEST_CASE(limits_are_enforced_and_held_bytes_stay_bounded) {
    fcs::http::request_limits lim{64, 16};
    {
        request_reader r(lim); // a header that never ends
        result last = result::need_more;
        std::size_t fed = 0;
        while (last == result::need_more && fed < 10'000) {
            last = r.feed(bytes("GET /aaaaaaaaaaaaaaaa"));
            fed += 21;
            // Never more held than the limits while more is asked for.
            BOOST_TEST((last != result::need_more ||
                        r.buffered() <= lim.max_header_bytes + lim.max_body_bytes));
        }
        BOOST_TEST((last == result::too_large));
        BOOST_TEST(fed < 200);
    }
    {
        request_reader r(lim); // a body over its limit
        BOOST_TEST((r.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n")) ==
                    result::too_large));
    }
    {
        request_reader r(lim); // one read larger than any connection brings
        std::string big(request_reader::max_record + lim.max_header_bytes + lim.max_body_bytes + 1,
                        'a');
        BOOST_TEST((r.feed(bytes(big)) == result::too_large));
    }
}

BOOST_AUTO_TEST_CASE(what_is_not_http_is_malformed) {
    for (std::string_view bad : {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 binary\r\n\r\n",
                                 "GET / HTTP/9.9\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                                 "GET / HTTP/1.1\r\nBad Header\r\n\r\n"}) {
        request_reader r;
        BOOST_TEST((r.feed(bytes(bad)) == result::malformed), bad);
    }
}

BOOST_AUTO_TEST_CASE(serialize_writes_what_a_client_parses_back) {
    fcs::http::response res;
    res.result(boost::beast::http::status::not_found);
    res.set(boost::beast::http::field::content_type, "application/json");
    res.set("X-Test", "1");
    res.body() = "{\"error\":\"not found\"}\n";
    res.keep_alive(false);
    res.prepare_payload();
    auto wire = fcs::http::serialize(res);
    BOOST_TEST(wire.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    boost::beast::http::response_parser<boost::beast::http::string_body> p;
    p.eager(true);
    boost::beast::error_code ec;
    auto used = p.put(boost::asio::buffer(wire), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(used == wire.size());
    BOOST_TEST(p.is_done());
    BOOST_TEST(p.get().body() == res.body());
    BOOST_TEST(!p.get().keep_alive());
    BOOST_TEST(std::string(p.get()["X-Test"]) == "1");
}

BOOST_AUTO_TEST_SUITE_END()
