// SPDX-License-Identifier: Apache-2.0
// The data budget end to end: after traffic through a real Mosquitto, the status JSON of the
// route's uplink carries the UTC day's bytes, `uplinkctl status` shows them in one line, and
// after a clean daemon restart the day's total goes on from where it was.
#include <gtest/gtest.h>

#include <cstdio>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

std::string run(const std::string& cmd) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    std::string out;
    if (p == nullptr) {
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    ::pclose(p);
    return out;
}

/// Sent bytes over the days the status shows (today and the days before): a day that ends
/// during the test moves bytes from today to days[], the sum stays.
uint64_t sentOverDays(const json& uplink) {
    uint64_t sum = uplink["today"]["sent"].get<uint64_t>();
    for (const auto& d : uplink["days"]) {
        sum += d["sent"].get<uint64_t>();
    }
    return sum;
}

bool deliver(Daemon& d, int count, uint64_t delivered_before) {
    ApiClient c;
    if (!c.connect(d.socket())) {
        return false;
    }
    for (int i = 0; i < count; ++i) {
        if (!c.send({{"op", "publish"},
                     {"id", i},
                     {"route", "cloud"},
                     {"topic", "budget/data"},
                     {"qos", 1},
                     {"payload", std::string(1000, 'b')}})) {
            return false;
        }
    }
    return d.waitRoute(
        "cloud",
        [&](const json& s) { return s["delivered"].get<uint64_t>() >= delivered_before + count; },
        60s);
}

TEST(DataBudget, StatusCarriesTheDaysBytesAfterTrafficAndAfterARestart) {
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    Mosquitto broker(dir, pki);
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(deliver(d, 20, 0)) << d.routeStatus("cloud").dump();

    const json before = d.routeStatus("cloud")["uplinks"][0];
    ASSERT_TRUE(before.contains("today")) << before.dump();
    const std::string date = before["today"]["date"].get<std::string>();
    EXPECT_EQ(date.size(), 10u) << before.dump();  // YYYY-MM-DD
    // 20 messages of 1000 bytes went out over this uplink today (plus TLS and MQTT framing),
    // and everything the daemon sent since it started was counted for the days shown.
    EXPECT_GT(sentOverDays(before), 20u * 1000u) << before.dump();
    EXPECT_EQ(sentOverDays(before), before["bytes_sent"].get<uint64_t>()) << before.dump();

    // `uplinkctl status`: one short line per uplink.
    const std::string text =
        run(buildDir() + "/daemon/uplinkctl --socket " + d.socket() + " status");
    EXPECT_NE(text.find("  data network: "), std::string::npos) << text;
    EXPECT_NE(text.find(" received today (UTC); "), std::string::npos) << text;
    EXPECT_NE(text.find(" since start"), std::string::npos) << text;

    // A clean restart: the counters since start begin again, the day's total does not.
    d.restart();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 60s))
        << d.routeStatus("cloud").dump();
    ASSERT_TRUE(deliver(d, 5, 0)) << d.routeStatus("cloud").dump();
    const json after = d.routeStatus("cloud")["uplinks"][0];
    ASSERT_TRUE(after.contains("today")) << after.dump();
    const uint64_t since_start = after["bytes_sent"].get<uint64_t>();
    EXPECT_GT(since_start, 5u * 1000u) << after.dump();
    EXPECT_LT(since_start, sentOverDays(before)) << after.dump();
    // What was counted before the restart is still there, with what came after it.
    EXPECT_GE(sentOverDays(after), sentOverDays(before) + since_start)
        << "before: " << before.dump() << "\nafter: " << after.dump();
}

}  // namespace
}  // namespace uplinkd::testing
