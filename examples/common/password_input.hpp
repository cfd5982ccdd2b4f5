#ifndef FCS_EXAMPLES_PASSWORD_INPUT_HPP
#define FCS_EXAMPLES_PASSWORD_INPUT_HPP

// The one way the example programs take a password (a PKCS#12 bundle's or an encrypted key's,
// and etcd's v3 user's): from a file only its owner may read, from an environment variable
// (wiped once read), or from one line of standard input (not echoed on a terminal). Never from
// the command line; at most max_password_bytes; held in fcs::secret_bytes, which cleanses
// itself, and every other copy is cleansed with OPENSSL_cleanse.

#include "cli.hpp"

#include <fcs/error.hpp>
#if defined(_WIN32)
#include <fcs/acl/windows.hpp>      // the "too open" check of a secret's DACL
#include <fcs/detail/win32_fs.hpp> // read_w: reparse points refused, size bounded
#else
#include <fcs/files.hpp> // read_secret_file: the checked secret-file reader
#endif

#include <openssl/mem.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#if defined(_WIN32)
#include <windows.h>
#include <io.h>
#include <stdlib.h> // _putenv_s
#else
#include <termios.h>
#include <unistd.h>
#endif

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
#if defined(_WIN32)
    ::_putenv_s(name.c_str(), ""); // removes it: child processes do not inherit it
#else
    ::unsetenv(name.c_str()); // child processes do not inherit it
#endif
    if (n > max_password_bytes)
        throw error(errc::too_large, "", step,
                    "the environment variable " + name + " is longer than " +
                        std::to_string(max_password_bytes) + " bytes");
    return pw;
}

/// Standard input without echo on a terminal: termios on POSIX, the console mode on Windows.
class quiet_stdin {
public:
    quiet_stdin() {
#if defined(_WIN32)
        in_ = ::GetStdHandle(STD_INPUT_HANDLE);
        tty_ = in_ != INVALID_HANDLE_VALUE && in_ != nullptr && ::GetConsoleMode(in_, &old_);
        if (tty_) {
            std::fputs("Password: ", stderr);
            ::SetConsoleMode(in_, old_ & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
        }
#else
        tty_ = ::isatty(0) && ::tcgetattr(0, &old_) == 0;
        if (tty_) {
            std::fputs("Password: ", stderr);
            termios quiet = old_;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            ::tcsetattr(0, TCSAFLUSH, &quiet);
        }
#endif
    }
    quiet_stdin(const quiet_stdin&) = delete;
    quiet_stdin& operator=(const quiet_stdin&) = delete;
    ~quiet_stdin() {
        if (!tty_)
            return;
#if defined(_WIN32)
        ::SetConsoleMode(in_, old_);
#else
        ::tcsetattr(0, TCSAFLUSH, &old_);
#endif
        std::fputs("\n", stderr);
    }

    /// One byte of standard input; false at its end or on an error.
    static bool read_byte(char& c) {
        for (;;) {
#if defined(_WIN32)
            const int n = ::_read(0, &c, 1);
#else
            const ssize_t n = ::read(0, &c, 1);
#endif
            if (n < 0 && errno == EINTR)
                continue;
            return n == 1;
        }
    }

private:
#if defined(_WIN32)
    HANDLE in_ = nullptr;
    DWORD old_ = 0;
#else
    termios old_{};
#endif
    bool tty_ = false;
};

inline secret_bytes from_stdin(const std::string& step) {
    secret_bytes pw;
    pw.reserve(max_password_bytes + 1); // no reallocation: no stray copies on the heap
    {
        quiet_stdin quiet;
        char c = 0;
        while (pw.size() <= max_password_bytes) {
            if (!quiet_stdin::read_byte(c) || c == '\n')
                break;
            pw.push_back(static_cast<std::uint8_t>(c));
        }
        OPENSSL_cleanse(&c, sizeof c);
    }
    if (pw.size() > max_password_bytes)
        throw error(errc::too_large, "standard input", step,
                    "longer than " + std::to_string(max_password_bytes) + " bytes");
    return pw;
}

#if defined(_WIN32)
/// Windows: a password file read through the Win32 helpers (a reparse point or folder
/// refused, at most `max_size` bytes, no second name through a hard link) and judged as a
/// private key is (acl::windows): a DACL that lets anyone but Administrators, SYSTEM, the
/// service account or this account read it, or a foreign owner, is refused, as the POSIX
/// reader refuses a file other users can read.
inline secret_bytes read_secret_file(const std::string& file, const std::string& step,
                                     std::size_t max_size) {
    auto r = detail::read_w(detail::widen(file), file, max_size);
    if (!r)
        throw error(errc::not_found, file, step, "no such file");
    if (r->facts.links > 1)
        throw error(errc::unsafe_file, file, step,
                    "has " + std::to_string(r->facts.links) + " hard links; refusing it");
    if (auto problem = acl::windows().check_descriptor(r->facts.security_descriptor,
                                                       item_class::secret_item))
        throw error(errc::unsafe_file, file, step,
                    problem->text + " (a password file must be readable by you only)");
    return std::move(r->data);
}
#endif

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
#if defined(_WIN32)
        pw = password_detail::read_secret_file(src.file, step, max_password_bytes);
#else
        pw = read_secret_file(src.file, step, max_password_bytes);
#endif
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
