// SPDX-License-Identifier: Apache-2.0
// Modem sessions that survive a real module, end to end: local app → uplinkd → modem driver
// plugin → AT over a pty → the modem emulator → Mosquitto, and back. Downlink bytes that look
// like the module's own framing, hang/recover cycles beyond the module's session limit, module
// restarts (while idle and inside a data phase). For each driver plugin it applies to. The soak
// is in modem_soak_test.cpp.
#include <gtest/gtest.h>

#include <iostream>

#include "modem_emulator.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

// ---- downlink integrity -----------------------------------------------------------------------

struct Param {
    DriverCase driver;
    std::string tls;
};

void PrintTo(const Param& p, std::ostream* os) {
    *os << p.driver.model << "/" << p.tls;
}

class ModemDownlink : public ::testing::TestWithParam<Param> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_P(ModemDownlink, PayloadsThatLookLikeModuleFramingArriveIntactAndTheConnectionStaysUp) {
    const Param& p = GetParam();
    requireDriverPlugin(p.driver);
    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, p.driver.model);
    Daemon d(dir, modemUplinkConfig(p.driver, emu, p.tls) +
                      genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready")) << d.log();

    const auto payloads = framingTokenPayloads();
    for (size_t i = 0; i < payloads.size(); ++i) {
        cloud.publish("down/" + std::to_string(i), payloads[i], 1);
    }
    for (size_t i = 0; i < payloads.size(); ++i) {
        const std::string topic = "down/" + std::to_string(i);
        ASSERT_TRUE(local.waitFor(topic, 60s)) << topic << " never arrived\n" << d.log();
        const auto& got = local.received().at(topic);
        ASSERT_EQ(got.size(), 1u) << topic;
        EXPECT_EQ(got[0].size(), payloads[i].size()) << topic;
        EXPECT_TRUE(got[0] == payloads[i]) << topic << " arrived changed";
    }
    // Nothing in the data was taken for the module's own words: one connection all along, and
    // it still carries messages up.
    EXPECT_EQ(occurrences(d.log(), "route cloud: online via"), 1u) << d.log();
    EXPECT_EQ(occurrences(d.log(), "by itself"), 0u) << d.log();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.send(modemPublishRequest(1, "up/after", "still up")));
    EXPECT_EQ(awaitApiReply(c, 1, "delivered")["status"], "delivered") << d.log();
    ASSERT_TRUE(cloud.waitFor(1, 30s));
}

INSTANTIATE_TEST_SUITE_P(Drivers, ModemDownlink,
                         ::testing::Values(Param{kHl78Case, "local"}, Param{kHl78Case, "modem"},
                                           Param{kA76xxCase, "local"}, Param{kA76xxCase, "modem"}),
                         [](const ::testing::TestParamInfo<Param>& p) {
                             return p.param.driver.model + "_tls_" + p.param.tls;
                         });

// ---- sessions and restarts --------------------------------------------------------------------

class ModemSessions : public ::testing::TestWithParam<DriverCase> {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
};

TEST_P(ModemSessions, HangRecoverCyclesBeyondTheModulesSessionLimitStillConnect) {
    const DriverCase& drv = GetParam();
    requireDriverPlugin(drv);
    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, drv.model, 0);
    // More cycles than the module has sessions (HL78: 2 here, A76xx: 10 links). A hung module
    // keeps its sessions over a soft restart; their close is lost while it hangs.
    int cycles = 11;
    if (drv.model == "hl78") {
        ASSERT_EQ(emu.control("set max-sessions 2"), "ok set max-sessions 2");
        cycles = 3;
    }
    // No power control: every recovery is a soft restart, which frees nothing by itself.
    Daemon d(dir, modemUplinkConfig(drv, emu, "local", "none") +
                      genericRoute("cloud", broker.port(), pki.ca));
    for (int i = 0; i < cycles; ++i) {
        SCOPED_TRACE("cycle " + std::to_string(i));
        deliverThrough(d, i, "up/" + std::to_string(i), "cycle " + std::to_string(i));
        const size_t before = occurrences(d.log(), "recovering the modem");
        ASSERT_EQ(emu.control("fault silent"), "ok fault silent");
        ASSERT_TRUE(waitForLogCount(d, "recovering the modem", before + 1, 30s)) << d.log();
        ASSERT_EQ(emu.control("fault none"), "ok fault none");
    }
    deliverThrough(d, cycles, "up/last", "after the cycles");
    ASSERT_TRUE(cloud.waitFor(static_cast<size_t>(cycles) + 1, 30s));
    // The module holds only the route's own session: none leaked.
    const json st = emu.status();
    EXPECT_LE(st["sockets"].size(), 1u) << st.dump();
    EXPECT_LE(st["sessions_used"].get<int>(), 1) << st.dump();
}

