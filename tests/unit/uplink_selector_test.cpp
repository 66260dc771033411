// SPDX-License-Identifier: Apache-2.0
// UplinkSelector (which uplink carries a route, failover, probes, fail-back with hold-down) and
// the rtnetlink link parser, from tables with an injected clock.
#include "session/uplink_selector.hpp"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>

#include "uplink/link_monitor.hpp"

namespace uplinkd {
namespace {

using State = UplinkSelector::State;
constexpr unsigned kLowerUp = 0x10000;  // <linux/if.h>, which clashes with <net/if.h>

UplinkSelector::Settings settings() {
    // failover 1 s, hold-down 5 s, probes every 1 s doubling up to 4 s.
    return {1000, 5000, 1000, 4000};
}

std::vector<State> states(const UplinkSelector& s) {
    std::vector<State> out;
    for (const auto& e : s.entries()) {
        out.push_back(e.state);
    }
    return out;
}

TEST(UplinkSelector, DialsHealthyUplinksFirstInOrderOfPreference) {
    struct Case {
        const char* what;
        std::vector<size_t> failing;
        std::vector<size_t> order;
    };
    const Case cases[] = {
        {"all healthy", {}, {0, 1, 2}},
        {"first failing", {0}, {1, 2, 0}},
        {"middle failing", {1}, {0, 2, 1}},
        {"two failing", {0, 1}, {2, 0, 1}},
        {"all failing: by preference", {0, 1, 2}, {0, 1, 2}},
    };
    for (const auto& c : cases) {
        UplinkSelector s({"eth", "wifi", "lte"}, settings());
        for (size_t i : c.failing) {
            s.dialFailed(i, "connection refused", 100);
        }
        EXPECT_EQ(s.dialOrder(), c.order) << c.what;
    }
}

TEST(UplinkSelector, FailoverIsRecordedWithTheReason) {
    UplinkSelector s({"eth", "lte"}, settings());
    s.connected(0, 1000);
    EXPECT_TRUE(s.history().empty()) << "the first connection is no switch";
    EXPECT_EQ(states(s), (std::vector<State>{State::Active, State::Standby}));
    s.lost("nothing received for 1 s", 3000);
    EXPECT_EQ(s.entries()[0].state, State::Failing);
    EXPECT_EQ(s.entries()[0].reason, "nothing received for 1 s");
    EXPECT_EQ(s.dialOrder(), (std::vector<size_t>{1, 0}));
    s.connected(1, 3200);
    ASSERT_EQ(s.history().size(), 1u);
    EXPECT_EQ(s.history()[0].from, "eth");
    EXPECT_EQ(s.history()[0].to, "lte");
    EXPECT_EQ(s.history()[0].at_ms, 3200);
    EXPECT_EQ(s.history()[0].reason, "eth: nothing received for 1 s");
    EXPECT_EQ(s.active(), 1u);
}

TEST(UplinkSelector, SilenceMeansDeadAfterTheDetectionTime) {
    struct Case {
        int64_t last_rx, now;
        bool silent;
    };
    const Case cases[] = {
        {1000, 1500, false}, {1000, 1999, false}, {1000, 2000, true}, {1000, 9000, true}};
    for (const auto& c : cases) {
        UplinkSelector s({"eth", "lte"}, settings());
        EXPECT_FALSE(s.silent(c.now)) << "not connected: never silent";
        s.connected(0, 0);
        s.traffic(0)->last_received_ms = c.last_rx;
        EXPECT_EQ(s.silent(c.now), c.silent) << c.last_rx << " → " << c.now;
    }
}

TEST(UplinkSelector, ProbesOnlyPreferredUplinksWithBackoff) {
    UplinkSelector s({"eth", "wifi", "lte"}, settings());
    s.connected(0, 0);
    EXPECT_FALSE(s.nextProbeAt()) << "on the preferred uplink nothing is probed";
    s.lost("interface eth0 down", 100);
    s.dialFailed(1, "connection refused", 100);
    s.connected(2, 200);
    EXPECT_EQ(s.nextProbeAt(), 1200);
    EXPECT_TRUE(s.probesDue(1199).empty());
    EXPECT_EQ(s.probesDue(1200), (std::vector<size_t>{0, 1}));
    // Failing probes: 1 s, 2 s, 4 s, 4 s apart.
    const int64_t expect_next[] = {2200, 4200, 8200, 12200};
    int64_t now = 1200;
    for (int64_t next : expect_next) {
        s.probeStarted(0, now);
        EXPECT_TRUE(s.probesDue(now).size() <= 1) << "not probed again while it runs";
        s.probeResult(0, false, "connect timed out", now);
        EXPECT_EQ(s.entries()[0].next_probe_ms, next);
        EXPECT_EQ(s.entries()[0].state, State::Failing);
        EXPECT_EQ(s.entries()[0].last_probe_ms, now);
        now = next;
    }
}

TEST(UplinkSelector, FailsBackOnlyAfterTheHoldDownWithoutABounce) {
    // Probe results of "eth" while "lte" carries the route: time → ok; and whether fail-back
    // is due right after.
    struct Step {
        int64_t at;
        bool ok;
        bool failback;
    };
    struct Case {
        const char* what;
        std::vector<Step> steps;
    };
    const Case cases[] = {
        {"steady",
         {{1000, true, false}, {3000, true, false}, {5999, true, false}, {6000, true, true}}},
        {"bounce restarts the hold-down",
         {{1000, true, false},
          {4000, false, false},
          {5000, true, false},
          {8000, true, false},
          {9999, true, false},
          {10000, true, true}}},
        {"no hold-down after failing", {{1000, false, false}, {7000, false, false}}},
    };
    for (const auto& c : cases) {
        UplinkSelector s({"eth", "lte"}, settings());
        s.connected(0, 0);
        s.lost("connection lost", 10);
        s.connected(1, 20);
        for (const auto& st : c.steps) {
            s.probeStarted(0, st.at);
            s.probeResult(0, st.ok, st.ok ? "" : "TLS: handshake timed out", st.at);
            EXPECT_EQ(s.failbackCandidate(st.at).has_value(), st.failback)
                << c.what << " at " << st.at;
        }
    }
}

TEST(UplinkSelector, FailBackIsRecordedAndTheOldUplinkIsStandby) {
    UplinkSelector s({"eth", "lte"}, settings());
    s.connected(0, 0);
    s.lost("connection lost", 10);
    s.connected(1, 20);
    s.leaving("fail-back: eth healthy for 5 s");
    s.connected(0, 7000);
    EXPECT_EQ(states(s), (std::vector<State>{State::Active, State::Standby}));
    ASSERT_EQ(s.history().size(), 2u);
    EXPECT_EQ(s.history()[1].from, "lte");
    EXPECT_EQ(s.history()[1].to, "eth");
    EXPECT_EQ(s.history()[1].reason, "fail-back: eth healthy for 5 s");
}

TEST(UplinkSelector, KeepsTheLastTenSwitches) {
    UplinkSelector s({"eth", "lte"}, settings());
    s.connected(0, 0);
    for (int i = 1; i <= 25; ++i) {
        s.lost("switch " + std::to_string(i), i * 100);
        s.connected(i % 2, i * 100 + 1);
    }
    ASSERT_EQ(s.history().size(), UplinkSelector::kHistory);
    EXPECT_EQ(s.history().front().reason, "lte: switch 16");
    EXPECT_EQ(s.history().back().reason, "eth: switch 25");
}

TEST(UplinkSelector, InterfaceDownMarksTheUplinkFailingAndUpProbesAtOnce) {
    UplinkSelector s({"eth", "lte"}, settings());
    s.connected(1, 0);
    s.linkChanged(0, false, "interface eth0 down (or carrier lost)", 500);
    EXPECT_EQ(s.entries()[0].state, State::Failing);
    s.probeResult(0, false, "network unreachable", 600);
    EXPECT_GT(s.entries()[0].next_probe_ms, 1000);
    s.linkChanged(0, true, "interface eth0 up", 1000);
    EXPECT_EQ(s.probesDue(1000), (std::vector<size_t>{0}));
    // Down on the active one is a loss.
    s.linkChanged(1, false, "interface wwan0 down (or carrier lost)", 1100);
    EXPECT_FALSE(s.active());
    EXPECT_EQ(s.entries()[1].state, State::Failing);
}

/// One RTM_NEWLINK/RTM_DELLINK message for `name` with `flags`.
std::vector<uint8_t> linkMessage(uint16_t type, const std::string& name, unsigned flags) {
    const size_t attr_len = RTA_LENGTH(name.size() + 1);
    const size_t len = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifinfomsg)) + RTA_ALIGN(attr_len));
    std::vector<uint8_t> buf(NLMSG_ALIGN(len), 0);
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(len);
    h.nlmsg_type = type;
    std::memcpy(buf.data(), &h, sizeof h);
    ifinfomsg ifi{};
    ifi.ifi_flags = flags;
    std::memcpy(buf.data() + NLMSG_HDRLEN, &ifi, sizeof ifi);
    rtattr a{};
    a.rta_len = static_cast<uint16_t>(attr_len);
    a.rta_type = IFLA_IFNAME;
    uint8_t* at = buf.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
    std::memcpy(at, &a, sizeof a);
    std::memcpy(at + RTA_LENGTH(0), name.c_str(), name.size() + 1);
    return buf;
}

