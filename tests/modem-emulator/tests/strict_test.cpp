// SPDX-License-Identifier: Apache-2.0
// Strictness: session limits that survive soft restarts, reboots that reset settings and take
// registration and the bearer away for a while, silence while booting, misuse reporting.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_helpers.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

class StrictTest : public EmulatorTest {
  protected:
    void start(const std::string& model, const std::string& boot_urc,
               std::vector<std::string> extra = {}) {
        ASSERT_NO_FATAL_FAILURE(launch(model, boot_urc, std::move(extra)));
    }
};

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

TEST_F(StrictTest, Hl78SessionsLeakAcrossSoftRestartUntilDeleted) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(launchRegistered("hl78", "+KSUP: 0\r\n"));
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    const std::string cfg = "AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(echo.port());
    for (int id = 1; id <= 6; ++id) {
        EXPECT_NE(expectOk(cfg).find("+KTCPCFG: " + std::to_string(id) + "\r\n"),
                  std::string::npos);
    }
    expect(cfg, "\r\n+CME ERROR: 912\r\n");  // all sessions used

    // One of them connects and is closed: KTCPCLOSE keeps the session configured.
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=2", "+KTCP_IND: 2,1"));
    expectOk("AT+KTCPCLOSE=2,1");
    expect(cfg, "\r\n+CME ERROR: 912\r\n");

    // A soft restart (the host re-runs its init sequence) frees nothing either.
    for (const char* c : {"ATZ", "AT&F", "ATE0", "AT+CMEE=1", "AT+KPATTERN=\"--EOF--Pattern--\"",
                          "AT+CFUN=4,0", "AT+CFUN=1,0"}) {
        expectOk(c);
    }
    ASSERT_TRUE(waitRegistered(*tty_));
    expect(cfg, "\r\n+CME ERROR: 912\r\n");

    // Both listings tell the truth.
    auto stat = expectOk("AT+KTCPSTAT");
    EXPECT_EQ(count(stat, "\r\n+KTCPSTAT: "), 6U) << stat;
    EXPECT_NE(stat.find("+KTCPSTAT: 2,1,"), std::string::npos) << stat;  // 2: defined again
    auto list = expectOk("AT+KTCPCFG?");
    EXPECT_EQ(count(list, "\r\n+KTCPCFG: "), 6U) << list;
    auto j = status();
    EXPECT_EQ(j.value("sessions_used", -1), 6);
    EXPECT_EQ(j.value("sessions_max", -1), 6);
    EXPECT_GE(j.value("misuse", 0), 3);  // each 912 is a misuse

    // KTCPDEL frees exactly one id, which the next KTCPCFG gets.
    expectOk("AT+KTCPDEL=3");
    expect("AT+KTCPSTAT=3", "\r\n+CME ERROR: 910\r\n");
    EXPECT_NE(expectOk(cfg).find("+KTCPCFG: 3\r\n"), std::string::npos);
    expect(cfg, "\r\n+CME ERROR: 912\r\n");

    // A reboot frees everything.
    controlOk("reset");
    ASSERT_TRUE(tty_->readUntil("\r\n+KSUP: 0\r\n"));
    EXPECT_EQ(count(expectOk("AT+KTCPSTAT"), "+KTCPSTAT:"), 0U);
    EXPECT_EQ(status().value("sessions_used", -1), 0);

    // The limit is configurable.
    controlOk("set max-sessions 2");
    expectOk("AT+CMEE=1");
    expectOk(cfg);
    expectOk(cfg);
    expect(cfg, "\r\n+CME ERROR: 912\r\n");
}

