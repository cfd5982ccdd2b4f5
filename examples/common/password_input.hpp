#ifndef FCS_EXAMPLES_PASSWORD_INPUT_HPP
#define FCS_EXAMPLES_PASSWORD_INPUT_HPP

// The one way the example programs take a password (a PKCS#12 bundle's or an encrypted key's,
// and etcd's v3 user's): from a file only its owner may read, from an environment variable
// (wiped once read), or from one line of standard input (not echoed on a terminal). Never from
// the command line; at most max_password_bytes; held in fcs::secret_bytes, which cleanses
// itself, and every other copy is cleansed with OPENSSL_cleanse.

#include "cli.hpp"

#include <fcs/error.hpp>
#include <fcs/files.hpp> // read_secret_file: the checked secret-file reader

#include <openssl/mem.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <termios.h>
#include <unistd.h>

namespace fcs::examples {

/// The longest password taken, whatever its source.
inline constexpr std::size_t max_password_bytes = 4096;

/// Where a password comes from: the options `--PREFIXpassword-file FILE`,
/// `--PREFIXpassword-env VAR` and `--PREFIXpassword-stdin`.
struct password_source {
    std::string prefix; ///< "" or "etcd-": the options' names
    std::string file;
    std::string env;
    bool from_stdin = false;

    bool given() const { return !file.empty() || !env.empty() || from_stdin; }
    std::string option(const char* what) const { return "--" + prefix + "password-" + what; }
    /// The three options, for messages: "--password-file, --password-env or --password-stdin".
    std::string options() const {
        return option("file") + ", " + option("env") + " or " + option("stdin");
    }
    /// Where the password was read from, for messages (never the password).
    std::string shown() const {
        return !file.empty()  ? file
               : !env.empty() ? "the environment variable " + env
                              : std::string("standard input");
    }
};

/// Adds the three options of `src` (with src.prefix) to `app`, in `group`.
inline void add_password_options(CLI::App& app, password_source& src, const std::string& whose,
                                 const std::string& group) {
    cli::value(app, src.option("file"), src.file, "FILE",
               whose + ": the first line of FILE\n(a regular file, mode 0600 or 0400, yours)")
        ->group(group);
    cli::value(app, src.option("env"), src.env, "VAR",
               whose + ": the environment variable\nVAR (wiped and removed once read)")
        ->group(group);
    app.add_flag(src.option("stdin"), src.from_stdin,
                 whose + ": one line from standard\ninput (not echoed on a terminal)")
        ->group(group);
}

/// A usage message when more than one source is given, nullopt otherwise.
inline std::optional<std::string> password_source_problem(const password_source& src) {
    if ((src.file.empty() ? 0 : 1) + (src.env.empty() ? 0 : 1) + (src.from_stdin ? 1 : 0) > 1)
        return "give at most one of " + src.option("file") + ", " + src.option("env") + ", " +
               src.option("stdin");
    return std::nullopt;
}

namespace password_detail {

inline secret_bytes from_env(const std::string& name, const std::string& step) {
    const char* v = std::getenv(name.c_str());
    if (!v)
        throw error(errc::invalid_argument, "", step,
                    "the environment variable " + name + " is not set");
    // unsetenv() only unlinks the entry: the bytes stay in the process's environment block (in
    // /proc/PID/environ and in a core). Zero them in place first: v points into that block for
    // a variable inherited at exec.
    const std::size_t n = std::strlen(v);
    secret_bytes pw;
    if (n <= max_password_bytes)
        pw.assign(v, v + n);
    OPENSSL_cleanse(const_cast<char*>(v), n);
    ::unsetenv(name.c_str()); // child processes do not inherit it
    if (n > max_password_bytes)
        throw error(errc::too_large, "", step,
                    "the environment variable " + name + " is longer than " +
                        std::to_string(max_password_bytes) + " bytes");
    return pw;
}

inline secret_bytes from_stdin(const std::string& step) {
    termios old{};
    const bool tty = ::isatty(0) && ::tcgetattr(0, &old) == 0;
    if (tty) {
        std::fputs("Password: ", stderr);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(0, TCSAFLUSH, &quiet);
    }
    secret_bytes pw;
    pw.reserve(max_password_bytes + 1); // no reallocation: no stray copies on the heap
    char c = 0;
    while (pw.size() <= max_password_bytes) {
        ssize_t n = ::read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n')
            break;
        pw.push_back(static_cast<std::uint8_t>(c));
    }
    OPENSSL_cleanse(&c, sizeof c);
    if (tty) {
        ::tcsetattr(0, TCSAFLUSH, &old);
        std::fputs("\n", stderr);
    }
    if (pw.size() > max_password_bytes)
        throw error(errc::too_large, "standard input", step,
                    "longer than " + std::to_string(max_password_bytes) + " bytes");
    return pw;
}

} // namespace password_detail

/**
 * Reads the password `src` names; nullopt when none is given. One line: a trailing LF (and CR)
 * is not part of it. A file is checked like the key-encryption key (a regular file, no
 * symbolic link, mode 0600 or 0400, this user's).
 * @throws fcs::error naming the file (or the variable, or standard input), `step` and the cause.
 */
inline std::optional<secret_bytes> read_password(const password_source& src,
                                                 const std::string& step) {
    secret_bytes pw;
    if (!src.file.empty())
        pw = read_secret_file(src.file, step, max_password_bytes);
    else if (!src.env.empty())
        pw = password_detail::from_env(src.env, step);
    else if (src.from_stdin)
        pw = password_detail::from_stdin(step);
    else
        return std::nullopt;
    pw.erase(std::find(pw.begin(), pw.end(), '\n'), pw.end());
    if (!pw.empty() && pw.back() == '\r')
        pw.pop_back();
    return pw;
}

} // namespace fcs::examples

#endif // FCS_EXAMPLES_PASSWORD_INPUT_HPP
