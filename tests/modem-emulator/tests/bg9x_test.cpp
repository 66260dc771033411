// SPDX-License-Identifier: Apache-2.0
// Quectel BG9x model: boot, PDP, QI* TCP sockets, QSSL* TLS sockets (SNI only with "sni" 1,
// dates against the module clock), QFUPL files, the QMT* MQTT client against a real Mosquitto,
// error codes and faults, all through the pty.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "bg9x_codes.hpp"
#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_broker.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

/// The QFUPL checksum, computed here independently: XOR of big-endian 16-bit words.
std::string xorChecksum(const std::string& data) {
    unsigned sum = 0;
    for (size_t i = 0; i < data.size(); i += 2) {
        unsigned hi = static_cast<unsigned char>(data[i]);
        unsigned lo = i + 1 < data.size() ? static_cast<unsigned char>(data[i + 1]) : 0;
        sum ^= (hi << 8) | lo;
    }
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%x", sum);
    return buf;
}

TEST(Bg9xCodesTest, ChecksumClockAndErrorTables) {
    using namespace uplinkd::emulator;
    const struct {
        std::string data;
        uint16_t sum;
    } sums[] = {{"", 0},
                {"A", 0x4100},
                {"AB", 0x4142},
                {"ABCD", 0x4142 ^ 0x4344},
                {std::string("\xff\x00\x01", 3), 0xff00 ^ 0x0100}};
    for (const auto& s : sums) {
        EXPECT_EQ(bg9x::qfuplChecksum(s.data), s.sum) << s.data;
    }
    EXPECT_EQ(bg9x::formatCclk(0), "70/01/01,00:00:00+00");
    EXPECT_EQ(bg9x::formatCclk(946684800), "00/01/01,00:00:00+00");
    EXPECT_EQ(bg9x::parseCclk("00/01/01,00:00:00+00"), 946684800);
    EXPECT_EQ(bg9x::parseCclk("00/01/01,01:00:00+04"), 946684800);  // +4 quarter hours
    EXPECT_EQ(bg9x::parseCclk("00/01/01,00:00:00-04"), 946684800 + 3600);
    for (const char* bad : {"", "00/13/01,00:00:00+00", "00/01/01 00:00:00+00",
                            "00/01/01,24:00:00+00", "00/01/01,00:00:00+0"}) {
        EXPECT_FALSE(bg9x::parseCclk(bad)) << bad;
    }
    EXPECT_STREQ(bg9x::errorText(563), "socket identity has been used");
    EXPECT_STREQ(bg9x::errorText(407), "file already exists");
    EXPECT_EQ(bg9x::errorText(999), nullptr);
    EXPECT_EQ(bg9x::sslVersionRange(3).first, bg9x::sslVersionRange(3).second);
}

class Bg9xTest : public EmulatorTest {
  protected:
    void boot(std::vector<std::string> extra = {}) {
        std::string urcs;
        ASSERT_NO_FATAL_FAILURE(launch("bg9x", "\r\nAPP RDY\r\n", std::move(extra), &urcs));
        EXPECT_EQ(urcs.find("\r\nRDY\r\n"), 0U) << urcs;
        EXPECT_NE(urcs.find("\r\n+CPIN: READY\r\n"), std::string::npos) << urcs;
        expectOk("ATE0");
        expectOk("AT+CMEE=1");
        ASSERT_TRUE(waitRegistered(*tty_)) << "not registered";
        expectOk("AT+QICSGP=1,1,\"internet\",\"\",\"\",0");
        expectOk("AT+QIACT=1");
    }

    /// After a reboot: echo off, numeric errors, registered, PDP context 1 active again.
    void boot2() {
        expectOk("ATE0");
        expectOk("AT+CMEE=1");
        ASSERT_TRUE(waitRegistered(*tty_)) << "not registered";
        expectOk("AT+QIACT=1");
    }

