// SPDX-License-Identifier: Apache-2.0
// The pieces both modem plugins share: field splitting, PEM normalisation, the +CME ERROR
// table, the result-URC waits (result before or after OK, intermediate states skipped) and the
// MQTT message ids awaiting their acknowledgement.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/at_steps.hpp"
#include "common/generic_at.hpp"
#include "common/message_ids.hpp"
#include "common/pem.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::modem_common {
namespace {

using namespace std::chrono_literals;
using uplinkd::testing::expectUnparsed;
using uplinkd::testing::runUntil;
using uplinkd::testing::ScriptedAtChannel;

TEST(ModemCommon, MessageIdsSkipTheAwaitedOnesAndWrap) {
    // Each step: ids to hold, ids to release, then the id next() must give.
    struct Step {
        std::vector<int> hold;
        std::vector<int> release;
        int next;
    };
    const std::vector<Step> steps = {
        {{}, {}, 1},     {{2}, {}, 3},         {{4, 5}, {}, 6},
        {{}, {2, 4}, 7}, {{8, 9, 10}, {}, 11}, {{}, {5, 8, 9, 10}, 12},
    };
    MessageIds ids;
    for (size_t i = 0; i < steps.size(); ++i) {
        for (int h : steps[i].hold) {
            ids.hold(h);
        }
        for (int r : steps[i].release) {
            ids.release(r);
        }
        EXPECT_EQ(ids.next(), steps[i].next) << "step " << i;
    }
    // 65535 wraps to 1, past the ids still awaited; clear() frees them all.
    while (ids.next() != 65534) {
    }
    ids.hold(1);
    EXPECT_EQ(ids.next(), 65535);
    EXPECT_EQ(ids.next(), 2);
    EXPECT_TRUE(ids.held(1));
    ids.clear();
    EXPECT_FALSE(ids.held(1));
    EXPECT_EQ(ids.next(), 3);
}

TEST(ModemCommon, SplitFieldsRespectsQuotes) {
    const auto f = splitFields("1, \"a,b\" ,,\"\",x");
    ASSERT_EQ(f.size(), 5u);
    EXPECT_EQ(f[0], "1");
    EXPECT_EQ(f[1], "\"a,b\"");
    EXPECT_EQ(f[2], "");
    EXPECT_EQ(unquote(f[3]), "");
    EXPECT_EQ(f[4], "x");
    EXPECT_EQ(splitFields("").size(), 1u);
    EXPECT_EQ(splitFields("\"unterminated,x").size(), 1u);
}

TEST(ModemCommon, ParseIntIsStrict) {
    EXPECT_EQ(parseInt("42", 0, 100), 42);
    EXPECT_EQ(parseInt(" -3 ", -5, 5), -3);
    expectUnparsed(&parseInt, {"", "x", "4 2", "+4", "0x10", "101", "99999999999999999999", "1.0"},
                   0, 100);
}

TEST(ModemCommon, QuotedArgumentsAndCommandNames) {
    EXPECT_TRUE(safeForQuotedArgument("internet.example"));
    EXPECT_FALSE(safeForQuotedArgument("a\"b"));
    EXPECT_FALSE(safeForQuotedArgument("a\rb"));
    EXPECT_FALSE(safeForQuotedArgument(std::string("a\0b", 3)));
    EXPECT_EQ(commandName("AT+KCNXCFG=1,\"GPRS\",\"apn\",\"u\",\"pw\""), "AT+KCNXCFG");
    EXPECT_EQ(commandName("AT+CPIN?"), "AT+CPIN");
    EXPECT_EQ(commandName("ATE0"), "ATE0");
}

TEST(ModemCommon, CpinAndCme) {
    const auto ready = parseCpin("+CPIN: READY");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->state, SimState::Ready);
    EXPECT_EQ(parseCpin("+CPIN: SIM PIN")->state, SimState::PinRequired);
    EXPECT_EQ(parseCpin("+CPIN: SIM PUK")->state, SimState::PukRequired);
    EXPECT_EQ(parseCpin("+CPIN: PH-SIM PIN")->state, SimState::Other);
    EXPECT_FALSE(parseCpin("+CPIN:"));
    EXPECT_FALSE(parseCpin("READY"));
    EXPECT_EQ(parseCmeErrorCode("+CME ERROR: 10"), 10);
    EXPECT_EQ(parseCmeErrorCode("+CMS ERROR: 500"), 500);
    EXPECT_FALSE(parseCmeErrorCode("+CME ERROR: SIM not inserted"));
    EXPECT_FALSE(parseCmeErrorCode("ERROR"));
    EXPECT_FALSE(parseCmeErrorCode("+CME ERROR: 99999999"));
    EXPECT_NE(cmeGeneralWords(10).find("SIM"), std::string::npos);
    EXPECT_TRUE(cmeGeneralWords(9999).empty());
}

