// SPDX-License-Identifier: Apache-2.0
// SPWF04S model: console grammar, Wi-Fi association, sockets with counted data, the TLS store
// and the module clock, faults; raw conversations through the pty against real servers. Also
// the model's pure tables.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "spwf04s_fixture.hpp"
#include "spwf_tables.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

namespace spwf = uplinkd::emulator::spwf;

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(SpwfTablesTest, CommandLines) {
    struct Case {
        const char* body;
        bool known;
        const char* name;
        std::vector<std::string> args;
    };
    const Case cases[] = {
        {"", true, "", {}},
        {"+S.RESET", true, "+S.RESET", {}},
        {"+s.sockon=h,80,NULL,t", true, "+S.SOCKON", {"h", "80", "NULL", "t"}},
        {"+S.SSIDTXT=My Net, 5G", true, "+S.SSIDTXT", {"My Net", " 5G"}},
        {"+S.SCFG=wifi_wpa_psk_text,\"a\",", true, "+S.SCFG", {"wifi_wpa_psk_text", "\"a\"", ""}},
        {"+S.GCFG=", true, "+S.GCFG", {""}},
        {"E0", false, "", {}},
        {"+CGMI", false, "", {}},
        {"+S.", false, "", {}},
        {"+S.SOCKQ?", false, "", {}},
        {"+S.SOCKQ=0;+S.SOCKQ=1", true, "+S.SOCKQ", {"0;+S.SOCKQ=1"}},
    };
    for (const auto& c : cases) {
        auto cmd = spwf::parseLine(c.body);
        ASSERT_EQ(cmd.has_value(), c.known) << c.body;
        if (!cmd) {
            continue;
        }
        EXPECT_EQ(cmd->name, c.name) << c.body;
        std::vector<std::string> args;
        for (const auto& a : cmd->args) {
            args.push_back(a.text);
        }
        EXPECT_EQ(args, c.args) << c.body;
    }
}

TEST(SpwfTablesTest, VariablesAndWindMasks) {
    const std::string too_long(64, 'x');
    struct Case {
        const char* name;
        const char* value;
        const char* stored;
        int error;
    };
    const Case cases[] = {
        {"console_echo", "0", "0", 0},
        {"console_echo", "2", "", spwf::kBadParameter},
        {"console_echo", "", "", spwf::kBadParameter},
        {"wifi_priv_mode", "2", "2", 0},
        {"console_wind_off_high", "0xffffffff", "0xFFFFFFFF", 0},
        {"console_wind_off_low", "255", "0x000000FF", 0},
        {"console_wind_off_low", "0x1FFFFFFFF", "", spwf::kBadParameter},
        {"console_wind_off_low", "0xZZ", "", spwf::kBadParameter},
        {"wifi_wpa_psk_text", "", "", 0},
        {"wifi_wpa_psk_text", too_long.c_str(), "", spwf::kBadParameter},
        {"ip_ipaddr", "1.2.3.4", "", spwf::kReadOnlyVariable},
    };
    for (const auto& c : cases) {
        const auto* v = spwf::findVariable(c.name);
        ASSERT_NE(v, nullptr) << c.name;
        auto r = spwf::checkValue(*v, c.value);
        EXPECT_EQ(r.error, c.error) << c.name << "=" << c.value;
        EXPECT_EQ(r.value, c.stored) << c.name << "=" << c.value;
    }
    EXPECT_EQ(spwf::findVariable("no_such"), nullptr);
    EXPECT_TRUE(spwf::windEnabled(55, 0, 0, 0));
    EXPECT_FALSE(spwf::windEnabled(55, 0, 1u << 23, 0));
    EXPECT_TRUE(spwf::windEnabled(55, 0xFFFFFFFF, 0, 0xFFFFFFFF));
    EXPECT_FALSE(spwf::windEnabled(0, 1, 0, 0));
    EXPECT_FALSE(spwf::windEnabled(86, 0, 0, 1u << 22));
    EXPECT_EQ(spwf::errorText(77), "Pending data");
    EXPECT_EQ(spwf::errorText(95), "MQTT connection refused: not authorized");
}