TEST_F(StrictTest, Hl78RebootRestoresFactorySettingsAndRegistrationTakesTime) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(hl78Connect(echo.port()));
    EXPECT_EQ(status()["bearers"], nlohmann::json::array({1}));

    // An unexpected reboot, with a long network search afterwards.
    controlOk("set register-ms 60000");
    controlOk("reboot");
    ASSERT_TRUE(tty_->readUntil("\r\n+KSUP: 0\r\n"));

    // Echo is back on, errors are plain ERROR, the session and the bearer are gone.
    auto r = tty_->command("AT+KTCPCNX=1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "AT+KTCPCNX=1\r\r\nERROR\r\n");
    expectOk("ATE0");
    EXPECT_NE(expectOk("AT+CEREG?").find("+CEREG: 0,2\r\n"), std::string::npos);  // searching
    auto j = status();
    EXPECT_EQ(j.value("boots", 0), 2);
    EXPECT_EQ(j.value("registration", -1), 2);
    EXPECT_EQ(j["bearers"], nlohmann::json::array());
    EXPECT_EQ(j.value("sessions_used", -1), 0);
    EXPECT_EQ(j.value("open_sockets", -1), 0);

    // Without KCNXCFG the new session has no bearer; before registration it cannot connect.
    expectOk("AT+CMEE=1");
    expectOk("AT+KTCPCFG=1,0,\"127.0.0.1\"," + std::to_string(echo.port()));
    expect("AT+KTCPCNX=1", "\r\n+CME ERROR: 921\r\n");
    expectOk("AT+KCNXCFG=1,\"GPRS\",\"internet\"");
    expectOk("AT+KCNXUP=1");
    ASSERT_TRUE(tty_->readUntil("\r\n+KCNX_IND: 1,2\r\n"));  // not registered
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_NOTIF: 1,0"));

    // Registration comes; then the connect works (the bearer comes up with it).
    expectOk("AT+CEREG=1");
    controlOk("register 1");
    ASSERT_TRUE(tty_->readUntil("\r\n+CEREG: 1\r\n"));
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
}

TEST_F(StrictTest, Hl78NothingIsAnsweredWhileBooting) {
    ASSERT_NO_FATAL_FAILURE(start("hl78", "+KSUP: 0\r\n"));
    controlOk("set boot-ms 2000");
    expectOk("AT+CFUN=1,1");  // reboots after the answer
    ASSERT_TRUE(tty_->write("AT\r"));
    ASSERT_TRUE(tty_->write("ATE0\r"));
    auto until_boot = tty_->readUntil("\r\n+KSUP: 0\r\n");
    ASSERT_TRUE(until_boot);
    EXPECT_EQ(*until_boot, "\r\n+KSUP: 0\r\n");  // no echo, no OK before the boot URC
    auto r = tty_->command("AT");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "AT\r\r\nOK\r\n");  // the ATE0 sent while booting was lost
}

