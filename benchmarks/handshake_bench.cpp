// In-process handshake benchmark: server-side CPU time of a TLS 1.3 handshake through
// fcs::tls::server_context, through a minimal hand-configured BoringSSL SSL_CTX, and the
// "crypto floor" (the server's mandatory asymmetric work), all in the same run.
//
// Client and server talk over a BoringSSL BIO pair in one thread. Only the server's
// SSL_do_handshake calls are timed, with CLOCK_THREAD_CPUTIME_ID (CPU time of this thread, so
// another process on the machine does not inflate it); the client's work, SSL_new/SSL_free and
// the BIO pair are not counted. Google Benchmark reports that time as the iteration time
// (UseManualTime), so "Time" below is server CPU per handshake.
//
//   fcs_handshake_bench                          all benchmarks, then the ratio table
//   fcs_handshake_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   fcs_handshake_bench --benchmark_filter=p256  one certificate type
//
// The ratio table uses the median over repetitions of each benchmark.

#include <fcs/crypto/boringssl.hpp>
#include <fcs/detail/published.hpp>
#include <fcs/tls/server_context.hpp>
#include <fcs/tls/ticket_keys.hpp>

#include <benchmark/benchmark.h>

#include <openssl/bio.h>
#include <openssl/curve25519.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using fcs::crypto::boringssl;

std::int64_t thread_cpu_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    throw std::runtime_error(what + " (" + buf + ")");
}

/// A server certificate and key of one type, made in memory.
struct identity {
    std::string label;
    boringssl::private_key key;
    std::vector<boringssl::certificate> chain;
};

identity make_identity(std::string label, fcs::key_type type) {
    boringssl crypto;
    identity id{std::move(label), crypto.generate_key(type), {}};
    boringssl::profile p;
    p.common_name = "localhost";
    p.dns_names = {"localhost"};
    auto now = std::chrono::system_clock::now();
    id.chain.push_back(
        crypto.self_sign(id.key, p, now - std::chrono::hours(1), now + std::chrono::days(365)));
    return id;
}

/// The settings both servers use (fcs's defaults: Mozilla intermediate, X25519 first).
void apply_settings(SSL_CTX* ctx, const fcs::tls::server_settings& s) {
    if (!SSL_CTX_set_min_proto_version(ctx, s.min_version) ||
        !SSL_CTX_set_max_proto_version(ctx, s.max_version) ||
        !SSL_CTX_set_strict_cipher_list(ctx, s.tls12_ciphers.c_str()) ||
        !SSL_CTX_set1_curves_list(ctx, s.curves.c_str()) ||
        !SSL_CTX_set_num_tickets(ctx, s.session_tickets))
        die("configuring the minimal SSL_CTX failed");
}

/// What a hand-configured BoringSSL server looks like: TLS_method, certificate and key set on
/// the SSL_CTX once, BoringSSL's own session-ticket keys.
bssl::UniquePtr<SSL_CTX> minimal_server(const identity& id) {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (!ctx)
        die("SSL_CTX_new failed");
    apply_settings(ctx.get(), fcs::tls::server_settings{});
    if (!SSL_CTX_use_certificate(ctx.get(), id.chain.front().get()) ||
        !SSL_CTX_use_PrivateKey(ctx.get(), id.key.get()))
        die("SSL_CTX_use_certificate/PrivateKey failed");
    return ctx;
}

/// The fcs server context as fcs-failover-server configures it: the identity published, and
/// session tickets from a keyring (as kept in step with the storage by ticket_keys::sync).
struct fcs_server {
    fcs::tls::server_context tls;
    fcs::tls::ticket_keys tickets;
    explicit fcs_server(const identity& id) {
        tls.publish(fcs::tls::prepared_credential::make(id.chain, id.key, "benchmark"));
        fcs::tls::ticket_keyring ring;
        ring.rotate(std::chrono::system_clock::now());
        tickets.publish(std::move(ring));
        tls.use_ticket_keys(tickets);
    }
};

