#ifndef FCS_TESTS_SUPPORT_HPP
#define FCS_TESTS_SUPPORT_HPP

// Shared test helpers: a manual clock, temporary folders, file helpers, running real tools.

#include <fcs/fcs.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <chrono>
#include <string>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fcs::test {

namespace fs = std::filesystem;

/// A clock the test sets. Copies share the time, so the service's copy follows the test.
/// Until the test first sets or advances it, it reads the system clock: a clock frozen at
/// fixture construction would run behind certificates that `openssl` makes later in the
/// test (their notBefore is the wall-clock second they were made), and the service would
/// call them "not yet valid" whenever the second turned in between.
class manual_clock {
public:
    using policy_kind = policy::kind::clock;
    manual_clock()
        : t_(std::make_shared<std::atomic<std::int64_t>>(live)) {}
    time_point now() const {
        auto t = t_->load();
        return t == live ? std::chrono::time_point_cast<time_point::duration>(
                               std::chrono::system_clock::now())
                         : time_point(std::chrono::nanoseconds(t));
    }
    void set(time_point t) { t_->store(now_ns(t)); }
    void advance(std::chrono::nanoseconds d) {
        auto t = t_->load();
        for (;;) {
            auto base = t == live ? now_ns(now()) : t;
            if (t_->compare_exchange_weak(t, base + d.count()))
                return;
        }
    }

private:
    static constexpr std::int64_t live = std::numeric_limits<std::int64_t>::min();
    static std::int64_t now_ns(time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
    std::shared_ptr<std::atomic<std::int64_t>> t_;
};

/// Waits until `pred` holds, polling every 10 ms, for at most `limit`; false when it never did.
/// For waiting on another thread or process, never for measuring how fast it is.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

/// A fresh folder under $TMPDIR, removed at the end of the test.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "fcs-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& rel) const { return path_ / rel; }

private:
    fs::path path_;
};

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_text(const fs::path& p, std::string_view data, mode_t mode = 0644) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(data.data(), static_cast<std::streamsize>(data.size()));
    ::chmod(p.c_str(), mode);
}

/// Every regular file below `root` with its bytes, keyed by its path relative to `base`
/// (default: `root`): what "the installed files are byte-identical" compares.
inline std::map<std::string, std::string> snapshot(const fs::path& root,
                                                   const fs::path& base = {}) {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
            out[fs::relative(e.path(), base.empty() ? root : base).string()] = read_text(e.path());
    return out;
}

inline mode_t mode_of(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0)
        return 0;
    return st.st_mode & 07777;
}

struct run_result {
    int exit_code = -1;
    std::string output; ///< stdout and stderr
};

/// Runs a shell command, capturing stdout+stderr.
inline run_result run(const std::string& cmd) {
    run_result r;
    std::string full = "(" + cmd + ") 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p)
        return r;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
        r.output.append(buf.data(), n);
    int st = ::pclose(p);
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

/// A CA-issued server pair made with the `openssl` command (a tool no one here wrote).
struct pem_pair {
    std::string cert;
    std::string key;
    std::string ca_cert;
};

inline pem_pair
openssl_ca_issued(const fs::path& work, const std::string& cn = "server.example", int days = 365,
                  const std::string& key_alg = "EC -pkeyopt ec_paramgen_curve:P-256") {
    fs::create_directories(work);
    auto q = [&](const std::string& f) { return shell_quote((work / f).string()); };
    std::string cmd =
        "cd " + shell_quote(work.string()) +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.crt"
        " -days 3650 -subj '/CN=Test Root CA' -addext basicConstraints=critical,CA:TRUE"
        " -addext keyUsage=critical,keyCertSign,cRLSign"
        " && openssl genpkey -algorithm " +
        key_alg +
        " -out leaf.key"
        " && openssl req -new -key leaf.key -out leaf.csr -subj '/CN=" +
        cn +
        "'"
        " && printf 'subjectAltName=DNS:" +
        cn +
        ",DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext.cnf"
        " && openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days " +
        std::to_string(days) + " -extfile ext.cnf -out leaf.crt";
    auto r = run(cmd);
    if (r.exit_code != 0)
        throw std::runtime_error("openssl failed: " + r.output);
    (void)q;
    return {read_text(work / "leaf.crt"), read_text(work / "leaf.key"), read_text(work / "ca.crt")};
}

inline std::span<const std::uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace fcs::test

#endif // FCS_TESTS_SUPPORT_HPP