    /// Polls `cond` every 10 ms for up to 10 s.
    bool waitUntil(const std::function<bool()>& cond) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!cond()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            std::this_thread::sleep_for(10ms);  // between polls of the condition
        }
        return true;
    }

    /// `cmd` must end in exactly `final` ("ERROR", "+CME ERROR: 563").
    void expectFinal(const std::string& cmd, const std::string& final) {
        auto r = tty_->command(cmd);
        ASSERT_TRUE(r) << cmd << ": no final result";
        EXPECT_NE(r->find(final + "\r\n"), std::string::npos) << cmd << " -> " << *r;
    }

    /// `cmd` answers "> ", takes exactly the payload (plus an optional stray Ctrl-Z) and ends
    /// with `final`.
    void sendWithPrompt(const std::string& cmd, const std::string& data,
                        const std::string& final = "SEND OK", bool ctrl_z = false) {
        ASSERT_TRUE(tty_->write(cmd + "\r"));
        ASSERT_TRUE(tty_->readUntil("\r\n> ")) << cmd;
        ASSERT_TRUE(tty_->write(ctrl_z ? data + "\x1a" : data));
        auto got = tty_->readUntil("\r\n" + final + "\r\n");
        ASSERT_TRUE(got) << cmd << ": no " << final;
    }

    /// AT+QIOPEN of TCP socket `id` (PDP context 1, buffer mode) to 127.0.0.1:`port`, up to
    /// its +QIOPEN: <id>,0.
    void qiOpen(int id, uint16_t port) {
        const std::string sid = std::to_string(id);
        expectOk("AT+QIOPEN=1," + sid + ",\"TCP\",\"127.0.0.1\"," + std::to_string(port) + ",0,0");
        ASSERT_TRUE(tty_->readUntil("\r\n+QIOPEN: " + sid + ",0\r\n"));
    }

    /// Uploads a file with AT+QFUPL and checks the size and checksum it reports.
    void upload(const std::string& name, const std::string& data) {
        ASSERT_TRUE(tty_->write("AT+QFUPL=\"" + name + "\"," + std::to_string(data.size()) + "\r"));
        ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
        ASSERT_TRUE(tty_->write(data));
        auto got = tty_->readUntil("\r\nOK\r\n");
        ASSERT_TRUE(got);
        EXPECT_NE(got->find("+QFUPL: " + std::to_string(data.size()) + "," + xorChecksum(data)),
                  std::string::npos)
            << *got;
    }

    /// Waits for the "recv" URC, then reads with `cmd` (QIRD / QSSLRECV) until n bytes came.
    std::string receive(const std::string& urc, const std::string& cmd, int id, size_t n) {
        EXPECT_TRUE(tty_->readUntil(urc + "\"recv\"," + std::to_string(id) + "\r\n"));
        const std::string answer = cmd.substr(2) + ": ";  // "+QIRD: "
        return receiveInRounds(n, [&](std::string& got) {
            EXPECT_TRUE(tty_->write(cmd + "=" + std::to_string(id) + ",1500\r"));
            auto nums = expectNumbers("\r\n" + answer, 1);
            auto data = nums ? readPayload(static_cast<size_t>(nums->at(0)), ok_) : std::nullopt;
            if (!data) {
                return false;
            }
            got += *data;
            if (nums->at(0) == 0 && got.size() < n) {
                // Nothing buffered yet: the next arrival brings a new URC.
                EXPECT_TRUE(tty_->readUntil(urc + "\"recv\"," + std::to_string(id) + "\r\n"));
            }
            return true;
        });
    }
};

TEST_F(Bg9xTest, BootsWithRdyAndAnswersTheInformationCommands) {
    ASSERT_NO_FATAL_FAILURE(boot());
    auto ati = expectOk("ATI");
    EXPECT_NE(ati.find("\r\nQuectel\r\n\r\nBG96\r\n\r\nRevision: BG96"), std::string::npos) << ati;
    EXPECT_NE(expectOk("AT+QCCID").find("+QCCID: 8986"), std::string::npos);
    EXPECT_NE(expectOk("AT+GSN").find("866425030000001"), std::string::npos);
    EXPECT_NE(expectOk("AT+QNWINFO").find("+QNWINFO: \"CAT-M1\""), std::string::npos);
    EXPECT_NE(expectOk("AT+COPS?").find("+COPS: 0,0,\"EMULATED\",8"), std::string::npos);
    EXPECT_NE(expectOk("AT+QCSQ").find("+QCSQ: \"CAT-M1\","), std::string::npos);
    EXPECT_NE(expectOk("AT+QIACT?").find("+QIACT: 1,1,1,\""), std::string::npos);
    EXPECT_NE(expectOk("AT+CCLK?").find("+CCLK: \""), std::string::npos);
    expectFinal("AT+QIACT=17", "ERROR");

    // A crash reboot: RDY again, the PDP context and the settings are gone.
    controlOk("reboot");
    ASSERT_TRUE(tty_->readUntil("\r\nRDY\r\n", 10s));
    ASSERT_TRUE(tty_->readUntil("\r\nAPP RDY\r\n"));
    auto act = tty_->command("AT+QIACT?");
    ASSERT_TRUE(act);
    EXPECT_EQ(act->find("+QIACT: 1"), std::string::npos) << *act;
}

