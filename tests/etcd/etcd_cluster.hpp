#ifndef FCS_TESTS_ETCD_CLUSTER_HPP
#define FCS_TESTS_ETCD_CLUSTER_HPP

// Real etcd servers on loopback for the tests: a single member or a cluster, each member its
// own process on free ports with its own data folder, stopped (killed) at the end. Never a
// system service.

#include "support/support.hpp"

#include <fcs/storage/etcd.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fcs::test {

/// True when `tool` is an executable on PATH.
inline bool on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::string_view rest = path ? path : "";
    while (!rest.empty()) {
        auto colon = rest.find(':');
        fs::path dir(std::string(rest.substr(0, colon)));
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        if (!dir.empty() && ::access((dir / tool).c_str(), X_OK) == 0)
            return true;
    }
    return false;
}

/// What is missing to start etcd here (empty: nothing).
inline std::string etcd_missing() {
    std::string m;
    for (const char* tool : {"etcd", "etcdctl"})
        if (!on_path(tool))
            m += (m.empty() ? "" : " and ") + std::string(tool);
    return m;
}

inline bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci && std::string_view(ci) == "true";
}

/**
 * Precondition of the suites that start etcd. Without etcd they are skipped, and say so on
 * stdout in the words ctest's SKIP_REGULAR_EXPRESSION looks for (tests/etcd/CMakeLists.txt),
 * so ctest reports "Skipped", never "Passed". Under CI=true a missing tool is a failure: the
 * precondition lets the tests run, and etcd_cluster's constructor fails them.
 */
inline boost::test_tools::assertion_result etcd_available(boost::unit_test::test_unit_id) {
    auto missing = etcd_missing();
    if (missing.empty() || under_ci())
        return true;
    std::cout << "SKIPPED: etcd is not installed (" << missing
              << " not on PATH); tests/etcd/ensure_etcd.sh installs it" << std::endl;
    boost::test_tools::assertion_result r(false);
    r.message() << "etcd is not installed";
    return r;
}

/// A TCP port on 127.0.0.1 that is free now (bound to port 0, read back, released).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free port");
    ::close(fd);
    return ntohs(a.sin_port);
}

/// How the members serve their clients: plain HTTP (the default), or TLS with a server
/// certificate, optionally requiring client certificates signed by `ca`.
struct etcd_security {
    fs::path ca, cert, key; ///< empty cert: plain http
    bool client_cert_auth = false;
    /// What etcdctl and the health check present when client certificates are required.
    fs::path client_cert, client_key;
    std::vector<std::string> extra_args; ///< more etcd flags, e.g. {"--auth-token-ttl", "1"}
    bool tls() const { return !cert.empty(); }
};

class etcd_cluster {
public:
    struct member {
        std::string name;
        int client_port = 0;
        int peer_port = 0;
        pid_t pid = -1;
        fs::path data;
        bool tls = false;
        std::string client_url() const {
            return (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port);
        }
        std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port); }
    };

    /// Starts `n` members and waits until the cluster has a leader.
    etcd_cluster(int n, const fs::path& root, etcd_security sec = {})
        : root_(root)
        , sec_(std::move(sec)) {
        if (auto missing = etcd_missing(); !missing.empty())
            throw std::runtime_error(
                "not installed: " + missing +
                (under_ci() ? " (CI=true: a missing tool fails the test)" : std::string()));
        std::vector<int> used;
        auto pick = [&] {
            for (;;) {
                int p = free_port();
                if (std::find(used.begin(), used.end(), p) == used.end()) {
                    used.push_back(p);
                    return p;
                }
            }
        };
        for (int i = 0; i < n; ++i) {
            member m;
            m.name = "m" + std::to_string(i);
            m.client_port = pick();
            m.peer_port = pick();
            m.data = root_ / m.name;
            m.tls = sec_.tls();
            members_.push_back(m);
        }
        for (auto& m : members_)
            initial_cluster_ += (initial_cluster_.empty() ? "" : ",") + m.name + "=" + m.peer_url();
        token_ = "fcs-test-" + std::to_string(::getpid()) + "-" +
                 std::to_string(members_.front().client_port);
        for (std::size_t i = 0; i < members_.size(); ++i)
            spawn(i);
        wait_healthy();
    }
    ~etcd_cluster() {
        for (std::size_t i = 0; i < members_.size(); ++i)
            kill(i);
    }
    etcd_cluster(const etcd_cluster&) = delete;
    etcd_cluster& operator=(const etcd_cluster&) = delete;

    std::size_t size() const { return members_.size(); }
    const member& at(std::size_t i) const { return members_.at(i); }
    std::vector<std::string> endpoints() const {
        std::vector<std::string> out;
        for (auto& m : members_)
            out.push_back(m.client_url());
        return out;
    }
    std::string endpoint_list() const {
        std::string s;
        for (auto& e : endpoints())
            s += (s.empty() ? "" : ",") + e;
        return s;
    }

    /// SIGKILL: the member dies at once (no clean leave), like a crashed host.
    void kill(std::size_t i) {
        auto& m = members_.at(i);
        if (m.pid <= 0)
            return;
        ::kill(m.pid, SIGKILL);
        int st = 0;
        ::waitpid(m.pid, &st, 0);
        m.pid = -1;
    }
    /// Starts a killed member again on the same ports and data folder.
    void restart(std::size_t i) {
        spawn(i);
        wait_healthy();
    }
    bool running(std::size_t i) const { return members_.at(i).pid > 0; }

    /// The index of the current leader (asked with etcdctl), or -1.
    int leader() const {
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!running(i))
                continue;
            auto r = run(ctl() + " --endpoints=" + members_[i].client_url() +
                         " endpoint status -w fields 2>/dev/null");
            // "MemberID" : 123 and "Leader" : 123 in the fields output
            auto field = [&](const std::string& name) {
                auto p = r.output.find("\"" + name + "\" : ");
                if (p == std::string::npos)
                    return std::string();
                p += name.size() + 5;
                return r.output.substr(p, r.output.find('\n', p) - p);
            };
            auto id = field("MemberID"), lead = field("Leader");
            if (!id.empty() && id == lead)
                return static_cast<int>(i);
        }
        return -1;
    }

    /// The raw value of `key` as etcdctl prints it (a tool no one here wrote).
    run_result etcdctl(const std::string& args) const {
        std::string eps;
        for (std::size_t i = 0; i < members_.size(); ++i)
            if (running(i))
                eps += (eps.empty() ? "" : ",") + members_[i].client_url();
        return run(ctl() + " --command-timeout=5s --endpoints=" + eps + " " + args);
    }

    /// Turns on etcd's v3 authentication: a root user (role root) with `root_password`; etcdctl
    /// and the health check use it from then on.
    void enable_auth(const std::string& root_password) {
        for (auto cmd : {"user add root:" + root_password, std::string("user grant-role root root"),
                         std::string("auth enable")}) {
            auto r = etcdctl(cmd);
            if (r.exit_code != 0)
                throw std::runtime_error("etcdctl " + cmd.substr(0, cmd.find(':')) +
                                         " failed: " + r.output);
        }
        root_password_ = root_password;
    }

    /// etcdctl as the tests run it: TLS files and the root user when configured.
    std::string ctl() const {
        std::string c = "ETCDCTL_API=3 etcdctl";
        if (sec_.tls())
            c += " --cacert=" + shell_quote(sec_.ca.string());
        if (!sec_.client_cert.empty())
            c += " --cert=" + shell_quote(sec_.client_cert.string()) +
                 " --key=" + shell_quote(sec_.client_key.string());
        if (!root_password_.empty())
            c += " --user=" + shell_quote("root:" + root_password_);
        return c;
    }

