#ifndef FCS_FILES_HPP
#define FCS_FILES_HPP

// Reading the files an operator names, bounded and checked, for programs built on fcs (the
// examples use these; the storages use the same reader underneath, detail/fs.hpp).

#include <fcs/detail/fs.hpp>
#include <fcs/detail/secret.hpp>

#include <cstddef>
#include <filesystem>
#include <string>

namespace fcs {

/**
 * The bytes of an input file (a certificate, key, bundle or request to install or import): a
 * regular file (a link to one is followed: the operator chose the path), at most `max_size`
 * bytes (refused from its size, and when it grows while read).
 * @throws fcs::error naming the file: errc::not_found, errc::unsafe_file, errc::too_large,
 *         errc::io_failed.
 */
inline secret_bytes read_input_file(const std::filesystem::path& file, std::size_t max_size) {
    return detail::read_file(file, max_size);
}

/**
 * The bytes of a secrets file (a password, a key-encryption key, a client key): a regular
 * file, not a link, owned by this user (or read by root), mode 0600 or 0400, at most
 * `max_size` bytes. Errors name the file and `step`.
 */
inline secret_bytes read_secret_file(const std::filesystem::path& file, const std::string& step,
                                     std::size_t max_size) {
    return detail::read_owner_only(file, step, max_size);
}

} // namespace fcs

#endif // FCS_FILES_HPP