TEST_F(Bg9xTest, Bg95VariantReportsItsModel) {
    ASSERT_NO_FATAL_FAILURE(boot({"--variant", "BG95-M3"}));
    auto ati = expectOk("ATI");
    EXPECT_NE(ati.find("\r\nBG95-M3\r\n\r\nRevision: BG95M3"), std::string::npos) << ati;
}

TEST_F(Bg9xTest, TcpSocketCarriesBinaryDataBothWays) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(qiOpen(0, echo.port()));
    const std::string payload = trickyPayload();
    // Exactly <len> bytes, then a stray Ctrl-Z that the module ignores.
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+QISEND=0," + std::to_string(payload.size()), payload, "SEND OK", true));
    EXPECT_EQ(receive("+QIURC: ", "AT+QIRD", 0, payload.size()), payload);
    auto empty = expectOk("AT+QIRD=0,1500");
    EXPECT_NE(empty.find("\r\n+QIRD: 0\r\n"), std::string::npos) << empty;
    auto counters = expectOk("AT+QISEND=0,0");
    const std::string n = std::to_string(payload.size());
    EXPECT_NE(counters.find("+QISEND: " + n + "," + n + ",0"), std::string::npos) << counters;
    auto rd = expectOk("AT+QIRD=0,0");
    EXPECT_NE(rd.find("+QIRD: " + n + "," + n + ",0"), std::string::npos) << rd;
    auto state = expectOk("AT+QISTATE=1,0");
    EXPECT_NE(state.find("+QISTATE: 0,\"TCP\",\"127.0.0.1\"," + std::to_string(echo.port())),
              std::string::npos)
        << state;
    EXPECT_NE(state.find(",2,1,0,0,\"uart1\""), std::string::npos) << state;
    expectOk("AT+QICLOSE=0");
    auto none = expectOk("AT+QISTATE?");
    EXPECT_EQ(none.find("+QISTATE:"), std::string::npos) << none;
}

TEST_F(Bg9xTest, DownlinkWithEveryFramingTokenIsReadByCount) {
    const std::string payload = framingTokenPayload();
    GreetingServer server(payload);
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(qiOpen(7, server.port()));
    EXPECT_EQ(receive("+QIURC: ", "AT+QIRD", 7, payload.size()), payload);
}

TEST_F(Bg9xTest, FaultsInsideDataPhases) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(qiOpen(0, echo.port()));
    const std::string payload(300, 'z');
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+QISEND=0,300", payload));
    ASSERT_TRUE(tty_->readUntil("\r\n+QIURC: \"recv\",0\r\n"));
    ASSERT_TRUE(waitUntil([&] { return status()["sockets"][0]["rx_buffered"] == 300; }));
    // Downlink: the module hangs after 100 bytes of the QIRD data.
    controlOk("fault silent-in-downlink 100");
    ASSERT_TRUE(tty_->write("AT+QIRD=0,300\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n+QIRD: 300\r\n"));
    ASSERT_NO_FATAL_FAILURE(expectDownlinkCut(payload, 100));
    // Uplink: a reboot after 10 bytes of a QISEND: no SEND OK, RDY again, the socket gone.
    controlOk("fault none");
    controlOk("reboot");
    ASSERT_TRUE(tty_->readUntil("\r\nAPP RDY\r\n", 10s));
    ASSERT_NO_FATAL_FAILURE(boot2());
    ASSERT_NO_FATAL_FAILURE(qiOpen(0, echo.port()));
    controlOk("fault reboot-in-uplink 10");
    ASSERT_TRUE(tty_->write("AT+QISEND=0,100\r"));
    ASSERT_TRUE(tty_->readUntil("\r\n> "));
    ASSERT_TRUE(tty_->write(std::string(100, 'a')));
    auto rest = tty_->readUntil("\r\nAPP RDY\r\n", 10s);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->find("SEND OK"), std::string::npos) << *rest;
    EXPECT_EQ(rest->rfind("\r\nRDY\r\n", 0), 0U) << *rest;
    EXPECT_EQ(status()["sessions_used"], 0);
}