/// The client: TLS 1.3 only, one X25519 key share, no verification (its cost does not count),
/// keeps the last session ticket it receives.
struct client {
    bssl::UniquePtr<SSL_CTX> ctx;
    client()
        : ctx(SSL_CTX_new(TLS_method())) {
        if (!ctx || !SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) ||
            !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) ||
            !SSL_CTX_set1_curves_list(ctx.get(), "X25519"))
            die("configuring the client failed");
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
        SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL* ssl, SSL_SESSION* s) -> int {
            auto* out = static_cast<bssl::UniquePtr<SSL_SESSION>*>(SSL_get_app_data(ssl));
            if (!out)
                return 0;
            out->reset(s); // takes the reference
            return 1;
        });
    }
};

struct handshake_result {
    std::int64_t server_ns = 0;
    bool resumed = false;
};

/**
 * One handshake between a fresh client SSL and a fresh server SSL over a BIO pair. Times only
 * the server's SSL_do_handshake calls. With `offer`, the client offers that session; with
 * `out_ticket`, the client reads the server's NewSessionTicket messages and keeps the last one.
 */
handshake_result handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* offer,
                           bssl::UniquePtr<SSL_SESSION>* out_ticket) {
    bssl::UniquePtr<SSL> c(SSL_new(client_ctx)), s(SSL_new(server_ctx));
    if (!c || !s)
        die("SSL_new failed");
    BIO *cb = nullptr, *sb = nullptr;
    if (!BIO_new_bio_pair(&cb, 1 << 16, &sb, 1 << 16))
        die("BIO_new_bio_pair failed");
    SSL_set_bio(c.get(), cb, cb);
    SSL_set_bio(s.get(), sb, sb);
    SSL_set_connect_state(c.get());
    SSL_set_accept_state(s.get());
    SSL_set_tlsext_host_name(c.get(), "localhost");
    if (offer)
        SSL_set_session(c.get(), offer);
    SSL_set_app_data(c.get(), out_ticket);

    handshake_result r;
    int cr = -1, sr = -1;
    for (int round = 0; round < 8 && (cr != 1 || sr != 1); ++round) {
        if (cr != 1) {
            cr = SSL_do_handshake(c.get());
            if (cr != 1 && SSL_get_error(c.get(), cr) != SSL_ERROR_WANT_READ)
                die("client handshake failed");
        }
        if (sr != 1) {
            auto t0 = thread_cpu_ns();
            sr = SSL_do_handshake(s.get());
            r.server_ns += thread_cpu_ns() - t0;
            if (sr != 1 && SSL_get_error(s.get(), sr) != SSL_ERROR_WANT_READ)
                die("server handshake failed");
        }
    }
    if (cr != 1 || sr != 1)
        die("handshake did not finish");
    // BoringSSL builds the TLS 1.3 tickets inside the handshake but sends them with the
    // server's first write (here a zero-byte one, in a server the response): part of its work.
    auto t0 = thread_cpu_ns();
    int w = SSL_write(s.get(), "", 0);
    r.server_ns += thread_cpu_ns() - t0;
    if (w < 0)
        die("flushing the session tickets failed");
    r.resumed = SSL_session_reused(s.get()) == 1;
    if (out_ticket) {
        std::uint8_t byte;
        int n = SSL_read(c.get(), &byte, 1);
        if (n > 0 || SSL_get_error(c.get(), n) != SSL_ERROR_WANT_READ)
            die("reading the session tickets failed");
        SSL_set_app_data(c.get(), nullptr);
    }
    return r;
}

void run_full(benchmark::State& state, SSL_CTX* server_ctx) {
    client cl;
    for (auto _ : state) {
        auto r = handshake(server_ctx, cl.ctx.get(), nullptr, nullptr);
        if (r.resumed) {
            state.SkipWithError("a full handshake resumed");
            break;
        }
        state.SetIterationTime(double(r.server_ns) * 1e-9);
    }
}

void run_resumed(benchmark::State& state, SSL_CTX* server_ctx) {
    client cl;
    bssl::UniquePtr<SSL_SESSION> ticket;
    handshake(server_ctx, cl.ctx.get(), nullptr, &ticket);
    if (!ticket) {
        state.SkipWithError("the server sent no session ticket");
        return;
    }
    for (auto _ : state) {
        auto r = handshake(server_ctx, cl.ctx.get(), ticket.get(), nullptr);
        if (!r.resumed) {
            state.SkipWithError("the session was not resumed");
            break;
        }
        state.SetIterationTime(double(r.server_ns) * 1e-9);
    }
}