TEST(LinkMonitor, ParsesLinkMessages) {
    struct Case {
        const char* what;
        std::vector<uint8_t> buf;
        std::vector<LinkEvent> events;
    };
    auto two = linkMessage(RTM_NEWLINK, "eth0", IFF_UP | kLowerUp);
    auto more = linkMessage(RTM_NEWLINK, "wlan0", IFF_UP);
    two.insert(two.end(), more.begin(), more.end());
    auto truncated = linkMessage(RTM_NEWLINK, "eth0", IFF_UP | kLowerUp);
    truncated.resize(truncated.size() - 4);
    auto bad_attr = linkMessage(RTM_NEWLINK, "eth0", IFF_UP);
    bad_attr[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg))] = 0xff;  // rta_len past the end
    const Case cases[] = {
        {"up with carrier", linkMessage(RTM_NEWLINK, "eth0", IFF_UP | kLowerUp), {{"eth0", true}}},
        {"carrier lost", linkMessage(RTM_NEWLINK, "eth0", IFF_UP), {{"eth0", false}}},
        {"admin down", linkMessage(RTM_NEWLINK, "eth0", kLowerUp), {{"eth0", false}}},
        {"removed", linkMessage(RTM_DELLINK, "eth0", IFF_UP | kLowerUp), {{"eth0", false}}},
        {"two messages", two, {{"eth0", true}, {"wlan0", false}}},
        {"other message", linkMessage(RTM_NEWADDR, "eth0", IFF_UP), {}},
        {"truncated", truncated, {}},
        {"attribute too long", bad_attr, {}},
        {"empty", {}, {}},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parseLinkMessages(c.buf), c.events) << c.what;
    }
}

}  // namespace
}  // namespace uplinkd
