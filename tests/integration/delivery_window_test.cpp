// SPDX-License-Identifier: Apache-2.0
// The in-flight window (issue 14): without inflight_window the route chooses it from the
// measured round trip and shows it in the status; a configured one is kept and never exceeded.
#include <gtest/gtest.h>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

class DeliveryWindow : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_F(DeliveryWindow, ChosenFromTheRoundTripAndShownInTheStatus) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "dw/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 20s))
        << d.log();
    constexpr int kTotal = 1500;
    ASSERT_EQ(queueMessages(d.socket(), kTotal, "dw/data"), kTotal);
    ASSERT_TRUE(sub.waitFor(kTotal, 60s)) << d.log();
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s.value("delivered", 0) >= kTotal; }, 30s));
    const json s = d.routeStatus("cloud");
    ASSERT_TRUE(s.contains("inflight_window")) << s.dump();
    EXPECT_EQ(s.value("inflight_window_auto", false), true) << s.dump();
    EXPECT_GE(s.value("inflight_window", 0), 8) << s.dump();
    EXPECT_LE(s.value("inflight_window", 0), 1024) << s.dump();
    EXPECT_GT(s.value("round_trip_ms", 0.0), 0.0) << s.dump();
}

TEST_F(DeliveryWindow, ConfiguredWindowIsKeptAndNeverExceeded) {
    Mosquitto broker(dir, pki);
    Subscriber sub(pki, broker.port(), "dw/#");
    Daemon d(dir, genericRoute("cloud", broker.port(), pki.ca) + "inflight_window = 5\n");
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& s) { return s["state"] == "online"; }, 20s))
        << d.log();
    constexpr int kTotal = 600;
    ASSERT_EQ(queueMessages(d.socket(), kTotal, "dw/data"), kTotal);
    uint64_t most_in_flight = 0;
    ASSERT_TRUE(d.waitRoute(
        "cloud",
        [&](const json& s) {
            most_in_flight = std::max<uint64_t>(most_in_flight, s.value("in_flight", 0));
            return s.value("delivered", 0) >= kTotal;
        },
        60s));
    EXPECT_LE(most_in_flight, 5u);
    const json s = d.routeStatus("cloud");
    EXPECT_EQ(s.value("inflight_window", 0), 5) << s.dump();
    EXPECT_EQ(s.value("inflight_window_auto", true), false) << s.dump();
    EXPECT_TRUE(sub.waitFor(kTotal, 30s));
}

}  // namespace
}  // namespace uplinkd::testing
