// SPDX-License-Identifier: Apache-2.0
// Metered uplinks on real links: uplinkd runs in a network namespace (NetLab) with two veth links,
// "ea" for the unmetered uplink eth and "eb" for the metered uplink lte (a network uplink standing
// for a cellular one). When eth loses its carrier the route fails over to lte and sends only the
// messages of metered_topics; the rest wait in the spool (status: held_metered) and go out, in
// order, once the route is back on eth.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.hpp"
#include "net_lab.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

/// eth (link a, unmetered) first, then lte (link b, metered); metered_topics as given.
std::string meteredConfig(const NetLab& lab, uint16_t port, const Pki& pki,
                          const std::string& metered_topics) {
    return "[uplinks.eth]\ntype = \"network\"\ninterface = \"ea\"\n"
           "[uplinks.lte]\ntype = \"network\"\ninterface = \"eb\"\nmetered = true\n" +
           lab.route(port, pki,
                     {.uplinks = "\"eth\", \"lte\"",
                      .client_id = "uplinkd-metered",
                      .failback_hold_ms = 3000,
                      .route_lines = "metered_topics = [" + metered_topics + "]\n",
                      .delivery_lines = "inflight_window = 4\n"});
}

/// Publishes (topic, payload) pairs with QoS 1, pipelined; every one must be queued.
void publishAll(ApiClient& c, const std::vector<std::pair<std::string, std::string>>& messages) {
    for (size_t i = 0; i < messages.size(); ++i) {
        ASSERT_TRUE(c.send({{"op", "publish"},
                            {"id", i},
                            {"route", "cloud"},
                            {"topic", messages[i].first},
                            {"qos", 1},
                            {"payload", messages[i].second}}));
    }
    for (size_t i = 0; i < messages.size(); ++i) {
        auto r = c.receive(30s);
        ASSERT_TRUE(r) << "no answer to a publish";
        ASSERT_EQ((*r)["status"], "queued") << r->dump();
    }
}

/// The payloads received on topics starting with `prefix`, in arrival order, without the repeats
/// of QoS 1 (a message sent again after a switch may arrive twice).
std::vector<std::string> payloadsOn(Subscriber& sub, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& m : sub.messages()) {
        if (m.topic.rfind(prefix, 0) == 0 &&
            std::find(out.begin(), out.end(), m.payload) == out.end()) {
            out.push_back(m.payload);
        }
    }
    return out;
}

bool onUplink(const json& s, size_t switches, const std::string& active) {
    return s["failovers"].size() >= switches && s["state"] == "online" &&
           s["active_uplink"] == active;
}

class Metered : public LabTest {};

TEST_F(Metered, OnlyMeteredTopicsGoOverTheMeteredUplinkTheRestFollowAfterFailBack) {
    ASSERT_TRUE(lab.ok());
    Mosquitto broker = lab.broker(dir, pki, port);
    Subscriber sub(pki, broker.port(), "#");
    Daemon d(dir, meteredConfig(lab, port, pki, "\"alarms/#\""), {}, lab.prefix());
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return onUplink(r, 0, "eth"); }, 60s))
        << d.routeStatus("cloud").dump();
    json s = d.routeStatus("cloud");
    EXPECT_EQ(uplinkIn(s, "eth")["metered"], false) << s.dump();
    EXPECT_EQ(uplinkIn(s, "lte")["metered"], true) << s.dump();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));

    // On the unmetered uplink everything goes.
    publishAll(c, {{"telemetry/y", "t0"}, {"alarms/x", "a0"}});
    ASSERT_TRUE(sub.waitFor(2, 60s));
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["queued"] == 0; }, 60s));

    // eth loses its carrier: the route moves to the metered lte.
    lab.carrier('a', false);
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return onUplink(r, 1, "lte"); }, 60s))
        << d.routeStatus("cloud").dump();

    // Telemetry and alarms interleaved, then one more alarm as the sentinel: once the sentinel
    // has arrived, every alarm has, and a telemetry message that was going to cross lte would
    // have arrived before it (order per route).
    std::vector<std::pair<std::string, std::string>> mixed;
    for (int i = 1; i <= 20; ++i) {
        mixed.emplace_back("telemetry/y", "t" + std::to_string(i));
        if (i % 2 == 0) {
            mixed.emplace_back("alarms/x", "a" + std::to_string(i / 2));
        }
    }
    mixed.emplace_back("alarms/x", "sentinel");
    publishAll(c, mixed);
    ASSERT_TRUE(sub.waitFor(2 + 11, 60s)) << d.routeStatus("cloud").dump();
    std::vector<std::string> alarms = {"a0"};
    for (int i = 1; i <= 10; ++i) {
        alarms.push_back("a" + std::to_string(i));
    }
    alarms.push_back("sentinel");
    EXPECT_EQ(payloadsOn(sub, "alarms/"), alarms);
    EXPECT_EQ(payloadsOn(sub, "telemetry/"), std::vector<std::string>{"t0"})
        << "telemetry went over the metered uplink";
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["held_metered"] == 20 && r["queued"] == 20; }, 30s))
        << d.routeStatus("cloud").dump();
    EXPECT_NE(d.log().find("uplink lte is metered: sending only alarms/#"), std::string::npos)
        << d.log();

    // eth is back: after the hold-down the route returns to it and the held telemetry follows,
    // in order, after the newer alarms.
    lab.carrier('a', true);
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return onUplink(r, 2, "eth"); }, 60s))
        << d.routeStatus("cloud").dump();
    ASSERT_TRUE(sub.waitFor(2 + 11 + 20, 60s)) << d.routeStatus("cloud").dump();
    std::vector<std::string> telemetry;
    for (int i = 0; i <= 20; ++i) {
        telemetry.push_back("t" + std::to_string(i));
    }
    EXPECT_EQ(payloadsOn(sub, "telemetry/"), telemetry);
    const auto all = sub.messages();
    const auto at = [&](const std::string& payload) {
        return std::find_if(all.begin(), all.end(),
                            [&](const Subscriber::Received& m) { return m.payload == payload; }) -
               all.begin();
    };
    EXPECT_LT(at("sentinel"), at("t1")) << "the held telemetry came before the newer alarms";
    ASSERT_TRUE(d.waitRoute(
        "cloud", [](const json& r) { return r["held_metered"] == 0 && r["queued"] == 0; }, 30s))
        << d.routeStatus("cloud").dump();
    s = d.routeStatus("cloud");
    EXPECT_EQ(s["failovers"].size(), 2u) << s.dump();
    EXPECT_EQ(s["expired"], 0) << s.dump();
    EXPECT_EQ(s["dropped"], 0) << s.dump();
}

}  // namespace
}  // namespace uplinkd::testing