TEST_F(Spwf04sTest, ConsoleGrammarAndVariables) {
    ASSERT_NO_FATAL_FAILURE(boot());
    EXPECT_EQ(command("AT"), kOk);
    // No 27.007 commands on this module.
    EXPECT_EQ(command("ATE0"), "\r\nAT-S.ERROR:1:Command not found\r\n");
    EXPECT_EQ(command("AT+CGMI"), "\r\nAT-S.ERROR:1:Command not found\r\n");
    EXPECT_EQ(command("AT+S.NOSUCH"), "\r\nAT-S.ERROR:1:Command not found\r\n");
    EXPECT_EQ(command("AT+S.GCFG=wifi_mode"),
              "\r\nAT-S.Var:wifi_mode=1" + std::string("\r\n") + kOk);
    EXPECT_EQ(command("AT+S.GCFG=ip_ipaddr"), "\r\nAT-S.Var:ip_ipaddr=0.0.0.0\r\n" + kOk);
    expectError("AT+S.GCFG=no_such_var", 3);
    expectError("AT+S.SCFG=no_such_var,1", 3);
    expectError("AT+S.SCFG=ip_ipaddr,1.2.3.4", 4);
    expectError("AT+S.SCFG=wifi_priv_mode,7", 2);
    expectError("AT+S.SCFG=wifi_mode", 2);
    expectOk("AT+S.SCFG=console_wind_off_high,0xffffffff");
    EXPECT_EQ(command("AT+S.GCFG=console_wind_off_high"),
              "\r\nAT-S.Var:console_wind_off_high=0xFFFFFFFF\r\n" + kOk);
    // A passphrase is taken whole, commas included.
    expectOk("AT+S.SCFG=wifi_wpa_psk_text,a,b c,d!");
    EXPECT_EQ(command("AT+S.GCFG=wifi_wpa_psk_text"),
              "\r\nAT-S.Var:wifi_wpa_psk_text=a,b c,d!\r\n" + kOk);
    EXPECT_EQ(readFile(emu_->logPath()).find("b c,d!"), std::string::npos);  // hidden in the trace
    expectOk("AT+S.SSIDTXT=My Net, 5G");
    EXPECT_EQ(command("AT+S.SSIDTXT"), "\r\nAT-S.Var:wifi_ssid=My Net, 5G\r\n" + kOk);
    // Not associated: no sockets.
    expectError("AT+S.SOCKON=localhost,1,NULL,t", 44);
    expectError("AT+S.SOCKON=localhost,1,NULL", 2);
    expectError("AT+S.SOCKON=localhost,1,NULL,u", 2);
}

TEST_F(Spwf04sTest, SocketRoundTripReadsByCount) {
    EchoServer server;
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    EXPECT_EQ(command("AT+S.GCFG=ip_ipaddr"), "\r\nAT-S.Var:ip_ipaddr=192.168.1.50\r\n" + kOk);
    auto r = command("AT+S.SOCKON=127.0.0.1," + std::to_string(server.port()) + ",NULL,t");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:127.0.0.1:0\r\n" + kOk);

    const std::string payload = trickyPayload();
    ASSERT_LE(payload.size(), 730U);
    ASSERT_NO_FATAL_FAILURE(write(0, payload));
    EXPECT_EQ(receive(0, payload.size()), payload);
    EXPECT_EQ(command("AT+S.SOCKQ=0"), "\r\nAT-S.Query:0\r\n" + kOk);
    // Nothing pending: an empty read.
    EXPECT_EQ(command("AT+S.SOCKR=0,10"), "\r\nAT-S.Reading:0:0\r\n" + kOk);

    // Every family's framing tokens come back byte-exact (two writes: at most 730 per SOCKW).
    const std::string tokens = framingTokenPayload();
    ASSERT_NO_FATAL_FAILURE(write(0, tokens.substr(0, 500)));
    std::string back = receive(0, 500);
    ASSERT_NO_FATAL_FAILURE(write(0, tokens.substr(500)));
    back += receive(0, tokens.size() - 500);
    EXPECT_EQ(back, tokens);
    expectOk("AT+S.SOCKC=0");
    expectError("AT+S.SOCKQ=0", 70);
    EXPECT_EQ(status().value("misuse", -1), 1);  // the SOCKQ on a closed socket
}

