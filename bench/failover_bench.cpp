// SPDX-License-Identifier: Apache-2.0
// Failover benchmark: uplinkd in a network namespace with two veth links to the broker (see
// tests/support/net_lab.hpp) while a local app publishes a QoS 1 message every 10 ms. The
// preferred link loses its carrier and comes back, 10 times. Prints the failover time (last
// message that arrived over the old uplink → first over the new one) and the fail-back time,
// median and maximum, measured at the broker's subscriber. Needs root.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cli/api_client.hpp"
#include "net_lab.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

/// Arrival times at the subscriber, sampled every 2 ms.
class Arrivals {
  public:
    explicit Arrivals(Subscriber& sub) : sub_(sub), thread_([this] { run(); }) {}
    ~Arrivals() {
        stop_ = true;
        thread_.join();
    }
    /// The longest time without an arrival that overlaps [from, to], in ms.
    double longestGap(Clock::time_point from, Clock::time_point to) {
        std::lock_guard<std::mutex> lock(mu_);
        double best = 0;
        for (size_t i = 1; i < times_.size(); ++i) {
            if (times_[i] >= from && times_[i - 1] <= to) {
                best = std::max(
                    best,
                    std::chrono::duration<double, std::milli>(times_[i] - times_[i - 1]).count());
            }
        }
        return best;
    }

  private:
    void run() {
        size_t seen = 0;
        while (!stop_) {
            const size_t n = sub_.messages().size();
            if (n != seen) {
                seen = n;
                std::lock_guard<std::mutex> lock(mu_);
                times_.push_back(Clock::now());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    Subscriber& sub_;
    std::mutex mu_;
    std::vector<Clock::time_point> times_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

int runBench() {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    NetLab lab;
    if (!lab.ok()) {
        std::fprintf(stderr, "failover_bench: cannot set up the network namespace\n");
        return 1;
    }
    const uint16_t port = freePort();
    Mosquitto broker = lab.broker(dir, pki, port);
    Subscriber sub(pki, broker.port(), "fb/#");
    const std::string uplinks =
        "[uplinks.eth]\ntype = \"network\"\ninterface = \"ea\"\n"
        "[uplinks.wifi]\ntype = \"network\"\ninterface = \"eb\"\n";
    const std::string route = lab.route(port, pki,
                                        {.uplinks = "\"eth\", \"wifi\"",
                                         .client_id = "uplinkd-bench",
                                         .failback_hold_ms = 2000,
                                         .route_lines = "",
                                         .delivery_lines = ""});
    Daemon d(dir, uplinks + route, {}, lab.prefix());
    auto on = [&](size_t switches, const std::string& uplink) {
        return d.waitRoute(
            "cloud",
            [&](const json& s) {
                return s["state"] == "online" && s["active_uplink"] == uplink &&
                       s["failovers"].size() >= std::min<size_t>(switches, 10);
            },
            120s);
    };
    if (!on(0, "eth")) {
        std::fprintf(stderr, "failover_bench: the route did not come online\n");
        return 1;
    }
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        ApiClient c;
        if (!c.connect(d.socket())) {
            return;
        }
        for (int i = 0; !stop; ++i) {
            (void)c.send({{"op", "publish"},
                          {"id", i},
                          {"route", "cloud"},
                          {"topic", "fb/data"},
                          {"qos", 1},
                          {"payload", "m" + std::to_string(i)}});
            (void)c.receive(5s);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    Arrivals arrivals(sub);
    std::vector<double> failover, failback;
    for (int round = 0; round < 10; ++round) {
        std::this_thread::sleep_for(500ms);  // some traffic over eth first
        const auto cut = Clock::now();
        lab.carrier('a', false);
        if (!on(static_cast<size_t>(2 * round + 1), "wifi")) {
            std::fprintf(stderr, "failover_bench: no failover in round %d\n", round);
            break;
        }
        std::this_thread::sleep_for(300ms);  // the first messages over wifi
        failover.push_back(arrivals.longestGap(cut, Clock::now()));
        const auto restored = Clock::now();
        lab.carrier('a', true);
        if (!on(static_cast<size_t>(2 * round + 2), "eth")) {
            std::fprintf(stderr, "failover_bench: no fail-back in round %d\n", round);
            break;
        }
        std::this_thread::sleep_for(300ms);
        failback.push_back(arrivals.longestGap(restored, Clock::now()));
    }
    stop = true;
    publisher.join();
    std::printf("failover_bench: carrier lost on the preferred uplink, QoS 1 every 10 ms\n");
    std::printf("%-30s %8s %10s %10s\n", "", "switches", "median ms", "max ms");
    std::printf("%-30s %8zu %10.0f %10.0f\n", "failover (eth -> wifi)", failover.size(),
                median(failover),
                failover.empty() ? 0 : *std::max_element(failover.begin(), failover.end()));
    std::printf("%-30s %8zu %10.0f %10.0f\n", "fail-back (wifi -> eth)", failback.size(),
                median(failback),
                failback.empty() ? 0 : *std::max_element(failback.begin(), failback.end()));
    std::printf("(fail-back time: the pause at the switch, after the %d ms hold-down)\n", 2000);
    return failover.size() == 10 && failback.size() == 10 ? 0 : 1;
}

}  // namespace
}  // namespace uplinkd::testing

int main() {
    return uplinkd::testing::runBench();
}
