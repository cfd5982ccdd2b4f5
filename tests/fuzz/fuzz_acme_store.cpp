// libFuzzer target: what the ACME renewal reads back from a storage another node (or another
// account) may have written (fcs/acme/): the group's shared challenge answers
// (challenge_responder::mirror), the renewal claim (acme_detail::claim) and base64url text (the
// EAB key file). The first byte picks the reader. Nothing may crash or throw; what is accepted
// must come back the same through its writer.
#include <fcs/acme/challenges.hpp>
#include <fcs/acme/renewer.hpp>

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 3) {
    case 0: {
        auto r = fcs::acme::challenge_responder::make();
        r->mirror(text); // never throws: a line that is not valid is ignored
        // Only what is valid is answered: a mirrored http-01 answer is a key authorization.
        for (std::size_t at = 0; at < text.size();) {
            auto nl = text.find('\n', at);
            auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
            at = nl == std::string_view::npos ? text.size() : nl + 1;
            if (line.starts_with("http-01 ")) {
                auto rest = line.substr(8);
                auto sp = rest.find(' ');
                if (auto a = r->http_answer(rest.substr(0, sp)))
                    if (!fcs::acme::challenge_responder::is_key_authorization(*a))
                        std::abort();
            }
        }
        if (!r->shared_text().empty()) // mirrored answers are never shared onwards
            std::abort();
        r->mirror({});
        break;
    }
    case 1: {
        auto c = fcs::acme::acme_detail::claim::parse(text);
        auto again = fcs::acme::acme_detail::claim::parse(c.text());
        if (!c.node.empty() && (again.node != c.node || again.until != c.until))
            std::abort();
        break;
    }
    case 2: {
        fcs::secret_bytes decoded;
        if (fcs::acme::base64url_decode(text, decoded)) {
            fcs::secret_bytes back;
            if (!fcs::acme::base64url_decode(fcs::acme::base64url(decoded), back) || back != decoded)
                std::abort();
        }
        break;
    }
    }
    return 0;
}
