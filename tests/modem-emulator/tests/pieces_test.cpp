// SPDX-License-Identifier: Apache-2.0
// Unit tests of the emulator's own pure pieces: command-line parsing, line assembly, data
// phases, pacing and the HL78 crypto profile fields.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <variant>

#include "at_command.hpp"
#include "data_phase.hpp"
#include "fault_plan.hpp"
#include "hl78_crypto.hpp"
#include "line_assembler.hpp"
#include "pacer.hpp"

using namespace uplinkd::emulator;

TEST(AtCommandTest, ParsesExtendedAndBasicCommands) {
    auto cmds = parseCommandLine("+KTCPCFG=1,3,\"host,with;comma\",8883,,,,0,1,0");
    ASSERT_TRUE(cmds);
    ASSERT_EQ(cmds->size(), 1U);
    const AtCommand& c = cmds->front();
    EXPECT_EQ(c.name, "+KTCPCFG");
    EXPECT_EQ(c.kind, AtKind::Set);
    ASSERT_EQ(c.argc(), 10U);
    EXPECT_EQ(c.str(2), "host,with;comma");
    EXPECT_TRUE(c.quoted(2));
    EXPECT_EQ(c.intArg(3), 8883);
    EXPECT_FALSE(c.has(4));
    EXPECT_EQ(c.intArg(9), 0);

    cmds = parseCommandLine("E0+cmee=1;+CSQ;+CEREG?;+CFUN=?");
    ASSERT_TRUE(cmds);
    ASSERT_EQ(cmds->size(), 5U);
    EXPECT_EQ((*cmds)[0].name, "E");
    EXPECT_EQ((*cmds)[0].intArg(0), 0);
    EXPECT_EQ((*cmds)[1].name, "+CMEE");
    EXPECT_EQ((*cmds)[2].kind, AtKind::Exec);
    EXPECT_EQ((*cmds)[3].kind, AtKind::Read);
    EXPECT_EQ((*cmds)[4].kind, AtKind::Test);

    EXPECT_FALSE(parseCommandLine("+X=\"unterminated"));
    auto bare = parseCommandLine("");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->front().name, "");
    auto trailing = splitArgs("0,");
    ASSERT_TRUE(trailing);
    EXPECT_EQ(trailing->size(), 2U);
}

TEST(LineAssemblerTest, FindsAtAndEndsOnCr) {
    LineAssembler la;
    std::string got;
    for (char c : std::string("--EOF--xx\nat+csq\r")) {
        auto r = la.feed(c);
        if (r.status == LineAssembler::Status::Line) {
            got = r.body;
        }
    }
    EXPECT_EQ(got, "+csq");
}

TEST(DataPhaseTest, PatternPhaseReportsWhatCameBeforeThePattern) {
    auto p = DataPhase::pattern("--EOF--Pattern--", 100);
    std::string in = "ab--EO\r\nc--EOF--Pattern--AT";
    size_t used = p.feed(in);
    EXPECT_TRUE(p.done());
    EXPECT_EQ(p.data(), "ab--EO\r\nc");
    EXPECT_EQ(used, in.size() - 2);
}

TEST(DataPhaseTest, CountOrPatternTakesEitherEnding) {
    auto exact = DataPhase::countOrPattern(4, "--EOF--Pattern--");
    EXPECT_EQ(exact.feed("abcd"), 4U);
    EXPECT_TRUE(exact.inTrailer());
    EXPECT_FALSE(exact.done());
    EXPECT_EQ(exact.feed("--EOF--Pattern--AT"), 16U);
    EXPECT_TRUE(exact.done());
    EXPECT_EQ(exact.data(), "abcd");

    auto noPattern = DataPhase::countOrPattern(4, "--EOF--Pattern--");
    EXPECT_EQ(noPattern.feed("abcdAT"), 4U);  // "A" is not the pattern: the phase ends
    EXPECT_TRUE(noPattern.done());

    auto shorter = DataPhase::countOrPattern(100, "--EOF--Pattern--");
    shorter.feed("abc--EOF--Pattern--");
    EXPECT_TRUE(shorter.done());
    EXPECT_EQ(shorter.data(), "abc");
}

TEST(DataPhaseTest, CountAndCtrlZ) {
    auto count = DataPhase::count(3);
    EXPECT_EQ(count.feed("a\x1a"
                         "bc"),
              3U);
    EXPECT_EQ(count.data(),
              "a\x1a"
              "b");
    auto z = DataPhase::ctrlZ(10);
    z.feed("hi\x1a");
    EXPECT_EQ(z.outcome(), DataPhase::Outcome::Complete);
    EXPECT_EQ(z.data(), "hi");
    auto esc = DataPhase::ctrlZ(10);
    esc.feed("hi\x1b");
    EXPECT_EQ(esc.outcome(), DataPhase::Outcome::Cancelled);
}