/// The server's mandatory signature in a full TLS 1.3 handshake (CertificateVerify): ECDSA
/// P-256 with SHA-256, or RSA-PSS-SHA256 for RSA-2048, over a 32-byte digest.
bool floor_sign(EVP_PKEY* key, const std::uint8_t digest[32]) {
    std::uint8_t sig[512];
    if (EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key)) {
        unsigned len = 0;
        return ECDSA_sign(0, digest, 32, sig, &len, ec) == 1;
    }
    if (RSA* rsa = EVP_PKEY_get0_RSA(key)) {
        std::size_t len = 0;
        return RSA_sign_pss_mgf1(rsa, &len, sig, sizeof sig, digest, 32, EVP_sha256(), EVP_sha256(),
                                 -1) == 1;
    }
    return false;
}

/// The server's X25519 work: a fresh key pair and the shared secret with the client's share.
bool floor_x25519(const std::uint8_t peer[32]) {
    std::uint8_t pub[32], priv[32], secret[32];
    X25519_keypair(pub, priv);
    return X25519(secret, priv, peer) == 1;
}

void run_floor(benchmark::State& state, EVP_PKEY* key) {
    std::uint8_t digest[32], peer_pub[32], peer_priv[32];
    RAND_bytes(digest, sizeof digest);
    X25519_keypair(peer_pub, peer_priv);
    for (auto _ : state) {
        auto t0 = thread_cpu_ns();
        bool ok = (!key || floor_sign(key, digest)) && floor_x25519(peer_pub);
        auto ns = thread_cpu_ns() - t0;
        if (!ok) {
            state.SkipWithError("floor operation failed");
            break;
        }
        state.SetIterationTime(double(ns) * 1e-9);
    }
}

/// The fcs handshake and its floor interleaved, one of each per iteration: whatever else the
/// machine does slows both alike, so their ratio holds where separate runs drift (on a shared
/// 2-core machine the floor alone measured 74 and 120 us in two runs of one build). The
/// iteration time is the handshake's; counters: the floor's mean and handshake/floor.
void run_full_vs_floor(benchmark::State& state, SSL_CTX* server_ctx, EVP_PKEY* key) {
    client cl;
    std::uint8_t digest[32], peer_pub[32], peer_priv[32];
    RAND_bytes(digest, sizeof digest);
    X25519_keypair(peer_pub, peer_priv);
    double handshake_ns = 0, floor_ns = 0;
    for (auto _ : state) {
        auto r = handshake(server_ctx, cl.ctx.get(), nullptr, nullptr);
        auto t0 = thread_cpu_ns();
        bool ok = floor_sign(key, digest) && floor_x25519(peer_pub);
        auto f = thread_cpu_ns() - t0;
        if (r.resumed || !ok) {
            state.SkipWithError(r.resumed ? "a full handshake resumed" : "floor operation failed");
            break;
        }
        handshake_ns += double(r.server_ns);
        floor_ns += double(f);
        state.SetIterationTime(double(r.server_ns) * 1e-9);
    }
    if (floor_ns > 0) {
        state.counters["floor_us"] = floor_ns / 1e3 / double(state.iterations());
        state.counters["per_floor"] = handshake_ns / floor_ns;
    }
}

/// What the certificate step costs: the load of the published credential.
/// server_context::current(): the owned pointer (a mutex and a shared_ptr copy). Not the
/// handshake path: status and tests use it.
void run_current_owned(benchmark::State& state, const fcs::tls::server_context* ctx) {
    for (auto _ : state) {
        auto p = ctx->current();
        benchmark::DoNotOptimize(p.get());
    }
}

/// What the certificate and ticket callbacks do per handshake to reach the published object:
/// take a detail::published reader guard (lock-free: a counter increment, a re-check, and the
/// decrement when it goes).
void run_published_read(benchmark::State& state) {
    static fcs::detail::published<int>& slot = []() -> fcs::detail::published<int>& {
        static fcs::detail::published<int> s;
        s.publish(std::make_shared<const int>(42));
        return s;
    }();
    for (auto _ : state) {
        auto r = slot.read();
        benchmark::DoNotOptimize(r.get());
    }
}

/// The certificate step's SSL_set_chain_and_key on one connection (references only).
void run_apply(benchmark::State& state, const fcs::tls::server_context* ctx) {
    bssl::UniquePtr<SSL> ssl(SSL_new(ctx->native_handle()));
    auto p = ctx->current();
    for (auto _ : state)
        benchmark::DoNotOptimize(p->apply(ssl.get()));
}

