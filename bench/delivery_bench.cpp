// SPDX-License-Identifier: Apache-2.0
// Benchmark: the same job done three ways, side by side in one run on this machine —
//   (a) uplinkd: local app → socket → spool → TLS → remote Mosquitto,
//   (b) a Mosquitto bridge: local Mosquitto with persistence bridging over TLS to the remote,
//   (c) a direct Paho client to the remote (the ceiling, with no local durability),
// at QoS 0 and 1 with 256-byte payloads: messages per second, latency p50/p99 from publish to
// the remote subscriber, uplinkd's peak RSS; then uplinkd's RSS while 1,000,000 messages are
// spooled offline. Each QoS runs the three paths in turn, `rounds` times; prints every round and
// the medians. Usage: delivery_bench [messages] [offline_messages] [rounds (5)]
#include <mosquitto.h>
#include <mqtt/async_client.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/api_client.hpp"
#include "test_env.hpp"

using namespace uplinkd;
using namespace uplinkd::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kPayload = 256;

int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

/// A 256-byte payload that carries its send time.
std::string stamped() {
    std::string p = std::to_string(nowNs());
    p.resize(kPayload, '.');
    return p;
}

/// Counts arrivals on the remote broker and their latency.
class Receiver {
  public:
    Receiver(const Pki& pki, uint16_t port) {
        mosq_ = mosquitto_new(nullptr, true, this);
        mosquitto_tls_set(mosq_, pki.ca.c_str(), nullptr, nullptr, nullptr, nullptr);
        mosquitto_message_callback_set(
            mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
                auto* r = static_cast<Receiver*>(self);
                const int64_t sent = std::atoll(static_cast<const char*>(m->payload));
                std::lock_guard lock(r->mu_);
                r->latencies_.push_back(nowNs() - sent);
                r->last_ = Clock::now();
            });
        mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
            static_cast<Receiver*>(self)->subscribed_ = true;
        });
        mosquitto_connect(mosq_, "localhost", port, 60);
        mosquitto_subscribe(mosq_, nullptr, "bench/#", 1);
        mosquitto_loop_start(mosq_);
        waitUntil([&] { return subscribed_.load(); }, 10s);
    }
    ~Receiver() {
        mosquitto_disconnect(mosq_);
        mosquitto_loop_stop(mosq_, true);
        mosquitto_destroy(mosq_);
    }
    size_t count() {
        std::lock_guard lock(mu_);
        return latencies_.size();
    }
    void reset() {
        std::lock_guard lock(mu_);
        latencies_.clear();
    }
    Clock::time_point last() {
        std::lock_guard lock(mu_);
        return last_;
    }
    std::vector<int64_t> latencies() {
        std::lock_guard lock(mu_);
        return latencies_;
    }

  private:
    mosquitto* mosq_;
    std::mutex mu_;
    std::vector<int64_t> latencies_;
    Clock::time_point last_{};
    std::atomic<bool> subscribed_{false};
};

struct Row {
    std::string name;
    int qos;
    double rate;
    double p50_ms;
    double p99_ms;
    std::string rss;
};

Row summarise(const std::string& name, int qos, size_t n, Clock::time_point start, Receiver& rx,
              const std::string& rss) {
    auto lat = rx.latencies();
    std::sort(lat.begin(), lat.end());
    const double secs = std::chrono::duration<double>(rx.last() - start).count();
    auto pct = [&](double p) {
        return lat.empty()
                   ? 0.0
                   : static_cast<double>(
                         lat[static_cast<size_t>(p * static_cast<double>(lat.size() - 1))]) /
                         1e6;
    };
    const std::string label = lat.size() == n ? name
                                              : name + " (" + std::to_string(lat.size()) + "/" +
                                                    std::to_string(n) + " arrived)";
    return Row{label, qos, static_cast<double>(lat.size()) / secs, pct(0.5), pct(0.99), rss};
}

long statusKb(pid_t pid, const char* field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) == 0)
            return std::atol(line.c_str() + std::strlen(field));
    }
    return 0;
}

