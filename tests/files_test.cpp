// fcs/files.hpp: the checked readers programs built on fcs use for the files an operator names
// (the rules underneath are tested in detail/fs_read_test.cpp).
#include "support/support.hpp"

#include <fcs/files.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>

#include <sys/stat.h>

namespace {
using namespace fcs;
using namespace fcs::test;

std::string refusal(const std::function<void()>& f, errc code) {
    try {
        f();
    } catch (const fcs::error& e) {
        return e.fcs_code() == code ? std::string(e.what())
                                    : "other code: " + std::string(e.what());
    }
    return "not refused";
}
} // namespace

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(an_input_file_is_read_through_a_link_the_operator_chose_and_bounded) {
    temp_dir t;
    write_text(t.path() / "new.crt", "certificate bytes", 0644);
    std::filesystem::create_symlink(t.path() / "new.crt", t.path() / "chosen.crt");
    BOOST_TEST(as_text(read_input_file(t.path() / "chosen.crt", 64)) == "certificate bytes");
    auto big = refusal([&] { read_input_file(t.path() / "new.crt", 8); }, errc::too_large);
    BOOST_TEST(big.find("new.crt") != std::string::npos, big);
    auto dir = refusal([&] { read_input_file(t.path(), 64); }, errc::unsafe_file);
    BOOST_TEST(dir.find(t.path().string()) != std::string::npos, dir);
    auto missing = refusal([&] { read_input_file(t.path() / "none.crt", 64); }, errc::not_found);
    BOOST_TEST(missing.find("none.crt") != std::string::npos, missing);
}

BOOST_AUTO_TEST_CASE(a_secrets_file_is_read_only_when_it_is_the_owners_alone_and_not_a_link) {
    temp_dir t;
    const auto pw = t.path() / "password";
    write_text(pw, "s3cret\n", 0600);
    BOOST_TEST(as_text(read_secret_file(pw, "read the import password", 64)) == "s3cret\n");
    ::chmod(pw.c_str(), 0644);
    auto open =
        refusal([&] { read_secret_file(pw, "read the import password", 64); }, errc::unsafe_file);
    BOOST_TEST(open.find("read the import password") != std::string::npos, open);
    BOOST_TEST(open.find("0644") != std::string::npos, open);
    ::chmod(pw.c_str(), 0600);
    std::filesystem::create_symlink(pw, t.path() / "link");
    auto link =
        refusal([&] { read_secret_file(t.path() / "link", "read", 64); }, errc::unsafe_file);
    BOOST_TEST(link != "not refused", link);
    BOOST_TEST(link.find("other code") == std::string::npos, link);
}

BOOST_AUTO_TEST_SUITE_END()