TEST_F(Bg9xTest, SocketErrorsUseTheQuectelCodes) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    const std::string port = std::to_string(echo.port());
    ASSERT_NO_FATAL_FAILURE(qiOpen(3, echo.port()));
    expectFinal("AT+QIOPEN=1,3,\"TCP\",\"127.0.0.1\"," + port + ",0,0", "+CME ERROR: 563");
    expectFinal("AT+QIOPEN=1,4,\"UDP\",\"127.0.0.1\"," + port + ",0,0", "+CME ERROR: 555");
    expectFinal("AT+QIOPEN=1,12,\"TCP\",\"127.0.0.1\"," + port + ",0,0", "+CME ERROR: 552");
    expectFinal("AT+QISEND=5,10", "ERROR");
    expectFinal("AT+QISEND=3,1461", "ERROR");
    // PDP context 2 is not active: 561.
    EXPECT_TRUE(
        okThenUrc("AT+QIOPEN=2,4,\"TCP\",\"127.0.0.1\"," + port + ",0,0", "+QIOPEN: 4,561"));
    // A closed port: 566; a name that does not resolve: 565.
    uint16_t closed_port = 0;
    {
        EchoServer gone;
        closed_port = gone.port();
    }
    EXPECT_TRUE(
        okThenUrc("AT+QIOPEN=1,5,\"TCP\",\"127.0.0.1\"," + std::to_string(closed_port) + ",0,0",
                  "+QIOPEN: 5,566"));
    EXPECT_TRUE(
        okThenUrc("AT+QIOPEN=1,6,\"TCP\",\"no-such-host.invalid\",80,0,0", "+QIOPEN: 6,565", 15s));
    expectOk("AT+CMEE=2");
    expectFinal("AT+QIOPEN=1,3,\"TCP\",\"127.0.0.1\"," + port + ",0,0",
                "+CME ERROR: socket identity has been used");
    EXPECT_GE(status()["misuse"].get<int>(), 3);
}

TEST_F(Bg9xTest, DroppedLinkAndPdpLossAreReported) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(qiOpen(0, echo.port()));
    controlOk("fault drop-link");
    ASSERT_TRUE(tty_->readUntil("\r\n+QIURC: \"closed\",0\r\n"));
    auto state = expectOk("AT+QISTATE=1,0");
    EXPECT_NE(state.find(",4,1,0,0,\"uart1\""), std::string::npos) << state;  // closing
    expectFinal("AT+QISEND=0,5", "ERROR");
    expectOk("AT+QICLOSE=0");

    ASSERT_NO_FATAL_FAILURE(qiOpen(1, echo.port()));
    controlOk("fault pdp-deact");
    auto urcs = tty_->readUntil("\r\n+QIURC: \"pdpdeact\",1\r\n");
    ASSERT_TRUE(urcs);
    EXPECT_NE(urcs->find("+QIURC: \"closed\",1"), std::string::npos) << *urcs;
    auto act = expectOk("AT+QIACT?");
    EXPECT_EQ(act.find("+QIACT: 1"), std::string::npos) << act;
}

TEST_F(Bg9xTest, UploadedFilesSurviveARebootAndCannotBeOverwritten) {
    ASSERT_NO_FATAL_FAILURE(boot());
    std::string odd = trickyPayload() + "x";  // an odd length: the last byte is a high byte
    ASSERT_NO_FATAL_FAILURE(upload("UFS:blob.bin", odd));
    expectFinal("AT+QFUPL=\"UFS:blob.bin\",10", "+CME ERROR: 407");
    auto list = expectOk("AT+QFLST=\"*\"");
    EXPECT_NE(list.find("+QFLST: \"UFS:blob.bin\"," + std::to_string(odd.size())),
              std::string::npos)
        << list;
    controlOk("reboot");
    ASSERT_TRUE(tty_->readUntil("\r\nAPP RDY\r\n", 10s));
    list = expectOk("AT+QFLST");
    EXPECT_NE(list.find("UFS:blob.bin"), std::string::npos) << list;
    expectOk("AT+QFDEL=\"UFS:blob.bin\"");
    expectFinal("AT+CMEE=1;+QFDEL=\"UFS:blob.bin\"", "+CME ERROR: 405");
    list = expectOk("AT+QFLST");
    EXPECT_EQ(list.find("blob.bin"), std::string::npos) << list;
}