/// The timer itself: one pair of CLOCK_THREAD_CPUTIME_ID reads (a full handshake takes two
/// server calls, so two pairs; the floor one pair).
void run_clock_pair(benchmark::State& state) {
    for (auto _ : state) {
        auto t0 = thread_cpu_ns();
        benchmark::DoNotOptimize(thread_cpu_ns() - t0);
    }
}

/// Collects the per-iteration time of each benchmark run (every repetition) for the ratios,
/// and prints as the console reporter does.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (auto& r : runs) {
            if (r.error_occurred) {
                errors_.push_back(r.benchmark_name() + ": " + r.error_message);
                continue;
            }
            double us =
                r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit) * 1e6;
            if (r.run_type == Run::RT_Iteration) {
                times_[r.run_name.function_name].push_back(us);
                if (auto c = r.counters.find("per_floor"); c != r.counters.end())
                    per_floor_[r.run_name.function_name].push_back(c->second.value);
            }
            else if (r.aggregate_name == "median") { // --benchmark_report_aggregates_only
                medians_[r.run_name.function_name] = {us, std::size_t(r.repetitions)};
                if (auto c = r.counters.find("per_floor"); c != r.counters.end())
                    per_floor_median_[r.run_name.function_name] = {c->second.value,
                                                                   std::size_t(r.repetitions)};
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }

    /// Median per-iteration time in µs, or a negative value when the benchmark did not run.
    double median_us(const std::string& name) const { return median(times_, medians_, name); }
    std::size_t runs(const std::string& name) const { return count(times_, medians_, name); }
    /// Median of the handshake/floor ratio of an interleaved benchmark (negative: not run).
    double median_per_floor(const std::string& name) const {
        return median(per_floor_, per_floor_median_, name);
    }
    std::size_t per_floor_runs(const std::string& name) const {
        return count(per_floor_, per_floor_median_, name);
    }

    /// "NAME: MESSAGE" of every run that stopped with SkipWithError (failed, not skipped).
    const std::vector<std::string>& errors() const { return errors_; }

private:
    using values = std::map<std::string, std::vector<double>>;
    using aggregates = std::map<std::string, std::pair<double, std::size_t>>;

    /// The median of the values kept for `name` (every repetition), else the median the
    /// library reported (--benchmark_report_aggregates_only), else -1.
    static double median(const values& all, const aggregates& reported, const std::string& name) {
        auto it = all.find(name);
        if (it == all.end() || it->second.empty()) {
            auto m = reported.find(name);
            return m == reported.end() ? -1 : m->second.first;
        }
        auto v = it->second;
        std::sort(v.begin(), v.end());
        auto n = v.size();
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    static std::size_t count(const values& all, const aggregates& reported,
                             const std::string& name) {
        auto it = all.find(name);
        if (it != all.end() && !it->second.empty())
            return it->second.size();
        auto m = reported.find(name);
        return m == reported.end() ? 0 : m->second.second;
    }

    std::vector<std::string> errors_;
    std::map<std::string, std::vector<double>> times_;
    std::map<std::string, std::vector<double>> per_floor_;
    std::map<std::string, std::pair<double, std::size_t>> per_floor_median_;
    std::map<std::string, std::pair<double, std::size_t>> medians_;
};

