// fcs/detail/fs.hpp: the bounded file reader and its owner-only variant for secrets files.
#include "support/support.hpp"

#include <fcs/detail/fs.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {
using namespace fcs;
using namespace fcs::test;

bool refused(const std::function<void()>& f, errc code, std::string_view text) {
    try {
        f();
    } catch (const fcs::error& e) {
        return e.fcs_code() == code && std::string(e.what()).find(text) != std::string::npos;
    }
    return false;
}
} // namespace

BOOST_AUTO_TEST_SUITE(detail_fs_read)

BOOST_AUTO_TEST_CASE(reads_a_secrets_file_only_when_it_is_the_owners_alone) {
    temp_dir t;
    const auto f = t.path() / "kek";
    write_text(f, "secret\n", 0600);
    BOOST_TEST(as_text(detail::read_owner_only(f, "load key", 64)) == "secret\n");
    ::chmod(f.c_str(), 0400);
    BOOST_TEST(as_text(detail::read_owner_only(f, "load key", 64)) == "secret\n");
    ::chmod(f.c_str(), 0640);
    BOOST_TEST(refused([&] { detail::read_owner_only(f, "load key", 64); }, errc::unsafe_file,
                       "permissions 0640 are too open"));
    ::chmod(f.c_str(), 0600);
    const auto link = t.path() / "link";
    std::filesystem::create_symlink(f, link);
    BOOST_TEST(refused([&] { detail::read_owner_only(link, "load key", 64); }, errc::unsafe_file,
                       "symbolic link"));
    BOOST_TEST(refused([&] { detail::read_owner_only(t.path(), "load key", 64); },
                       errc::unsafe_file, "not a regular file"));
    BOOST_TEST(refused([&] { detail::read_owner_only(t.path() / "none", "load key", 64); },
                       errc::not_found, "load key"));
    // The bound: refused from its size, naming the file and the step.
    BOOST_TEST(refused([&] { detail::read_owner_only(f, "load key", 6); }, errc::too_large,
                       "7 bytes is over the limit of 6 bytes"));
    BOOST_TEST(refused([&] { detail::read_owner_only(f, "load key", 6); }, errc::too_large,
                       f.string() + ": load key"));
}

BOOST_AUTO_TEST_CASE(reads_an_operators_input_file_bounded_following_a_link_to_a_regular_file) {
    temp_dir t;
    const auto f = t.path() / "cert.pem";
    write_text(f, "-----BEGIN CERTIFICATE-----\n", 0644);
    BOOST_TEST(as_text(detail::read_file(f, 64)) == "-----BEGIN CERTIFICATE-----\n");
    const auto link = t.path() / "link.pem"; // the operator chose the path: followed
    std::filesystem::create_symlink(f, link);
    BOOST_TEST(as_text(detail::read_file(link, 64)) == "-----BEGIN CERTIFICATE-----\n");
    BOOST_TEST(
        refused([&] { detail::read_file(t.path(), 64); }, errc::unsafe_file, "not a regular file"));
    BOOST_TEST(refused([&] { detail::read_file(t.path() / "none", 64); }, errc::not_found,
                       (t.path() / "none").string()));
    BOOST_TEST(refused([&] { detail::read_file(f, 10); }, errc::too_large,
                       "28 bytes is over the limit of 10 bytes"));
}

BOOST_AUTO_TEST_CASE(reading_is_bounded_even_when_the_size_is_not_known_in_advance) {
    // A file that is larger than fstat said (it grew, or a pseudo-file with size 0): the
    // reader stops one byte past the bound instead of reading all of it.
    temp_dir t;
    const auto f = t.path() / "grows";
    write_text(f, std::string(100, 'x'), 0600);
    detail::unique_fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    BOOST_TEST_REQUIRE(static_cast<bool>(fd));
    struct stat st {};
    BOOST_TEST_REQUIRE(::fstat(fd.get(), &st) == 0);
    st.st_size = 10; // what fstat said before the file grew
    BOOST_TEST(refused([&] { detail::read_bounded(fd.get(), st, f.string(), "read", 50); },
                       errc::too_large, "it grew while read"));
    ::lseek(fd.get(), 0, SEEK_SET);
    BOOST_TEST(detail::read_bounded(fd.get(), st, f.string(), "read", 100).size() == 100u);
    ::lseek(fd.get(), 0, SEEK_SET);
    st.st_size = 0;
    BOOST_TEST(detail::read_bounded(fd.get(), st, f.string(), "read", 1000).size() == 100u);
}

BOOST_AUTO_TEST_SUITE_END()
