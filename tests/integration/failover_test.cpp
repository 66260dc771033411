// SPDX-License-Identifier: Apache-2.0
// Failover between a route's uplinks on real links: uplinkd runs in a network namespace with
// two veth links ("ea" for uplink eth, "eb" for uplink wifi) to the test's namespace, where
// Mosquitto listens on an address reachable over both. A link loses its carrier, or goes silent
// (its replies dropped into a blackhole route), in the middle of a stream of QoS 1 messages:
// every message arrives, in order; the route comes back to the preferred uplink after the
// hold-down and not while that uplink bounces; the status shows the switches and the bytes.
// Also a network uplink with a modem uplink through the emulator.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/api_client.hpp"
#include "modem_emulator.hpp"
#include "net_lab.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// The route "cloud" over `uplinks` to the lab's broker.
std::string labRoute(const NetLab& lab, uint16_t port, const Pki& pki, const std::string& uplinks) {
    return lab.route(port, pki,
                     {.uplinks = uplinks,
                      .client_id = "uplinkd-failover",
                      .failback_hold_ms = 3000,
                      .route_lines = "",
                      .delivery_lines = "inflight_window = 16\n"});
}

const char* kTwoNetworks =
    "[uplinks.eth]\ntype = \"network\"\ninterface = \"ea\"\n[uplinks.wifi]\ntype = "
    "\"network\"\ninterface = \"eb\"\n";

/// Publishes messages `from`..`to`-1 ("m<i>", `size` bytes) pipelined; all must be queued.
void publishRange(ApiClient& c, int from, int to, size_t size = 64) {
    int next = from;
    int answered = from;
    while (answered < to) {
        while (next < to && next - answered < 64) {
            std::string payload = "m" + std::to_string(next) + ":";
            payload.resize(std::max(size, payload.size()), 'x');
            ASSERT_TRUE(c.send({{"op", "publish"},
                                {"id", next},
                                {"route", "cloud"},
                                {"topic", "fo/data"},
                                {"qos", 1},
                                {"payload", payload}}));
            ++next;
        }
        auto r = c.receive(30s);
        ASSERT_TRUE(r) << "no answer to a publish";
        ASSERT_EQ((*r)["status"], "queued") << r->dump();
        ++answered;
    }
}

/// Every message 0..n-1 arrived, and in order (a resent one may come twice).
void expectAllInOrder(Subscriber& sub, int n) {
    ASSERT_TRUE(sub.waitFor(static_cast<size_t>(n), 120s));
    int expect = 0;
    std::string seen;  // the arrival order, for the failure message
    for (const auto& m : sub.messages()) {
        seen += m.payload.substr(0, m.payload.find(':')) + " ";
        const int i = std::stoi(m.payload.substr(1, m.payload.find(':') - 1));
        if (i == expect) {
            ++expect;
        } else {
            // A duplicate of one already seen (QoS 1 resent after a switch) is allowed.
            ASSERT_LT(i, expect) << "message " << i << " came before " << expect << "; arrivals: "
                                 << seen.substr(seen.size() > 400 ? seen.size() - 400 : 0);
        }
    }
    EXPECT_EQ(expect, n);
}

bool switched(const json& s, size_t count, const std::string& active) {
    return s["failovers"].size() >= count && s["state"] == "online" && s["active_uplink"] == active;
}