TEST(ModemCommon, PemNormalisation) {
    const std::string mixed =
        "Bag Attributes\n  friendlyName: x\n-----BEGIN CERTIFICATE-----\r\nQUJD  \n\n"
        "REVG\r-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nR0hJ\n"
        "-----END CERTIFICATE-----";
    const auto blocks = splitPem(mixed);
    ASSERT_TRUE(blocks) << blocks.error().message;
    ASSERT_EQ(blocks->size(), 2u);
    EXPECT_EQ((*blocks)[0].label, "CERTIFICATE");
    EXPECT_EQ(joinLines((*blocks)[0].lines, "\r\n"),
              "-----BEGIN CERTIFICATE-----\r\nQUJD\r\nREVG\r\n-----END CERTIFICATE-----\r\n");
    EXPECT_EQ(joinBlocks(*blocks, "\n"),
              "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
              "-----BEGIN CERTIFICATE-----\nR0hJ\n-----END CERTIFICATE-----\n");
    for (const char* bad :
         {"", "no pem here", "-----BEGIN CERTIFICATE-----\nQUJD\n",
          "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
          "-----BEGIN CERTIFICATE-----\nQUJD\n-----END PRIVATE KEY-----\n",
          "-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END "
          "CERTIFICATE-----\n"}) {
        const auto r = splitPem(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code, "bad_pem");
        }
    }
}

TEST(ModemCommon, ResultUrcBeforeOrAfterTheFinalResult) {
    asio::io_context loop;
    ScriptedAtChannel at(loop);
    auto urcs = std::make_shared<ResultUrcs>();
    at.onUrc("+X:", [urcs](const std::string& line) { urcs->offer(line); });

    struct Case {
        const char* name;
        std::function<void(ScriptedAtChannel::Step&)> script;
        std::optional<std::string> want;
        std::string error;
    };
    const std::vector<Case> cases = {
        {"after", [](auto& s) { s.urcAfter("+X: 0,0"); }, "+X: 0,0", ""},
        {"before", [](auto& s) { s.urcBefore("+X: 0,1"); }, "+X: 0,1", ""},
        {"in the reply", [](auto& s) { s.line("+X: 0,2"); }, "+X: 0,2", ""},
        {"skips intermediate", [](auto& s) { s.urcAfter("+X: 0,4").urcAfter("+X: 0,0"); },
         "+X: 0,0", ""},
        {"refused with result", [](auto& s) { s.urcBefore("+X: 0,9").error("ERROR"); }, "+X: 0,9",
         ""},
        {"refused", [](auto& s) { s.error("ERROR"); }, std::nullopt, "at_error"},
        {"no result", [](auto&) {}, std::nullopt, "timeout"},
    };
    for (const auto& c : cases) {
        c.script(at.expect("AT+X"));
        std::optional<Result<std::string>> got;
        commandThenUrc(
            loop, at, urcs, AtCommandStep{"AT+X", 1s}, {"+X: 0,"}, 20ms, nullptr,
            [&](Result<std::string> r) { got.emplace(std::move(r)); },
            [](const std::string& line) { return line != "+X: 0,4"; });
        ASSERT_TRUE(runUntil(loop, [&] { return got.has_value(); })) << c.name;
        if (c.want) {
            ASSERT_TRUE(*got) << c.name << ": " << got->error().message;
            EXPECT_EQ(**got, *c.want) << c.name;
        } else {
            ASSERT_FALSE(*got) << c.name;
            EXPECT_EQ(got->error().code, c.error) << c.name;
        }
        EXPECT_EQ(urcs->armed(), 0u) << c.name;
    }
}

}  // namespace
}  // namespace uplinkd::plugins::modem_common