TEST_F(Spwf04sTest, PendingDataBlocksCloseAndRemoteCloseIsReported) {
    GreetingServer server("hello from the server");
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    int id = open("localhost", server.port());
    ASSERT_EQ(id, 0);
    auto w = numbersAfter(*tty_, "+WIND:55:Pending Data:");
    ASSERT_TRUE(w);
    EXPECT_EQ(*w, (std::vector<long>{0, 21, 21}));
    expectError("AT+S.SOCKC=0", 77);  // unread data: the socket stays
    EXPECT_EQ(command("AT+S.SOCKQ=0"), "\r\nAT-S.Query:21\r\n" + kOk);

    // The far end goes: +WIND:58, and the buffered bytes are still readable.
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+WIND:58:Socket Closed:0:0\r\n"));
    EXPECT_EQ(command("AT+S.SOCKR=0,5"), "\r\nAT-S.Reading:5:21\r\nhello" + kOk);
    EXPECT_EQ(command("AT+S.SOCKR=0"), "\r\nAT-S.Reading:16:16\r\n from the server" + kOk);
    expectError("AT+S.SOCKW=0,3", 70);
    expectOk("AT+S.SOCKC=0");
}

TEST_F(Spwf04sTest, APlainSocketMayLeaveTheDomainFieldEmpty) {
    // GHI's form: AT+S.SOCKON=<host>,<port>,,t opens a plain socket like NULL does.
    EchoServer server;
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    EXPECT_EQ(command("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",,t"),
              "\r\nAT-S.On:127.0.0.1:0\r\n" + kOk);
    ASSERT_NO_FATAL_FAILURE(write(0, "ping"));
    EXPECT_EQ(receive(0, 4), "ping");
    expectOk("AT+S.SOCKC=0");
    expectError("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",,", 2);
    expectError("AT+S.SOCKON=," + std::to_string(server.port()) + ",,t", 2);
    EXPECT_EQ(status().value("misuse", -1), 0);
}

TEST_F(Spwf04sTest, EightSocketsAndStrictWrites) {
    EchoServer server;
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(open("localhost", server.port()), i);
    }
    expectError("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",NULL,t", 71);
    expectError("AT+S.SOCKW=8,1", 2);
    expectError("AT+S.SOCKW=0,731", 2);
    expectOk("AT+S.SOCKC=7");
    EXPECT_EQ(open("localhost", server.port()), 7);

    // A CR LF line end puts the LF into the data: the last byte lands outside, as junk.
    ASSERT_TRUE(tty_->write("AT+S.SOCKW=1,4\r\nabcd"));
    ASSERT_TRUE(tty_->readUntil(kOk));
    EXPECT_EQ(receive(1, 4), "\nabc");
    auto j = status();
    EXPECT_GE(j.value("misuse", 0), 3);  // all 8 in use, length 731, the stray 'd'
    EXPECT_EQ(j.value("open_sockets", -1), 8);
}

TEST_F(Spwf04sTest, AssociationFailuresAndNetworkLoss) {
    EchoServer server;
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+S.SCFG=wifi_wpa_psk_text,wrong-passphrase");
    expectOk("AT+S.SSIDTXT=uplinkd-emu");
    expectOk("AT+S.WIFI=1");
    auto failed = tty_->readUntil("\r\n+WIND:40:WiFi Deauthentication:15\r\n");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->find("WiFi Up"), std::string::npos);
    expectError("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",NULL,t", 44);

    expectOk("AT+S.SSIDTXT=other-net");
    EXPECT_TRUE(okThenUrc("AT+S.WIFI=1", "+WIND:41:WiFi Join Failed:No AP found"));

    // The control socket sets the access point; the module then joins it.
    EXPECT_EQ(emu_->control("ap other-net secret-passphrase"), "ok ap other-net wpa2");
    expectOk("AT+S.SCFG=wifi_wpa_psk_text,secret-passphrase");
    expectOk("AT+S.WIFI=1");
    ASSERT_TRUE(tty_->readUntil(kWifiUp));
    EXPECT_EQ(open("localhost", server.port()), 0);

    // The network goes: WIND:33, the socket closes; it comes back: WiFi Up again.
    controlOk("ap off");
    auto lost = tty_->readUntil("+WIND:58:Socket Closed:0:1\r\n");
    ASSERT_TRUE(lost);
    EXPECT_EQ(*lost, "\r\n+WIND:33:WiFi Network Lost\r\n\r\n+WIND:58:Socket Closed:0:1\r\n");
    expectError("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",NULL,t", 44);
    EXPECT_EQ(emu_->control("ap on"), "ok ap other-net wpa2");
    ASSERT_TRUE(tty_->readUntil(kWifiUp));
    expectOk("AT+S.SOCKC=0");
    EXPECT_EQ(open("localhost", server.port()), 0);

    // AT+S.WIFI=0 leaves the network.
    expectOk("AT+S.WIFI=0");
    EXPECT_TRUE(tty_->readUntil("+WIND:58:Socket Closed:0:1\r\n"));
    expectError("AT+S.SOCKON=localhost," + std::to_string(server.port()) + ",NULL,t", 44);
}

TEST_F(Spwf04sTest, SavedConfigurationJoinsAtBootAndResetReboots) {
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    expectOk("AT+S.WCFG");
    expectOk("AT+S.SCFG=wifi_wpa_psk_text,not-saved-pass");  // RAM only: lost at reset
    auto r = command("AT+S.RESET");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, kOk);
    auto again = tty_->readUntil(kWifiUp);
    ASSERT_TRUE(again) << "no WiFi Up after the reset";
    EXPECT_EQ(*again, "\r\n+WIND:2:Reset\r\n" + kBootWinds + kWifiUp);
    // console_echo 0 was saved as well.
    EXPECT_EQ(command("AT+S.GCFG=wifi_wpa_psk_text"),
              "\r\nAT-S.Var:wifi_wpa_psk_text=emulator-pass\r\n" + kOk);

    // Factory settings: echo back on, no network after the next boot.
    EXPECT_EQ(command("AT+S.FCFG"), kOk);  // echo was off when the line came
    controlOk("reboot");
    auto boot2 = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
    ASSERT_TRUE(boot2);
    EXPECT_EQ(*boot2, kBootWinds);
    EXPECT_EQ(tty_->readFor(300ms), "");  // no SSID: no join
    EXPECT_EQ(command("AT+S.GCFG=ip_ipaddr"),
              "AT+S.GCFG=ip_ipaddr\r\r\nAT-S.Var:ip_ipaddr=0.0.0.0\r\n" + kOk);
}

TEST_F(Spwf04sTest, WindMasksHideEvents) {
    GreetingServer server("12345");
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    // WIND:55 is bit 23 of the medium mask (codes 32-63).
    expectOk("AT+S.SCFG=console_wind_off_medium,0x00800000");
    ASSERT_NO_FATAL_FAILURE(join());
    EXPECT_EQ(open("localhost", server.port()), 0);
    // No WIND:55: the host polls.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    std::string q;
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = command("AT+S.SOCKQ=0");
        ASSERT_TRUE(r);
        q = *r;
        if (q.find("AT-S.Query:5") != std::string::npos) {
            break;
        }
    }
    EXPECT_EQ(q, "\r\nAT-S.Query:5\r\n" + kOk);
    EXPECT_EQ(command("AT+S.SOCKR=0,5"), "\r\nAT-S.Reading:5:5\r\n12345" + kOk);
}

TEST_F(Spwf04sTest, TlsUsesStoredCredentialsSniAndTheModuleClock) {
    TlsEchoSetup tls;
    ASSERT_TRUE(tls.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    const std::string port = std::to_string(tls.server.port());

    // No CA stored: the module refuses before connecting.
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 79);
    // Not a certificate.
    const std::string junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    ASSERT_TRUE(tty_->write("AT+S.TLSCERT=ca," + std::to_string(junk.size()) + "\r" + junk));
    EXPECT_TRUE(tty_->readUntil("\r\nAT-S.ERROR:80:Invalid certificate or key\r\n"));

    // The wrong root: verification fails.
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", tls.other.ca.cert_pem));
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 78);

    // The right root (CR LF line ends), listed by content,1.
    const std::string ca = toCrlf(tls.pki.ca.cert_pem);
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", ca));
    EXPECT_EQ(command("AT+S.TLSCERT=content,1"),
              "\r\nAT-S.Var:tlscert_ca=" + std::to_string(ca.size()) + "\r\n" + kOk);

    // With a domain: SNI and name check; with NULL: no SNI.
    int id = open("localhost", tls.server.port(), "localhost", "s");
    ASSERT_EQ(id, 0);
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(write(id, payload));
    EXPECT_EQ(receive(id, payload.size()), payload);
    EXPECT_EQ(open("127.0.0.1", tls.server.port(), "NULL", "s"), 1);
    // A server that does not speak TLS: the handshake fails.
    EchoServer plain;
    ASSERT_NE(plain.port(), 0);
    expectError("AT+S.SOCKON=localhost," + std::to_string(plain.port()) + ",localhost,s", 76);
    // A domain the certificate does not name fails the check.
    expectError("AT+S.SOCKON=127.0.0.1," + port + ",broker.example.com,s", 78);

    // A module clock in 1970: the server certificate is not valid yet.
    controlOk("clock 0");
    auto t = command("AT+S.TIME");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->rfind("\r\nAT-S.Time:0", 0), 0U) << *t;  // 0 or 1 s later
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 78);
    // The host sets it right.
    long now = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
    expectOk("AT+S.TIME=" + std::to_string(now));
    EXPECT_EQ(open("localhost", tls.server.port(), "localhost", "s"), 2);

    auto hs = tls.server.waitHandshakes(6, 5s);
    ASSERT_TRUE(hs);
    ASSERT_EQ(hs->size(), 6U);
    EXPECT_EQ(hs->at(0).sni, "localhost");  // the wrong root
    EXPECT_EQ(hs->at(1).sni, "localhost");
    EXPECT_TRUE(hs->at(1).ok);
    EXPECT_EQ(hs->at(2).sni, "");  // NULL: SNI off
    EXPECT_TRUE(hs->at(2).ok);
    EXPECT_EQ(hs->at(3).sni, "broker.example.com");

    // Clean removes; the store survives a reset.
    controlOk("reset");
    ASSERT_TRUE(tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n"));
    auto list = command("AT+S.TLSCERT=content,1");
    ASSERT_TRUE(list);
    EXPECT_NE(list->find("AT-S.Var:tlscert_ca="), std::string::npos) << *list;
    expectOk("AT+S.TLSCERT=clean,all");
    EXPECT_EQ(command("AT+S.TLSCERT=content,1"), "AT+S.TLSCERT=content,1\r" + kOk);
}