TEST_F(Bg9xTest, SslSocketSendsSniOnlyWhenEnabledAndChecksTheRoot) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    const std::string port = std::to_string(tls.server.port());
    ASSERT_NO_FATAL_FAILURE(upload("UFS:ca.pem", tls.pki.ca.cert_pem));
    ASSERT_NO_FATAL_FAILURE(upload("UFS:other.pem", tls.other.ca.cert_pem));
    expectOk("AT+QSSLCFG=\"sslversion\",1,4");
    expectOk("AT+QSSLCFG=\"ciphersuite\",1,0XFFFF");
    expectOk("AT+QSSLCFG=\"seclevel\",1,1");
    expectOk("AT+QSSLCFG=\"cacert\",1,\"UFS:ca.pem\"");
    auto sni = expectOk("AT+QSSLCFG=\"sni\",1");
    EXPECT_NE(sni.find("+QSSLCFG: \"sni\",1,0"), std::string::npos) << sni;  // off by default

    ASSERT_TRUE(okThenUrc("AT+QSSLOPEN=1,1,2,\"localhost\"," + port + ",0", "+QSSLOPEN: 2,0"));
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+QSSLSEND=2," + std::to_string(payload.size()), payload));
    EXPECT_EQ(receive("+QSSLURC: ", "AT+QSSLRECV", 2, payload.size()), payload);
    auto state = expectOk("AT+QSSLSTATE=1,2");
    EXPECT_NE(state.find("+QSSLSTATE: 2,\"SSLClient\""), std::string::npos) << state;
    expectOk("AT+QSSLCLOSE=2");

    expectOk("AT+QSSLCFG=\"sni\",1,1");
    ASSERT_TRUE(okThenUrc("AT+QSSLOPEN=1,1,2,\"localhost\"," + port + ",0", "+QSSLOPEN: 2,0"));
    auto hs = tls.server.waitHandshakes(2, 10s);
    ASSERT_TRUE(hs);
    EXPECT_EQ(hs->at(0).sni, "");
    EXPECT_EQ(hs->at(1).sni, "localhost");
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+QSSLURC: \"closed\",2\r\n"));
    expectOk("AT+QSSLCLOSE=2");

    // The wrong root: 566.
    expectOk("AT+QSSLCFG=\"cacert\",1,\"UFS:other.pem\"");
    EXPECT_TRUE(okThenUrc("AT+QSSLOPEN=1,1,3,\"localhost\"," + port + ",0", "+QSSLOPEN: 3,566"));
}

TEST_F(Bg9xTest, AWrongModuleClockFailsTlsUnlessLocalTimeIsIgnored) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    const std::string port = std::to_string(tls.server.port());
    ASSERT_NO_FATAL_FAILURE(upload("UFS:ca.pem", tls.pki.ca.cert_pem));
    expectOk("AT+QSSLCFG=\"seclevel\",0,1");
    expectOk("AT+QSSLCFG=\"cacert\",0,\"UFS:ca.pem\"");
    // 2000-01-01: before the test certificates were made.
    EXPECT_EQ(emu_->control("clock 946684800"), "ok clock 00/01/01,00:00:00+00");
    EXPECT_NE(expectOk("AT+CCLK?").find("+CCLK: \"00/01/01,00:00:"), std::string::npos);
    EXPECT_TRUE(okThenUrc("AT+QSSLOPEN=1,0,0,\"localhost\"," + port + ",0", "+QSSLOPEN: 0,566"));
    expectOk("AT+QSSLCFG=\"ignorelocaltime\",0,1");
    EXPECT_TRUE(okThenUrc("AT+QSSLOPEN=1,0,0,\"localhost\"," + port + ",0", "+QSSLOPEN: 0,0"));
    expectOk("AT+QSSLCLOSE=0");
    // The host sets the clock right (AT+CCLK): dates check again.
    expectOk("AT+QSSLCFG=\"ignorelocaltime\",0,0");
    EXPECT_EQ(emu_->control("clock now").rfind("ok clock ", 0), 0U);
    EXPECT_TRUE(okThenUrc("AT+QSSLOPEN=1,0,0,\"localhost\"," + port + ",0", "+QSSLOPEN: 0,0"));
}

