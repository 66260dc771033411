// SPDX-License-Identifier: Apache-2.0
// Soak of the modem path (label "soak", in the default run): 20 hangs and restarts of the module
// at random points (seeded; the seed is printed, UPLINKD_SOAK_SEED repeats a run), often inside
// a data phase, with messages both ways: every queued message arrives, every cloud message
// reaches the local subscriber intact, and the module ends with no leaked session.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "modem_emulator.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr int kCycles = 20;

// ---- soak -------------------------------------------------------------------------------------

class ModemSoak : public ::testing::TestWithParam<DriverCase> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_P(ModemSoak, TwentyHangsAndRestartsAtRandomPointsLoseNothing) {
    const DriverCase& drv = GetParam();
    requireDriverPlugin(drv);
    uint32_t seed = std::random_device{}();
    if (const char* s = std::getenv("UPLINKD_SOAK_SEED")) {
        seed = static_cast<uint32_t>(std::stoul(s));
    }
    std::cout << "[ seed     ] " << drv.model << ": UPLINKD_SOAK_SEED=" << seed << "\n";
    RecordProperty("seed", std::to_string(seed));
    std::mt19937 rng(seed);

    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, drv.model, 0);
    Daemon d(dir, modemUplinkConfig(drv, emu, drv.model == "hl78" ? "modem" : "local") +
                      genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready")) << d.log();

    const auto tokens = framingTokenPayloads();
    ApiClient pub;
    ASSERT_TRUE(pub.connect(d.socket()));
    std::set<int> queued;
    std::map<std::string, std::string> downlink;
    std::map<std::string, int> faults;
    int id = 0;
    for (int cycle = 0; cycle < kCycles; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle) + ", seed " + std::to_string(seed));
        // Down, while the route is online: each message must arrive intact.
        for (int k = 0; k < 2; ++k) {
            const std::string topic = "down/" + std::to_string(cycle) + "/" + std::to_string(k);
            const std::string payload = tokens[rng() % 3] + topic;
            downlink[topic] = payload;
            cloud.publish(topic, payload, 1);
            ASSERT_TRUE(local.waitFor(topic, 90s)) << topic << "\n" << d.log();
        }
        // A fault at a random point: a hang or a reboot, now or inside the next data phase
        // (the payload written by the next sends, or the bytes of the next reads: the PUBACKs).
        const size_t ready_before = occurrences(d.log(), "modem ready again");
        std::string fault;
        // Reboots twice as often as hangs: a hang costs a failed soft restart and the reset line.
        switch (rng() % 9) {
            case 0:
            case 1:
                fault = "reboot";
                break;
            case 2:
                fault = "fault silent";
                break;
            case 3:
            case 4:
                fault = "fault reboot-in-uplink " + std::to_string(rng() % 300);
                break;
            case 5:
                fault = "fault silent-in-uplink " + std::to_string(rng() % 300);
                break;
            case 6:
            case 7:
                fault = "fault reboot-in-downlink " + std::to_string(rng() % 8);
                break;
            default:
                fault = "fault silent-in-downlink " + std::to_string(rng() % 8);
                break;
        }
        ++faults[fault.starts_with("fault ") &&
                         std::isdigit(static_cast<unsigned char>(fault.back()))
                     ? fault.substr(0, fault.rfind(' '))
                     : fault];
        const bool now = fault == "reboot" || fault == "fault silent";
        if (!now) {
            ASSERT_EQ(emu.control(fault), "ok " + fault);
        }
        // Up: queued now, delivered whenever the route gets through.
        for (int k = 0; k < 3; ++k) {
            std::string payload = "msg-" + std::to_string(id) + "-" + tokens[rng() % 3];
            payload.resize(100 + rng() % 3000, 'y');
            ASSERT_TRUE(pub.send(modemPublishRequest(id, "up/" + std::to_string(id), payload)));
            const json q = awaitApiReply(pub, id, "queued", 30s);
            ASSERT_EQ(q["status"], "queued") << q.dump();
            queued.insert(id);
            ++id;
        }
        if (now) {
            ASSERT_EQ(emu.control(fault), "ok " + fault);
        }
        ASSERT_TRUE(waitForLogCount(d, "modem ready again", ready_before + 1, 90s)) << fault << "\n"
                                                                                    << d.log();
        ASSERT_EQ(emu.control("fault none"), "ok fault none");
        // Online again, and subscribed again at the broker (a clean session starts empty).
        ASSERT_TRUE(local.ready(cloud, "down/ready/" + std::to_string(cycle))) << d.log();
    }
    for (const auto& [f, n] : faults) {
        std::cout << "[ faults   ] " << drv.model << ": " << f << " x" << n << "\n";
    }
    // Every queued message arrived (at least once), every cloud message reached the local app
    // intact, and the module holds no session the route does not use.
    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<int> got;
            for (const auto& m : cloud.messages()) {
                got.insert(std::stoi(m.topic.substr(3)));
            }
            return std::includes(got.begin(), got.end(), queued.begin(), queued.end());
        },
        120s))
        << cloud.messages().size() << " of " << queued.size() << "\n"
        << d.routeStatus("cloud").dump();
    for (const auto& [topic, payload] : downlink) {
        const auto& got = local.received().at(topic);
        ASSERT_FALSE(got.empty()) << topic;
        EXPECT_TRUE(got[0] == payload) << topic << " arrived changed";
    }
    const json st = emu.status();
    EXPECT_LE(st["sockets"].size(), 1u) << st.dump();
}

// The HL78 (the module of the field reports); the A76xx paths are covered by
// modem_sessions_tests, and a second 20-cycle run would double the time.
INSTANTIATE_TEST_SUITE_P(Drivers, ModemSoak, ::testing::Values(kHl78Case),
                         [](const ::testing::TestParamInfo<DriverCase>& p) {
                             return p.param.model;
                         });

}  // namespace
}  // namespace uplinkd::testing