/// Waits until route "cloud" has made `count` switches and is online on `active`; its status
/// otherwise.
::testing::AssertionResult switchedTo(Daemon& d, size_t count, const std::string& active,
                                      std::chrono::milliseconds timeout = 60s) {
    if (d.waitRoute(
            "cloud", [&](const json& r) { return switched(r, count, active); }, timeout)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << d.routeStatus("cloud").dump();
}

/// Waits until route "cloud" has nothing queued; its status otherwise.
::testing::AssertionResult drained(Daemon& d) {
    if (d.waitRoute(
            "cloud", [](const json& r) { return r["queued"] == 0; }, 60s)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << d.routeStatus("cloud").dump();
}

class Failover : public LabTest {
  protected:
    Mosquitto broker = lab.broker(dir, pki, port);
    Subscriber sub{pki, broker.port(), "fo/#"};
    std::unique_ptr<Daemon> daemon;
    ApiClient c;

    /// uplinkd in the lab's namespace with `uplinks` and route "cloud" over `order`, online on
    /// eth, and `c` connected to its API.
    void startOnEth(const std::string& uplinks, const std::string& order) {
        ASSERT_TRUE(lab.ok());
        daemon = std::make_unique<Daemon>(dir, uplinks + labRoute(lab, port, pki, order),
                                          std::vector<std::string>{}, lab.prefix());
        ASSERT_TRUE(switchedTo(*daemon, 0, "eth"));
        ASSERT_TRUE(c.connect(daemon->socket()));
    }
};

TEST_F(Failover, CarrierLostMidStreamThenFailBackAfterTheHoldDownDespiteBounces) {
    ASSERT_NO_FATAL_FAILURE(startOnEth(kTwoNetworks, "\"eth\", \"wifi\""));
    Daemon& d = *daemon;

    // The chosen interface carries the traffic.
    const uint64_t a0 = lab.received('a'), b0 = lab.received('b');
    publishRange(c, 0, 200, 1000);
    ASSERT_TRUE(drained(d));
    const uint64_t a1 = lab.received('a'), b1 = lab.received('b');
    EXPECT_GT(a1 - a0, 200u * 1000u) << "the messages did not go over eth's interface";
    EXPECT_LT(b1 - b0, 20u * 1000u) << "the messages went over wifi's interface";
    json s = d.routeStatus("cloud");
    EXPECT_GT(uplinkIn(s, "eth")["bytes_sent"].get<uint64_t>(), 200u * 1000u) << s.dump();
    EXPECT_EQ(uplinkIn(s, "wifi")["state"], "standby") << s.dump();

    // Carrier lost in the middle of a stream.
    publishRange(c, 200, 400, 1000);
    lab.carrier('a', false);
    publishRange(c, 400, 500, 1000);
    ASSERT_TRUE(switchedTo(d, 1, "wifi"));
    s = d.routeStatus("cloud");
    EXPECT_EQ(s["failovers"][0]["from"], "eth") << s.dump();
    EXPECT_EQ(s["failovers"][0]["to"], "wifi");
    EXPECT_NE(s["failovers"][0]["reason"].get<std::string>().find("ea down"), std::string::npos)
        << s.dump();
    ASSERT_TRUE(drained(d));
    EXPECT_EQ(uplinkIn(d.routeStatus("cloud"), "eth")["state"], "failing");

    // eth bounces, each time up for less than the hold-down: the route stays on wifi.
    for (int i = 0; i < 3; ++i) {
        lab.carrier('a', true);
        std::this_thread::sleep_for(500ms);  // the bounce itself, not a wait for readiness
        lab.carrier('a', false);
        std::this_thread::sleep_for(200ms);
    }
    publishRange(c, 500, 600, 1000);
    ASSERT_TRUE(drained(d));
    s = d.routeStatus("cloud");
    EXPECT_EQ(s["failovers"].size(), 1u) << "flapped while eth bounced: " << s.dump();

    // eth stays up: back to it after the hold-down, once, without losing a message.
    lab.carrier('a', true);
    publishRange(c, 600, 700, 1000);
    ASSERT_TRUE(switchedTo(d, 2, "eth"));
    publishRange(c, 700, 800, 1000);
    ASSERT_TRUE(drained(d));
    s = d.routeStatus("cloud");
    EXPECT_EQ(s["failovers"].size(), 2u) << s.dump();
    EXPECT_EQ(s["failovers"][1]["to"], "eth");
    EXPECT_NE(s["failovers"][1]["reason"].get<std::string>().find("fail-back"), std::string::npos)
        << s.dump();
    EXPECT_GT(uplinkIn(s, "wifi")["bytes_sent"].get<uint64_t>(), 100u * 1000u) << s.dump();
    EXPECT_EQ(uplinkIn(s, "wifi")["state"], "standby");
    EXPECT_GT(uplinkIn(s, "eth")["last_probe_ms"].get<int64_t>(), 0);
    expectAllInOrder(sub, 800);
    EXPECT_NE(d.log().find("now on uplink wifi instead of eth"), std::string::npos);
}

TEST_F(Failover, SilentUplinkIsNoticedAndLeft) {
    ASSERT_NO_FATAL_FAILURE(startOnEth(kTwoNetworks, "\"eth\", \"wifi\""));
    Daemon& d = *daemon;
    publishRange(c, 0, 100);
    // No error, no closed connection, no carrier change: only silence.
    lab.silenceA(true);
    publishRange(c, 100, 300);
    ASSERT_TRUE(switchedTo(d, 1, "wifi"));
    json s = d.routeStatus("cloud");
    EXPECT_NE(s["failovers"][0]["reason"].get<std::string>().find("nothing received"),
              std::string::npos)
        << s.dump();
    ASSERT_TRUE(drained(d));
    lab.silenceA(false);
    ASSERT_TRUE(switchedTo(d, 2, "eth"));
    publishRange(c, 300, 400);
    ASSERT_TRUE(drained(d));
    expectAllInOrder(sub, 400);
}

TEST_F(Failover, NetworkUplinkFailsOverToTheModem) {
    ASSERT_TRUE(lab.ok());
    const DriverCase& m = kHl78Case;
    ASSERT_TRUE(std::filesystem::exists(pluginDir() + "/uplinkd-modem-" + m.driver + ".so"))
        << "the modem driver plugin " << m.driver << " was not built";
    ModemEmulator emu(dir, m.model);
    std::ostringstream up;
    up << "[uplinks.eth]\ntype = \"network\"\ninterface = \"ea\"\n"
       << "[uplinks.lte]\ntype = \"modem\"\ndriver = \"" << m.driver << "\"\ndevice = \""
       << emu.device() << "\"\nbaud = 115200\nflow_control = false\napn = \"internet\"\n"
       << "[uplinks.lte.power]\nbackend = \"emulator\"\ncontrol_socket = \"" << emu.controlSocket()
       << "\"\nboot_wait_ms = 200\n";
    // Not startOnEth(): this daemon must stop before the emulator does.
    Daemon d(dir, up.str() + labRoute(lab, port, pki, "\"eth\", \"lte\""), {}, lab.prefix());
    ASSERT_TRUE(switchedTo(d, 0, "eth"));
    ASSERT_TRUE(c.connect(d.socket()));
    publishRange(c, 0, 50);
    lab.carrier('a', false);
    publishRange(c, 50, 100);
    ASSERT_TRUE(switchedTo(d, 1, "lte", 120s));
    ASSERT_TRUE(drained(d));
    expectAllInOrder(sub, 100);
    const json s = d.routeStatus("cloud");
    EXPECT_GT(uplinkIn(s, "lte")["bytes_sent"].get<uint64_t>(), 0u) << s.dump();
    EXPECT_GT(emu.status()["bytes_out"].get<uint64_t>(), 0u) << emu.status().dump();
}

}  // namespace
}  // namespace uplinkd::testing