TEST_P(ModemSessions, AnUnexpectedRestartRerunsTheWholeStart) {
    const DriverCase& drv = GetParam();
    requireDriverPlugin(drv);
    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, drv.model);
    Daemon d(dir,
             modemUplinkConfig(drv, emu, "local") + genericRoute("cloud", broker.port(), pki.ca));
    deliverThrough(d, 1, "up/before", "before the restart");
    ASSERT_EQ(emu.status()["echo"], false);

    ASSERT_EQ(emu.control("reboot"), "ok reboot");  // a crash: nobody asked for it
    ASSERT_TRUE(waitForLogCount(d, "the module restarted (" + drv.boot + ") by itself", 1, 30s))
        << d.log();
    deliverThrough(d, 2, "up/after", "after the restart");
    ASSERT_TRUE(cloud.waitFor(2, 30s));

    // After the boot indication: echo off, numeric errors, registration and the bearer again,
    // all before the next socket.
    const std::string trace = emu.trace();
    const size_t boot = trace.rfind(drv.boot);
    ASSERT_NE(boot, std::string::npos) << trace;
    const std::string after = trace.substr(boot);
    const size_t open = after.find(drv.open);
    ASSERT_NE(open, std::string::npos) << after;
    for (const std::string step : {"ATE0", "AT+CMEE=1", "AT+CEREG?", drv.bearer.c_str()}) {
        const size_t at = after.find(step);
        EXPECT_NE(at, std::string::npos) << step << " not sent again after the restart\n" << after;
        EXPECT_LT(at, open) << step << " came after the first socket\n" << after;
    }
    EXPECT_EQ(emu.status()["echo"], false);
}

TEST_P(ModemSessions, ARestartInsideASendFailsItAtOnce) {
    const DriverCase& drv = GetParam();
    requireDriverPlugin(drv);
    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, drv.model);
    Daemon d(dir,
             modemUplinkConfig(drv, emu, "modem") + genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));

    // The module reboots 700 bytes into the payload of a send (TLS by the module: the payload
    // is the MQTT stream itself).
    ASSERT_EQ(emu.control("fault reboot-in-uplink 700"), "ok fault reboot-in-uplink 700");
    std::string big(5000, 'x');
    for (size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>('a' + i % 26);
    }
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.send(modemPublishRequest(1, "up/big", big)));
    const json del = awaitApiReply(c, 1, "delivered", 120s);
    ASSERT_EQ(del["status"], "delivered") << del.dump() << "\n" << d.log();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sent);
    std::cout << "[ measure  ] " << drv.model << ": reboot inside " << drv.send
              << ", publish to delivered: " << took.count() << " ms\n";
    ASSERT_TRUE(cloud.waitFor(1, 30s));
    EXPECT_EQ(cloud.messages()[0].payload, big);
    // The send failed because of the restart, not after its timeout.
    const std::string log = d.log();
    EXPECT_NE(log.find("the module restarted (" + drv.boot + ") by itself"), std::string::npos)
        << log;
    EXPECT_EQ(log.find("did not answer"), std::string::npos) << log;
    EXPECT_EQ(emu.status()["faults"].dump().find("\"fired\":true") != std::string::npos, true)
        << emu.status().dump();
}

TEST_P(ModemSessions, ARestartInsideAReadIsTakenForOneAndTheRouteComesBack) {
    const DriverCase& drv = GetParam();
    requireDriverPlugin(drv);
    Mosquitto broker(dir, pki);
    Subscriber cloud(pki, broker.port(), "up/#");
    ModemEmulator emu(dir, drv.model);
    Daemon d(dir,
             modemUplinkConfig(drv, emu, "modem") + genericRoute("cloud", broker.port(), pki.ca));
    ASSERT_TRUE(routeOnline(d, "cloud", 90s));
    LocalSubscriber local(d, "down/#");
    ASSERT_TRUE(local.ready(cloud, "down/ready")) << d.log();

    // The module reboots 300 bytes into the data of a read: its boot indication follows them,
    // where the rest of the announced bytes should be.
    ASSERT_EQ(emu.control("fault reboot-in-downlink 300"), "ok fault reboot-in-downlink 300");
    cloud.publish("down/lost", std::string(3000, 'z'), 1);
    ASSERT_TRUE(waitForLogCount(d, "the module restarted (" + drv.boot + ") by itself", 1, 60s))
        << d.log();
    // The route is back and carries messages both ways.
    deliverThrough(d, 1, "up/after", "after the restart");
    ASSERT_TRUE(local.ready(cloud, "down/after")) << d.log();
    EXPECT_EQ(d.log().find("did not answer"), std::string::npos) << d.log();
}

INSTANTIATE_TEST_SUITE_P(Drivers, ModemSessions, ::testing::Values(kHl78Case, kA76xxCase),
                         [](const ::testing::TestParamInfo<DriverCase>& p) {
                             return p.param.model;
                         });

}  // namespace
}  // namespace uplinkd::testing