TEST_F(StrictTest, A76xxRebootClosesNetworkAndNetopenWaitsForRegistration) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n"));
    expectOk("ATE0");
    ASSERT_TRUE(waitRegistered(*tty_));
    expectOk("AT+CIPRXGET=1");
    ASSERT_TRUE(okThenUrc("AT+NETOPEN", "+NETOPEN: 0"));
    std::string open0 = "AT+CIPOPEN=0,\"TCP\",\"127.0.0.1\"," + std::to_string(echo.port());
    ASSERT_TRUE(okThenUrc(open0, "+CIPOPEN: 0,0"));
    EXPECT_NE(expectOk("AT+CIPOPEN?").find("+CIPOPEN: 0,\"TCP\",\"127.0.0.1\","),
              std::string::npos);
    // Link 0 is busy: the module's error.
    EXPECT_NE(expect(open0, "\r\nERROR\r\n").find("+CIPOPEN: 0,4\r\n"), std::string::npos);

    // A soft restart keeps the link.
    for (const char* c : {"ATZ", "AT&F", "ATE0", "AT+CFUN=4", "AT+CFUN=1"}) {
        expectOk(c);
    }
    EXPECT_NE(expectOk("AT+CIPOPEN?").find("+CIPOPEN: 0,\"TCP\",\"127.0.0.1\","),
              std::string::npos);
    EXPECT_EQ(status().value("sessions_used", -1), 1);

    controlOk("set register-ms 60000");
    ASSERT_TRUE(okThenUrc("AT+CRESET", "PB DONE"));
    auto r = tty_->command("AT+NETOPEN?");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "AT+NETOPEN?\r\r\n+NETOPEN: 0\r\n\r\nOK\r\n");  // echo on, network closed
    expectOk("ATE0");
    EXPECT_NE(expectOk("AT+CIPRXGET?").find("+CIPRXGET: 0"), std::string::npos);
    EXPECT_NE(expect(open0, "\r\nERROR\r\n").find("+CIPOPEN: 0,2\r\n"), std::string::npos);
    expectOk("AT+NETOPEN");
    ASSERT_TRUE(tty_->readUntil("\r\n+NETOPEN: 1\r\n"));  // not registered yet
    auto j = status();
    EXPECT_EQ(j.value("sessions_used", -1), 0);
    EXPECT_EQ(j.value("net_open", true), false);

    controlOk("set bearer-ms 1500");
    controlOk("register 1");
    expectOk("AT+NETOPEN");
    EXPECT_NE(expectOk("AT+NETOPEN?").find("+NETOPEN: 0"), std::string::npos);  // still opening
    ASSERT_TRUE(tty_->readUntil("\r\n+NETOPEN: 0\r\n"));
    ASSERT_TRUE(okThenUrc(open0, "+CIPOPEN: 0,0"));
}

TEST_F(StrictTest, A76xxCchOpenNeedsRegistrationAndListsSessions) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(start("a76xx", "PB DONE\r\n", {"--register-ms", "60000"}));
    expectOk("ATE0");
    expectOk("AT+CCHSET=0,1");
    ASSERT_TRUE(okThenUrc("AT+CCHSTART", "+CCHSTART: 0"));
    std::string open0 = "AT+CCHOPEN=0,\"127.0.0.1\"," + std::to_string(echo.port()) + ",1";
    expectOk(open0);
    ASSERT_TRUE(tty_->readUntil("\r\n+CCHOPEN: 0,17\r\n"));  // no network yet
    controlOk("register 1");
    ASSERT_TRUE(okThenUrc(open0, "+CCHOPEN: 0,0"));
    auto list = expectOk("AT+CCHOPEN?");
    EXPECT_NE(list.find("+CCHOPEN: 0,\"127.0.0.1\","), std::string::npos) << list;
    EXPECT_NE(list.find("+CCHOPEN: 1,\"\",,,"), std::string::npos) << list;
    expect(open0, "\r\nERROR\r\n");  // session 0 is in use
    expect("AT+CCHSEND=1,5", "\r\nERROR\r\n");
    auto j = status();
    EXPECT_EQ(j.value("sessions_used", -1), 1);
    EXPECT_EQ(j.value("misuse", 0), 2);
    EXPECT_NE(j.value("last_misuse", "").find("CCHSEND"), std::string::npos);
}

TEST_F(StrictTest, DataWithoutPromptIsMisuse) {
    ASSERT_NO_FATAL_FAILURE(start("hl78", "+KSUP: 0\r\n"));
    expectOk("ATE0");
    EXPECT_EQ(status().value("misuse", -1), 0);
    ASSERT_TRUE(tty_->write("hello world"));  // payload without AT+KTCPSND and CONNECT
    expectOk("AT");
    auto j = status();
    EXPECT_EQ(j.value("misuse", -1), 1);
    EXPECT_NE(j.value("last_misuse", "").find("11 bytes outside a command line"), std::string::npos)
        << j.dump();
    std::ifstream in(emu_->logPath());
    std::stringstream trace;
    trace << in.rdbuf();
    EXPECT_NE(trace.str().find("# MISUSE: 11 bytes outside a command line"), std::string::npos);
}

}  // namespace