void print_ratio(const ratio_reporter& rep, const std::string& a, const std::string& b,
                 const char* what) {
    double x = rep.median_us(a), y = rep.median_us(b);
    if (x < 0 || y <= 0)
        return;
    std::printf("  %-44s %9.1f / %9.1f us = %5.3f   (%s, %zu/%zu runs)\n", (a + " / " + b).c_str(),
                x, y, x / y, what, rep.runs(a), rep.runs(b));
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;

    std::vector<identity> ids;
    ids.push_back(make_identity("p256", fcs::key_type::ec_p256));
    ids.push_back(make_identity("rsa2048", fcs::key_type::rsa2048));

    // Contexts live until the end of main: the benchmarks only borrow them.
    std::vector<std::unique_ptr<fcs_server>> fcs_ctxs;
    std::vector<bssl::UniquePtr<SSL_CTX>> minimal_ctxs;
    auto unit = benchmark::kMicrosecond;
    for (auto& id : ids) {
        fcs_ctxs.push_back(std::make_unique<fcs_server>(id));
        minimal_ctxs.push_back(minimal_server(id));
        SSL_CTX* f = fcs_ctxs.back()->tls.native_handle();
        SSL_CTX* m = minimal_ctxs.back().get();
        EVP_PKEY* key = id.key.get();
        benchmark::RegisterBenchmark(("full/" + id.label + "/fcs").c_str(), run_full, f)
            ->UseManualTime()
            ->Unit(unit);
        benchmark::RegisterBenchmark(("full/" + id.label + "/minimal").c_str(), run_full, m)
            ->UseManualTime()
            ->Unit(unit);
        benchmark::RegisterBenchmark(("full/" + id.label + "/floor").c_str(), run_floor, key)
            ->UseManualTime()
            ->Unit(unit);
        benchmark::RegisterBenchmark(("full/" + id.label + "/fcs_with_floor").c_str(),
                                     run_full_vs_floor, f, key)
            ->UseManualTime()
            ->Unit(unit);
        benchmark::RegisterBenchmark(("resumed/" + id.label + "/fcs").c_str(), run_resumed, f)
            ->UseManualTime()
            ->Unit(unit);
        benchmark::RegisterBenchmark(("resumed/" + id.label + "/minimal").c_str(), run_resumed, m)
            ->UseManualTime()
            ->Unit(unit);
    }
    benchmark::RegisterBenchmark("resumed/floor", run_floor, static_cast<EVP_PKEY*>(nullptr))
        ->UseManualTime()
        ->Unit(unit);
    benchmark::RegisterBenchmark("path/current_owned", run_current_owned, &fcs_ctxs.front()->tls)
        ->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("path/published_read", run_published_read)
        ->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("path/published_read", run_published_read)
        ->Threads(2)
        ->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("path/apply", run_apply, &fcs_ctxs.front()->tls)
        ->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("path/clock_pair", run_clock_pair)->Unit(benchmark::kNanosecond);
    // The proof that a failing benchmark fails the run (ctest benchmarks.smoke_error_fails).
    if (std::getenv("FCS_BENCH_INJECT_ERROR"))
        benchmark::RegisterBenchmark("selftest/injected_error", [](benchmark::State& state) {
            for (auto _ : state)
                state.SkipWithError("injected by FCS_BENCH_INJECT_ERROR");
        });

    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);

    std::printf("\nServer CPU per handshake, medians (CLOCK_THREAD_CPUTIME_ID, server "
                "SSL_do_handshake only):\n");
    for (auto& id : ids) {
        const std::string f = "full/" + id.label, r = "resumed/" + id.label;
        print_ratio(rep, f + "/fcs", f + "/floor", "target <= 1.2");
        if (double pf = rep.median_per_floor(f + "/fcs_with_floor"); pf > 0)
            std::printf("  %-44s %27s = %5.3f   (target <= 1.2, interleaved per iteration, "
                        "median of %zu runs)\n",
                        (f + "/fcs_with_floor").c_str(), "handshake / floor", pf,
                        rep.per_floor_runs(f + "/fcs_with_floor"));
        print_ratio(rep, f + "/fcs", f + "/minimal", "target <= 1.05");
        print_ratio(rep, f + "/minimal", f + "/floor", "reference");
        print_ratio(rep, r + "/fcs", "resumed/floor", "target <= 1.2");
        print_ratio(rep, r + "/fcs", r + "/minimal", "target <= 1.05");
        print_ratio(rep, r + "/minimal", "resumed/floor", "reference");
    }
    std::printf("std::atomic<std::shared_ptr>::is_always_lock_free = %d\n",
                int(std::atomic<fcs::tls::prepared_ptr>::is_always_lock_free));
    benchmark::Shutdown();
    // SkipWithError (no ticket, no resumption, a failed handshake) means the figures above
    // are missing or wrong: the run fails, so benchmarks.smoke catches it.
    if (!rep.errors().empty()) {
        std::fprintf(stderr, "\n%zu benchmark(s) failed:\n", rep.errors().size());
        for (auto& e : rep.errors())
            std::fprintf(stderr, "  %s\n", e.c_str());
        return 1;
    }
    return 0;
}