TEST(PacerTest, SpacesTransfersToTheRate) {
    Pacer p(115200);
    auto t = Pacer::Clock::now();
    auto free1 = p.account(11520, t);
    EXPECT_NEAR(std::chrono::duration<double>(free1 - t).count(), 1.0, 1e-3);
    auto free2 = p.account(1152, t);  // queued behind the first transfer
    EXPECT_NEAR(std::chrono::duration<double>(free2 - t).count(), 1.1, 1e-3);
    EXPECT_TRUE(Pacer(0).unlimited());
}

TEST(FaultPlanTest, FiresExactlyAfterNBytesOnce) {
    using D = FaultPlan::Direction;
    using A = FaultPlan::Action;
    FaultPlan plan;
    EXPECT_EQ(plan.allowance(D::Uplink, 500), 500U);  // nothing armed
    EXPECT_FALSE(plan.passed(D::Uplink, 500));
    plan.arm(D::Uplink, A::Reboot, 100);
    EXPECT_EQ(plan.allowance(D::Downlink, 500), 500U);  // the other direction is free
    EXPECT_EQ(plan.allowance(D::Uplink, 60), 60U);
    EXPECT_FALSE(plan.passed(D::Uplink, 60));
    EXPECT_EQ(plan.allowance(D::Uplink, 60), 40U);
    EXPECT_EQ(plan.passed(D::Uplink, 40), A::Reboot);
    EXPECT_TRUE(plan.slot(D::Uplink).fired);
    EXPECT_EQ(plan.allowance(D::Uplink, 60), 60U);  // fired once, then inert
    EXPECT_FALSE(plan.passed(D::Uplink, 60));

    plan.arm(D::Downlink, A::Hang, 0);
    EXPECT_EQ(plan.allowance(D::Downlink, 10), 0U);
    EXPECT_EQ(plan.passed(D::Downlink, 0), A::Hang);  // zero bytes: fires at once
    plan.clear();
    EXPECT_FALSE(plan.slot(D::Downlink).armed);
}

TEST(LineAssemblerTest, CountsBytesOutsideCommandLines) {
    LineAssembler la;
    for (char c : std::string("\r\nhello\r\nAT\r")) {
        la.feed(c);
    }
    EXPECT_EQ(la.takeDropped(), 5U);  // "hello"; CR and LF do not count
    EXPECT_EQ(la.takeDropped(), 0U);
    for (char c : std::string("AxAAT\r")) {
        la.feed(c);
    }
    EXPECT_EQ(la.takeDropped(), 3U);  // "Ax" and the first of "AA"
}

TEST(CryptoProfileTest, ParsesTheFieldsOrGivesTheKError) {
    struct Case {
        const char* args;
        int error;  // 0: parses
    };
    const Case cases[] = {
        {"0,8,1,8192,4,4,3,0", 0},    {"1,9,3,25456,12,4,1", 0},       {"3,1,1,1,15,0,0,3", 0},
        {"4,8,1,8192,4,4,3,0", 916},  {"-1,8,1,8192,4,4,3,0", 916},    {"0,0,1,8192,4,4,3,0", 916},
        {"0,8,1,8192,16,4,3,0", 916}, {"0,8,1,8192,4,256,3,0", 916},   {"0,8,1,8192,4,4,4,0", 916},
        {"0,8,1,8192,4,4,3,4", 916},  {"0,8,\"1\",8192,4,4,3,0", 916}, {"0,8,1,8192,4,4", 917},
        {"0,,1,8192,4,4,3,0", 917},   {"0,8,1,8192,4,4,3,0,0", 915},
    };
    for (const Case& c : cases) {
        auto cmds = parseCommandLine(std::string("+KSSLCRYPTO=") + c.args);
        ASSERT_TRUE(cmds && cmds->size() == 1U) << c.args;
        auto r = parseCryptoProfile(cmds->front());
        if (c.error == 0) {
            EXPECT_TRUE(std::holds_alternative<CryptoProfile>(r)) << c.args;
        } else {
            ASSERT_TRUE(std::holds_alternative<int>(r)) << c.args;
            EXPECT_EQ(std::get<int>(r), c.error) << c.args;
        }
    }
    auto cmds = parseCommandLine("+KSSLCRYPTO=2,8,3,25392,12,4,3");
    ASSERT_TRUE(cmds);
    auto p = std::get<CryptoProfile>(parseCryptoProfile(cmds->front()));
    EXPECT_EQ(p.fields(), "2,8,3,25392,12,4,3,0");  // the root slot defaults to 0
    EXPECT_EQ(p.minVersion(), TLS1_2_VERSION);
    EXPECT_EQ(p.maxVersion(), TLS1_3_VERSION);
    EXPECT_TRUE(p.verifyServer());
    EXPECT_TRUE(p.clientCert());
}