/// Publishes `total` messages of `payload()` on route "cloud" of `c`, at most `window` of them
/// unanswered at a time, and calls `answered(n)` after the n-th answer. Returns how many were
/// answered: fewer when the daemon gave no answer within `timeout`.
size_t publishPipelined(ApiClient& c, size_t total, size_t window, const std::string& topic,
                        int qos, const std::function<std::string()>& payload,
                        std::chrono::milliseconds timeout,
                        const std::function<void(size_t)>& answered = {}) {
    size_t sent = 0, done = 0;
    while (done < total) {
        while (sent < total && sent - done < window) {
            (void)c.send({{"op", "publish"},
                          {"id", sent},
                          {"route", "cloud"},
                          {"topic", topic},
                          {"qos", qos},
                          {"payload", payload()}});
            ++sent;
        }
        if (!c.receive(timeout)) {
            break;
        }
        ++done;
        if (answered) {
            answered(done);
        }
    }
    return done;
}

Row runUplinkd(const TempDir& dir, const Pki& pki, uint16_t port, int qos, size_t n) {
    TempDir ddir;
    Receiver rx(pki, port);
    // No inflight_window: the route chooses it from the measured round trip (issue 14).
    Daemon d(ddir, genericRoute("cloud", port, pki.ca));
    (void)routeOnline(d, "cloud", 20s);
    ApiClient c;
    (void)c.connect(d.socket());
    (void)dir;
    const auto start = Clock::now();
    publishPipelined(c, n, 1024, "bench/u", qos, stamped, 30s);
    waitUntil([&] { return rx.count() >= n; }, 120s);
    if (rx.count() < n) {
        std::cerr << "uplinkd route status: " << d.routeStatus("cloud").dump() << "\n";
        std::istringstream log(d.log());
        for (std::string line; std::getline(log, line);) {
            if (line.rfind("<4>", 0) == 0 || line.rfind("<3>", 0) == 0)
                std::cerr << line << "\n";
        }
    }
    const long hwm = statusKb(d.process().pid(), "VmHWM:");
    const nlohmann::json st = d.routeStatus("cloud");
    const std::string window =
        st.contains("inflight_window") ? std::to_string(st["inflight_window"].get<int>()) : "?";
    return summarise("uplinkd (durable spool, window " + window + ")", qos, n, start, rx,
                     std::to_string(hwm / 1024) + " MB");
}

Row runBridge(const Pki& pki, uint16_t port, int qos, size_t n) {
    TempDir bdir;
    const uint16_t local = freePort();
    writeFile(
        bdir.file("local.conf"),
        "listener " + std::to_string(local) +
            " 127.0.0.1\nallow_anonymous true\n"
            "persistence true\npersistence_location " +
            bdir.path() +
            "/\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
            "connection cloud\naddress localhost:" +
            std::to_string(port) +
            "\n"
            "bridge_cafile " +
            pki.ca + "\ntopic bench/# out " + std::to_string(qos) +
            "\n"
            "cleansession false\nbridge_protocol_version mqttv311\nbridge_max_packet_size 0\n");
    Process broker({"mosquitto", "-c", bdir.file("local.conf")}, bdir.file("local.log"));
    waitForPort(local, 10s);
    Receiver rx(pki, port);
    std::this_thread::sleep_for(1s);  // the bridge connects on its own schedule
    mosquitto* pub = mosquitto_new(nullptr, true, nullptr);
    mosquitto_max_inflight_messages_set(pub, 0);
    mosquitto_connect(pub, "127.0.0.1", local, 60);
    mosquitto_loop_start(pub);
    const auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
        const std::string p = stamped();
        mosquitto_publish(pub, nullptr, "bench/b", static_cast<int>(p.size()), p.data(), qos,
                          false);
    }
    waitUntil([&] { return rx.count() >= n; }, 120s);
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, true);
    mosquitto_destroy(pub);
    return summarise("mosquitto bridge (persistence)", qos, n, start, rx, "-");
}

Row runPaho(const Pki& pki, uint16_t port, int qos, size_t n) {
    Receiver rx(pki, port);
    mqtt::async_client client("ssl://localhost:" + std::to_string(port), "bench-direct", nullptr);
    mqtt::ssl_options ssl;
    ssl.set_trust_store(pki.ca);
    mqtt::connect_options o;
    o.set_ssl(ssl);
    o.set_max_inflight(1024);
    o.set_mqtt_version(MQTTVERSION_3_1_1);
    client.connect(o)->wait();
    const auto start = Clock::now();
    std::vector<mqtt::delivery_token_ptr> pending;
    for (size_t i = 0; i < n; ++i) {
        while (true) {
            try {
                pending.push_back(client.publish("bench/p", stamped(), qos, false));
                break;
            } catch (const mqtt::exception&) {
                // Too many in flight: wait for the oldest.
                pending.front()->wait();
                pending.erase(pending.begin());
            }
        }
        if (pending.size() >= 1000) {
            pending.front()->wait();
            pending.erase(pending.begin());
        }
    }
    waitUntil([&] { return rx.count() >= n; }, 120s);
    client.disconnect()->wait();
    return summarise("direct Paho client (no spool)", qos, n, start, rx, "-");
}