TEST_F(Bg9xTest, FirmwareWithoutSniRefusesTheSetting) {
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+QSSLCFG=\"sni\",0,1");
    controlOk("firmware sni off");
    expectFinal("AT+QSSLCFG=\"sni\",0,1", "ERROR");
    auto test = expectOk("AT+QSSLCFG=?");
    EXPECT_EQ(test.find("\"sni\""), std::string::npos) << test;
}

TEST_F(Bg9xTest, MqttClientRoundTripThroughMosquitto) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "bg/up"), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+QMTCFG=\"recv/mode\",0,0,1");
    auto version = expectOk("AT+QMTCFG=\"version\",0");
    EXPECT_NE(version.find("+QMTCFG: \"version\",3"), std::string::npos) << version;
    ASSERT_TRUE(
        okThenUrc("AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(broker.port()), "+QMTOPEN: 0,0"));
    ASSERT_TRUE(okThenUrc("AT+QMTCONN=0,\"bg96-test\"", "+QMTCONN: 0,0,0"));
    // The default version 3 sends an MQTT 3.1 CONNECT.
    auto link = status()["mqtt"][0]["link"];
    EXPECT_EQ(link["connect_protocol"], "MQIsdp") << link.dump();
    EXPECT_EQ(link["connect_level"], 3) << link.dump();
    auto open = expectOk("AT+QMTOPEN?");  // BG96 quirk: no client lines
    EXPECT_EQ(open.find("+QMTOPEN:"), std::string::npos) << open;
    auto conn = expectOk("AT+QMTCONN?");
    EXPECT_NE(conn.find("+QMTCONN: 0,3"), std::string::npos) << conn;

    ASSERT_TRUE(okThenUrc("AT+QMTSUB=0,1,\"bg/down/#\",1", "+QMTSUB: 0,1,0,1"));
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt(
        "AT+QMTPUB=0,7,1,0,\"bg/up\"," + std::to_string(payload.size()), payload, "OK"));
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTPUB: 0,7,0\r\n"));
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].topic, "bg/up");
    EXPECT_EQ(msgs[0].payload, payload);
    EXPECT_EQ(msgs[0].qos, 1);

    // Downlink with the length field (recv/mode 0,0,1): read by count.
    ASSERT_TRUE(cloud.publish("bg/down/cmd", payload, 1));
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTRECV: 0,1,\"bg/down/cmd\"," +
                                std::to_string(payload.size()) + ",\""));
    auto body = tty_->readExactly(payload.size() + 3);
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, payload + "\"\r\n");

    ASSERT_TRUE(okThenUrc("AT+QMTUNS=0,2,\"bg/down/#\"", "+QMTUNS: 0,2,0"));
    controlOk("fault drop-link");
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTSTAT: 0,1\r\n"));
    expectFinal("AT+QMTPUB=0,8,1,0,\"bg/up\",5", "ERROR");

    // Open again, connect, disconnect cleanly.
    ASSERT_TRUE(
        okThenUrc("AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(broker.port()), "+QMTOPEN: 0,0"));
    ASSERT_TRUE(okThenUrc("AT+QMTCONN=0,\"bg96-test\"", "+QMTCONN: 0,0,0"));
    ASSERT_TRUE(okThenUrc("AT+QMTDISC=0", "+QMTDISC: 0,0"));
}

TEST_F(Bg9xTest, MqttStoredMessagesQos0AndOpenResults) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "bg/up"), "");
    ASSERT_NO_FATAL_FAILURE(boot({"--variant", "BG95-M3"}));
    const std::string port = std::to_string(broker.port());
    // PDP context 2 is not active (3); a name that does not resolve (4).
    expectOk("AT+QMTCFG=\"pdpcid\",2,2");
    EXPECT_TRUE(okThenUrc("AT+QMTOPEN=2,\"127.0.0.1\"," + port, "+QMTOPEN: 2,3"));
    EXPECT_TRUE(okThenUrc("AT+QMTOPEN=3,\"no-such-host.invalid\"," + port, "+QMTOPEN: 3,4", 15s));

    expectOk("AT+QMTCFG=\"recv/mode\",0,1,1");
    expectOk("AT+QMTCFG=\"version\",0,4");
    ASSERT_TRUE(okThenUrc("AT+QMTOPEN=0,\"127.0.0.1\"," + port, "+QMTOPEN: 0,0"));
    expectOk("AT+QMTOPEN=0,\"127.0.0.1\"," + port);  // already open: 2
    EXPECT_TRUE(tty_->readUntil("\r\n+QMTOPEN: 0,2\r\n"));
    auto open = expectOk("AT+QMTOPEN?");  // the BG95 lists its open clients
    EXPECT_NE(open.find("+QMTOPEN: 0,\"127.0.0.1\"," + port), std::string::npos) << open;
    ASSERT_TRUE(okThenUrc("AT+QMTCONN=0,\"bg95-test\",\"user\",\"secret\"", "+QMTCONN: 0,0,0"));
    EXPECT_EQ(status()["mqtt"][0]["link"]["connect_level"], 4);

    // QoS 0: message id 0, reported when written.
    ASSERT_NO_FATAL_FAILURE(sendWithPrompt("AT+QMTPUB=0,0,0,0,\"bg/up\",4", "q0q0", "OK"));
    EXPECT_TRUE(tty_->readUntil("\r\n+QMTPUB: 0,0,0\r\n"));
    expectFinal("AT+QMTPUB=0,5,0,0,\"bg/up\",4", "ERROR");  // QoS 0 needs message id 0
    // The Ctrl-Z form.
    ASSERT_NO_FATAL_FAILURE(
        sendWithPrompt("AT+QMTPUB=0,9,1,0,\"bg/up\"", "ctrl-z ended", "OK", true));
    EXPECT_TRUE(tty_->readUntil("\r\n+QMTPUB: 0,9,0\r\n"));
    auto msgs = cloud.waitFor(2);
    ASSERT_EQ(msgs.size(), 2U);
    EXPECT_EQ(msgs[0].payload, "q0q0");
    EXPECT_EQ(msgs[1].payload, "ctrl-z ended");

    // recv/mode 1: the message is stored and read with AT+QMTRECV.
    ASSERT_TRUE(okThenUrc("AT+QMTSUB=0,3,\"bg/a\",0,\"bg/b\",1", "+QMTSUB: 0,3,0,0,1"));
    ASSERT_TRUE(cloud.publish("bg/b", "stored", 1));
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTRECV: 0,0\r\n"));
    auto slots = expectOk("AT+QMTRECV?");
    EXPECT_NE(slots.find("+QMTRECV: 0,1,0,0,0,0"), std::string::npos) << slots;
    auto got = expectOk("AT+QMTRECV=0,0");
    EXPECT_NE(got.find("+QMTRECV: 0,1,\"bg/b\",6,\"stored\""), std::string::npos) << got;
    slots = expectOk("AT+QMTRECV?");
    EXPECT_NE(slots.find("+QMTRECV: 0,0,0,0,0,0"), std::string::npos) << slots;

    EXPECT_TRUE(okThenUrc("AT+QMTCLOSE=0", "+QMTCLOSE: 0,0"));
    expectFinal("AT+QMTCONN=0,\"again\"", "ERROR");  // QMTOPEN first
}

TEST_F(Bg9xTest, MqttOverTlsAndConnackRefusal) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    auto bo = TestBroker::Options::overTls(pki);
    bo.allow_anonymous = false;
    TestBroker broker(bo);
    ASSERT_EQ(broker.startError(), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(upload("UFS:ca.pem", pki.ca.cert_pem));
    expectOk("AT+QSSLCFG=\"seclevel\",2,1");
    expectOk("AT+QSSLCFG=\"cacert\",2,\"UFS:ca.pem\"");
    expectOk("AT+QSSLCFG=\"sni\",2,1");
    expectOk("AT+QMTCFG=\"ssl\",1,1,2");
    expectOk("AT+QMTCFG=\"version\",1,4");
    expectOk("AT+QMTOPEN=1,\"localhost\"," + std::to_string(broker.port()));
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTOPEN: 1,0\r\n")) << broker.log();
    expectOk("AT+QMTCONN=1,\"anonymous\"");
    // The broker refuses anonymous clients: CONNACK return code 5.
    ASSERT_TRUE(tty_->readUntil("\r\n+QMTCONN: 1,0,5\r\n"));
    auto link = status()["mqtt"][1];
    EXPECT_EQ(link["state"], "closed") << link.dump();
}

}  // namespace