private:
    void spawn(std::size_t i) {
        auto& m = members_.at(i);
        fs::create_directories(root_);
        std::vector<std::string> args = {
            "etcd",
            "--name",
            m.name,
            "--data-dir",
            m.data.string(),
            "--listen-client-urls",
            m.client_url(),
            "--advertise-client-urls",
            m.client_url(),
            "--listen-peer-urls",
            m.peer_url(),
            "--initial-advertise-peer-urls",
            m.peer_url(),
            "--initial-cluster",
            initial_cluster_,
            "--initial-cluster-token",
            token_,
            "--initial-cluster-state",
            "new",
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
        };
        if (sec_.tls()) {
            args.push_back("--cert-file");
            args.push_back(sec_.cert.string());
            args.push_back("--key-file");
            args.push_back(sec_.key.string());
            if (sec_.client_cert_auth) { // etcd 3.4 requires client certificates whenever it
                                         // has a --trusted-ca-file
                args.push_back("--trusted-ca-file");
                args.push_back(sec_.ca.string());
                args.push_back("--client-cert-auth");
            }
        }
        args.insert(args.end(), sec_.extra_args.begin(), sec_.extra_args.end());
        std::string log = (root_ / (m.name + ".log")).string();
        std::vector<char*>
            argv; // built before fork: the child only calls async-signal-safe functions
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = ::fork();
        if (pid < 0)
            throw std::runtime_error("fork failed");
        if (pid == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execvp("etcd", argv.data());
            ::_exit(127);
        }
        m.pid = pid;
    }

    /// Every running member answers a linearizable read (so there is a leader): at most 20 s.
    void wait_healthy() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!running(i))
                continue;
            std::string last = "no answer";
            storage::etcd_options o;
            o.endpoints = {members_[i].client_url()};
            if (sec_.tls()) {
                o.ca_file = sec_.ca;
                o.cert_file = sec_.client_cert;
                o.key_file = sec_.client_key;
            }
            if (!root_password_.empty()) {
                o.user = "root";
                o.password.assign(root_password_.begin(), root_password_.end());
            }
            storage::etcd_detail::gateway gw(o);
            for (;;) {
                try {
                    // A linearizable read (with the root user's token once auth is on).
                    gw.call("/v3/kv/range", storage::etcd_detail::json{{"key", "eA=="}},
                            "health check", std::chrono::seconds(1));
                    break;
                } catch (const fcs::error& e) {
                    last = e.what();
                }
                int st = 0;
                if (::waitpid(members_[i].pid, &st, WNOHANG) == members_[i].pid) {
                    members_[i].pid = -1;
                    throw std::runtime_error("etcd " + members_[i].name + " exited: " +
                                             read_text(root_ / (members_[i].name + ".log")));
                }
                if (std::chrono::steady_clock::now() > deadline)
                    throw std::runtime_error("etcd " + members_[i].name +
                                             " did not become healthy in 20 s (" + last +
                                             "); its log ends:\n" + log_tail(i));
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    }

    std::string log_tail(std::size_t i) const {
        auto text = read_text(root_ / (members_.at(i).name + ".log"));
        return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
    }

    fs::path root_;
    etcd_security sec_;
    std::vector<member> members_;
    std::string initial_cluster_, token_, root_password_;
};

} // namespace fcs::test

#endif // FCS_TESTS_ETCD_CLUSTER_HPP