TEST_F(Spwf04sTest, FaultsSilentRebootAndRebootInsideAWrite) {
    EchoServer server;
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    EXPECT_EQ(open("localhost", server.port()), 0);

    controlOk("fault silent");
    ASSERT_TRUE(tty_->write("AT\r"));
    EXPECT_EQ(tty_->readFor(300ms), "");
    controlOk("fault none");
    EXPECT_EQ(command("AT"), kOk);

    // A reboot in the middle of a SOCKW: no final result, the boot WINDs, sockets gone.
    controlOk("fault reboot-in-uplink 3");
    ASSERT_TRUE(tty_->write("AT+S.SOCKW=0,10\r0123456789"));
    auto winds = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
    ASSERT_TRUE(winds);
    EXPECT_EQ(*winds, kBootWinds);
    EXPECT_EQ(command("AT+S.SOCKQ=0"), "AT+S.SOCKQ=0\r\r\nAT-S.ERROR:70:Invalid socket id\r\n");
    EXPECT_EQ(status().value("boots", 0), 2);
}

TEST_F(Spwf04sTest, RebootInsideAReadStopsAfterTheCountedBytes) {
    GreetingServer server("0123456789abcdefghij");
    ASSERT_NE(server.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    EXPECT_EQ(open("localhost", server.port()), 0);
    ASSERT_TRUE(tty_->readUntil("+WIND:55:Pending Data:0:20:20\r\n"));
    controlOk("fault reboot-in-downlink 7");
    ASSERT_TRUE(tty_->write("AT+S.SOCKR=0,20\r"));
    auto got = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, "\r\nAT-S.Reading:20:20\r\n0123456" + kBootWinds);
    EXPECT_EQ(command("AT+S.SOCKQ=0"), "AT+S.SOCKQ=0\r\r\nAT-S.ERROR:70:Invalid socket id\r\n");
}

}  // namespace