void offlineRss(size_t total) {
    TempDir dir;
    const Pki pki = makePki(dir.file("pki"));
    Daemon d(dir, genericRoute("cloud", freePort(), pki.ca) +
                      "[routes.cloud.spool]\nmax_messages = 10000000\nmax_bytes = 10000000000\n");
    ApiClient c;
    (void)c.connect(d.socket());
    std::printf("\nuplinkd RSS while messages are spooled offline (256-byte payloads)\n");
    std::printf(
        "RSS counts shared library pages (libcrypto, libstdc++, libc: about 11 MB that\n"
        "every process using them shares); anon is uplinkd's own memory.\n");
    std::printf("%12s  %10s  %10s  %10s  %12s\n", "spooled", "RSS", "anon", "peak RSS",
                "spool file");
    const std::string payload(kPayload, 'x');
    size_t next_report = total / 8;
    const auto report = [&](size_t answered) {
        if (answered >= next_report) {
            std::error_code ec;
            const auto db = std::filesystem::file_size(dir.file("state/spool.db"), ec);
            std::printf("%12zu  %7ld MB  %7ld MB  %7ld MB  %9ld MB\n", answered,
                        statusKb(d.process().pid(), "VmRSS:") / 1024,
                        statusKb(d.process().pid(), "RssAnon:") / 1024,
                        statusKb(d.process().pid(), "VmHWM:") / 1024,
                        static_cast<long>(db / (1024 * 1024)));
            next_report += total / 8;
        }
    };
    const auto start = Clock::now();
    const size_t answered = publishPipelined(
        c, total, 2048, "bench/o", 1, [&] { return payload; }, 60s, report);
    if (answered < total) {
        std::printf("no answer after %zu\n", answered);
        return;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("spooled %zu messages in %.1f s (%.0f msg/s, each durable before \"queued\")\n",
                total, secs, static_cast<double>(total) / secs);
}

/// The median of `v` (the mean of the middle two for an even count).
double median(std::vector<double> v) {
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2.0;
}

double ratio(double a, double b) {
    return b > 0 ? a / b : 0.0;
}

/// The kind of path a row measured: its name up to the first " (".
std::string pathOf(const Row& r) {
    return r.name.substr(0, r.name.find(" ("));
}

void printRows(const std::vector<Row>& rows) {
    // Each row's throughput and p99 next to the bridge's of the same QoS and round (its anchor).
    auto bridge = [&](int qos) -> const Row* {
        for (const Row& r : rows) {
            if (r.qos == qos && r.name.rfind("mosquitto bridge", 0) == 0) {
                return &r;
            }
        }
        return nullptr;
    };
    std::printf("%-44s %4s %10s %9s %9s %12s %12s %10s\n", "path", "QoS", "msg/s", "p50 ms",
                "p99 ms", "msg/s÷bridge", "p99÷bridge", "peak RSS");
    for (const auto& r : rows) {
        const Row* b = bridge(r.qos);
        std::printf("%-44s %4d %10.0f %9.1f %9.1f %11.2fx %11.2fx %10s\n", r.name.c_str(), r.qos,
                    r.rate, r.p50_ms, r.p99_ms, ratio(r.rate, b ? b->rate : 0),
                    ratio(r.p99_ms, b ? b->p99_ms : 0), r.rss.c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::stoul(argv[1]) : 20000;
    const size_t offline = argc > 2 ? std::stoul(argv[2]) : 1000000;
    // One run of a path is too noisy to call a target met: each QoS runs the three paths in
    // turn, `rounds` times, and the targets compare medians.
    const size_t rounds = std::max<size_t>(1, argc > 3 ? std::stoul(argv[3]) : 5);
    ::setenv("UPLINKD_BENCH", "1", 1);
    mosquitto_lib_init();
    TempDir dir;
    const Pki pki = makePki(dir.file("pki"));
    Mosquitto remote(dir, pki);
    std::vector<std::vector<Row>> by_round(rounds);
    for (int qos : {0, 1}) {
        for (size_t round = 0; round < rounds; ++round) {
            by_round[round].push_back(runUplinkd(dir, pki, remote.port(), qos, n));
            by_round[round].push_back(runBridge(pki, remote.port(), qos, n));
            by_round[round].push_back(runPaho(pki, remote.port(), qos, n));
        }
    }
    std::printf("\n%zu messages of %zu bytes each, TLS to a Mosquitto on this machine (%u cores)\n",
                n, kPayload, std::thread::hardware_concurrency());
    for (size_t round = 0; round < rounds; ++round) {
        std::printf("\nround %zu of %zu (ratios against this round's bridge)\n", round + 1, rounds);
        printRows(by_round[round]);
    }
    // The median of each figure over the rounds, per path and QoS.
    std::vector<Row> medians;
    for (const Row& first : by_round[0]) {
        std::vector<double> rate, p50, p99;
        std::string rss = first.rss;
        std::string windows;  // uplinkd's automatic in-flight window in each round
        for (const auto& rows : by_round) {
            for (const Row& r : rows) {
                if (r.qos == first.qos && pathOf(r) == pathOf(first)) {
                    if (const size_t w = r.name.find("window "); w != std::string::npos) {
                        windows += (windows.empty() ? "" : "/") +
                                   r.name.substr(w + 7, r.name.find(')', w) - w - 7);
                    }
                    rate.push_back(r.rate);
                    p50.push_back(r.p50_ms);
                    p99.push_back(r.p99_ms);
                    rss = std::max(rss, r.rss, [](const std::string& a, const std::string& b) {
                        return std::atol(a.c_str()) < std::atol(b.c_str());
                    });
                }
            }
        }
        const std::string name =
            windows.empty() ? pathOf(first) : pathOf(first) + " (windows " + windows + ")";
        medians.push_back(Row{name, first.qos, median(rate), median(p50), median(p99), rss});
    }
    std::printf("\nmedian of %zu rounds (peak RSS: the largest)\n", rounds);
    printRows(medians);
    auto med = [&](int qos, const char* path) -> const Row& {
        return *std::find_if(medians.begin(), medians.end(), [&](const Row& r) {
            return r.qos == qos && r.name.rfind(path, 0) == 0;
        });
    };
    const Row& u0 = med(0, "uplinkd");
    const Row& u1 = med(1, "uplinkd");
    const Row& b0 = med(0, "mosquitto bridge");
    const Row& b1 = med(1, "mosquitto bridge");
    std::printf(
        "\nissue 14 targets (uplinkd against the bridge, ratio of the medians of %zu rounds)\n",
        rounds);
    std::printf("%-40s %9s %9s   %s\n", "figure", "measured", "target", "each round");
    auto perRound = [&](int qos, bool p99) {
        std::string out;
        for (const auto& rows : by_round) {
            const Row *u = nullptr, *b = nullptr;
            for (const Row& r : rows) {
                if (r.qos == qos && pathOf(r) == "uplinkd") {
                    u = &r;
                } else if (r.qos == qos && pathOf(r) == "mosquitto bridge") {
                    b = &r;
                }
            }
            char buf[32];
            std::snprintf(
                buf, sizeof buf, "%.2fx ",
                u && b ? (p99 ? ratio(u->p99_ms, b->p99_ms) : ratio(u->rate, b->rate)) : 0.0);
            out += buf;
        }
        return out;
    };
    std::printf("%-40s %8.2fx %9s   %s\n", "QoS 0 throughput", ratio(u0.rate, b0.rate), ">= 1.0x",
                perRound(0, false).c_str());
    std::printf("%-40s %8.2fx %9s   %s\n", "QoS 1 throughput", ratio(u1.rate, b1.rate), ">= 1.5x",
                perRound(1, false).c_str());
    std::printf("%-40s %8.2fx %9s   %s\n", "QoS 1 p99 latency", ratio(u1.p99_ms, b1.p99_ms),
                "<= 0.5x", perRound(1, true).c_str());
    if (offline > 0) {
        offlineRss(offline);
    }
    return 0;
}
