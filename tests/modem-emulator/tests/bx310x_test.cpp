// SPDX-License-Identifier: Apache-2.0
// BX310x model: boot, Wi-Fi station, K sockets, the +++-ended certificate store, the module
// clock and faults, through the pty against real servers in this process.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "data_phase.hpp"
#include "support/emulator_process.hpp"
#include "support/emulator_test.hpp"
#include "support/pty_client.hpp"
#include "support/test_broker.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;
using uplinkd::emulator::DataPhase;

namespace {

// The +++ escape of the BX data mode, from a table: bytes at given times (ms after the
// prompt), then silence until `idle_ms`; guard time 100 ms.
struct EscapeCase {
    const char* name;
    std::vector<std::pair<int, std::string>> input;
    int idle_ms;
    bool done;
    std::string data;
};

TEST(EscapePhaseTest, PlusesEndTheDataOnlyBetweenSilences) {
    const std::vector<EscapeCase> cases = {
        {"escape alone", {{0, "abc"}, {200, "+++"}}, 400, true, "abc"},
        {"no silence after", {{0, "abc"}, {200, "+++"}, {250, "d"}}, 600, false, "abc+++d"},
        {"no silence before", {{0, "abc+++"}}, 400, false, "abc+++"},
        {"too early after", {{0, "abc"}, {200, "+++"}}, 250, false, "abc"},
        {"four pluses", {{0, "abc"}, {200, "++++"}}, 400, false, "abc++++"},
        {"lone plus", {{0, "abc"}, {200, "+"}}, 400, false, "abc+"},
        {"escape right after prompt", {{150, "+++"}}, 300, true, ""},
        {"pluses split", {{0, "x"}, {200, "+"}, {210, "++"}}, 400, true, "x"},
        {"slow pluses are data", {{0, "x"}, {200, "+"}, {350, "++"}}, 600, false, "x+++"},
        {"data then real escape", {{0, "a+++"}, {200, "+++"}}, 400, true, "a+++"},
    };
    const auto t0 = DataPhase::Clock::now();
    for (const auto& c : cases) {
        auto p = DataPhase::escape(100, std::chrono::milliseconds(100), t0);
        for (const auto& [ms, bytes] : c.input) {
            auto at = t0 + std::chrono::milliseconds(ms);
            p.idle(at);
            EXPECT_EQ(p.feed(bytes, at), bytes.size()) << c.name;
        }
        p.idle(t0 + std::chrono::milliseconds(c.idle_ms));
        EXPECT_EQ(p.done(), c.done) << c.name;
        std::string data = p.data();
        EXPECT_EQ(data, c.data) << c.name;
    }
    auto big = DataPhase::escape(4, std::chrono::milliseconds(100), t0);
    big.feed("12345", t0);
    EXPECT_EQ(big.outcome(), DataPhase::Outcome::Overflow);
}

const std::string kSsid = "uplinkd-ap";
const std::string kPass = "uplinkd-passphrase";

class Bx310xTest : public EmulatorTest {
  protected:
    /// Starts the emulator, waits for READY, echo off, numeric errors.
    void boot(std::vector<std::string> extra = {}) {
        ASSERT_NO_FATAL_FAILURE(launch("bx310x", "\r\nREADY\r\n", std::move(extra)));
        auto r = tty_->command("ATE0");
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, "ATE0\r\r\nOK\r\n");  // echo is on until ATE0
        expectOk("AT+CMEE=1");
    }

    /// Station mode, the default access point, connected with an address.
    void joinWifi() {
        expectOk("AT+SRWCFG=1");
        expectOk("AT+SRWSTACFG=\"" + kSsid + "\",\"" + kPass + "\",1");
        expectOk("AT+SRWSTACON=1");
        auto st = tty_->readUntil("\r\n+SRWSTASTATUS: 1,\"" + kSsid + "\",\"");
        ASSERT_TRUE(st) << "no association";
        ASSERT_TRUE(tty_->readUntil("\r\n+SRWSTAIP: \"")) << "no address";
        ASSERT_TRUE(tty_->readUntil("\r\n"));
    }

    /// A command that must end in a plain `ERROR`.
    void expectError(const std::string& cmd) {
        auto r = tty_->command(cmd);
        ASSERT_TRUE(r) << cmd;
        EXPECT_NE(r->find("\r\nERROR\r\n"), std::string::npos) << cmd << " -> " << *r;
    }

    /// Data mode ended the BX way: the bytes, a pause, `+++`, a pause; returns the final.
    std::optional<std::string> escapeData(const std::string& data,
                                          std::chrono::milliseconds guard) {
        EXPECT_TRUE(tty_->write(data));
        std::this_thread::sleep_for(guard);  // the guard time is the protocol, not a wait
        EXPECT_TRUE(tty_->write("+++"));
        auto r = tty_->readUntilAny({"\r\nOK\r\n", "\r\nERROR\r\n", "+CME ERROR: "}, 10s);
        if (r && r->ends_with("+CME ERROR: ")) {
            auto code = tty_->readUntil("\r\n");
            *r += code.value_or("");
        }
        return r;
    }

    /// AT+KCERTSTORE / KPRIVKSTORE of `pem`; true when it ended in OK.
    bool store(const std::string& cmd, const std::string& pem, std::chrono::milliseconds guard) {
        EXPECT_TRUE(tty_->write(cmd + "\r"));
        EXPECT_TRUE(tty_->readUntil("\r\nCONNECT\r\n")) << cmd;
        auto r = escapeData(pem, guard);
        return r && r->find("\r\nOK\r\n") != std::string::npos;
    }

    /// AT+KMQTTCFG for the broker at host:port, then AT+KMQTTCNX=1; returns the +KMQTT_IND
    /// code that follows (-1 when none came).
    int mqttConnect(int secure, const std::string& host, uint16_t port,
                    const std::string& client = "bx-1", int version = 4) {
        auto cfg = expectOk("AT+KMQTTCFG=" + std::to_string(secure) + ",\"" + host + "\"," +
                            std::to_string(port) + "," + std::to_string(version) + ",\"" + client +
                            "\",60,1,0,\"\",\"\",0,0,\"\",\"\"");
        EXPECT_NE(cfg.find("\r\n+KMQTTCFG: 1\r\n"), std::string::npos) << cfg;
        expectOk("AT+KMQTTCNX=1");
        auto code = numbersAfter(*tty_, "+KMQTT_IND: 1,", 20s);
        if (!code || code->size() != 1) {
            return -1;
        }
        return static_cast<int>(code->at(0));
    }
};

TEST_F(Bx310xTest, BootIdentityAndFactoryReset) {
    ASSERT_NO_FATAL_FAILURE(boot());
    EXPECT_NE(expectOk("ATI").find("\r\nBX3105\r\n"), std::string::npos);
    EXPECT_NE(expectOk("ATI3").find("\r\nBX310x."), std::string::npos);
    // A Wi-Fi module: no SIM, no cellular registration.
    expectError("AT+CPIN?");
    expectError("AT+CEREG?");
    expectError("AT+CGDCONT=1,\"IP\",\"internet\"");
    EXPECT_NE(expectOk("AT+SRWCFG?").find("+SRWCFG: 3\r\n"), std::string::npos);
    expectOk("AT+SRWCFG=1");
    expectOk("AT+SRWSTACFG=\"" + kSsid + "\",\"" + kPass + "\",1");
    EXPECT_NE(expectOk("AT+SRWSTACFG?").find("+SRWSTACFG: \"" + kSsid + "\""), std::string::npos);
    // The passphrase does not reach the trace.
    EXPECT_EQ(trace().find(kPass), std::string::npos);

    // AT&F: OK, then the module reboots (READY) with factory settings: echo on, no station.
    auto r = tty_->command("AT&F");
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("\r\nOK\r\n"), std::string::npos);
    ASSERT_TRUE(tty_->readUntil("\r\nREADY\r\n"));
    auto echoed = tty_->command("AT+SRWCFG?");
    ASSERT_TRUE(echoed);
    EXPECT_EQ(echoed->rfind("AT+SRWCFG?\r", 0), 0U) << *echoed;
    EXPECT_NE(echoed->find("+SRWCFG: 3\r\n"), std::string::npos);
    expectOk("ATE0");
    expectOk("AT+CMEE=1");
    expectCme("AT+SRWSTACON=1", 919);
    EXPECT_EQ(status()["boots"], 2);
}

TEST_F(Bx310xTest, WifiAssociationFollowsTheAccessPoint) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    expectOk("AT+SRWCFG=1");

    // Unknown SSID, then a wrong passphrase: the association fails with a reason.
    expectOk("AT+SRWSTACFG=\"elsewhere\",\"" + kPass + "\",1");
    EXPECT_TRUE(okThenUrc("AT+SRWSTACON=1", "+SRWSTASTATUS: 0,201"));
    expectOk("AT+SRWSTACFG=\"" + kSsid + "\",\"wrong-passphrase\",1");
    EXPECT_TRUE(okThenUrc("AT+SRWSTACON=1", "+SRWSTASTATUS: 0,15"));
    EXPECT_NE(expectOk("AT+SRWSTACON?").find("+SRWSTACON: 0\r\n"), std::string::npos);

    // The access point the module sees is set by the control socket.
    EXPECT_EQ(emu_->control("wifi ap lab-net secret-passphrase"), "ok wifi ap lab-net");
    expectOk("AT+SRWSTACFG=\"lab-net\",\"secret-passphrase\",1");
    expectOk("AT+SRWSTACON=1");
    EXPECT_TRUE(tty_->readUntil("\r\n+SRWSTASTATUS: 1,\"lab-net\",\""));
    ASSERT_TRUE(tty_->readUntil("\r\n+SRWSTAIP: \""));
    EXPECT_EQ(status()["wifi"]["state"], "up");

    // A socket over it, then the access point goes away: +SRWSTASTATUS: 0,8 and the socket
    // reports a network error.
    expectOk("AT+KTCPCFG=,0,\"127.0.0.1\"," + std::to_string(echo.port()));
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    controlOk("wifi drop");
    EXPECT_TRUE(tty_->readUntil("\r\n+SRWSTASTATUS: 0,8\r\n"));
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,0\r\n"));
    expectCme("AT+KTCPCNX=1", 921);  // no network
    EXPECT_EQ(emu_->control("wifi drop"), "error not associated");

    // Reconnect, then leave on purpose.
    expectOk("AT+SRWSTACON=1");
    ASSERT_TRUE(tty_->readUntil("\r\n+SRWSTAIP: \""));
    EXPECT_TRUE(okThenUrc("AT+SRWSTACON=0", "+SRWSTASTATUS: 0,8"));

    // No access point at all.
    controlOk("wifi ap none");
    EXPECT_TRUE(okThenUrc("AT+SRWSTACON=1", "+SRWSTASTATUS: 0,201"));
}

TEST_F(Bx310xTest, SocketRoundTripWithoutCnxIndex) {
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    auto port = std::to_string(echo.port());

    // Before the Wi-Fi has an address, a connect is refused.
    auto cfg = expectOk("AT+KTCPCFG=,0,\"127.0.0.1\"," + port + ",0,1,0");
    EXPECT_NE(cfg.find("\r\n+KTCPCFG: 1\r\n"), std::string::npos) << cfg;
    expectCme("AT+KTCPCNX=1", 921);
    ASSERT_NO_FATAL_FAILURE(joinWifi());

    // The HL78 form with a cnx index is not the BX's.
    expectCme("AT+KTCPCFG=1,0,\"127.0.0.1\"," + port, 915);
    expectCme("AT+KTCPCFG=,0,\"127.0.0.1\"", 917);
    expectCme("AT+KTCPCFG=,5,\"127.0.0.1\"," + port, 916);
    expectCme("AT+KTCPCFG=,0,\"127.0.0.1\",70000", 916);
    expectError("AT+KTCPCFG=?");

    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));
    EXPECT_NE(expectOk("AT+KTCPSTAT=1").find("+KTCPSTAT: 3,"), std::string::npos);
    expectCme("AT+KTCPCNX=1", 911);

    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(ktcpSend(1, payload, payload.size()));
    EXPECT_EQ(ktcpReceive(1, payload.size()), payload);

    expectCme("AT+KTCPSND=7,5", 910);
    expectCme("AT+KTCPSND=1", 917);
    expectCme("AT+KTCPSND=1,5,1", 915);
    expectCme("AT+KTCPSND=1,0", 916);

    // A wrong length: the data goes, then +KTCP_NOTIF: <id>,8.
    ASSERT_TRUE(tty_->write("AT+KTCPSND=1,9\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write("hello" + kEofPattern));
    ASSERT_TRUE(tty_->readUntil("\r\nOK\r\n"));
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,8\r\n"));

    // The far end goes away.
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+KTCP_NOTIF: 1,4\r\n"));
    expectOk("AT+KTCPCLOSE=1");
    expectOk("AT+KTCPDEL=1");
    expectCme("AT+KTCPDEL=1", 910);
}

TEST_F(Bx310xTest, CertificateStoreNeedsAStandaloneEscape) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    ASSERT_NO_FATAL_FAILURE(boot());
    controlOk("set cert-guard-ms 300");
    const auto pause = 650ms;
    const std::string& pem = pki.ca.cert_pem;
    std::string cmd = "AT+KCERTSTORE=0," + std::to_string(pem.size()) + ",0";

    // The HL78 ending (the EOF pattern) and a +++ right behind the data are both data: the
    // module is still in data mode; the count then does not match.
    ASSERT_TRUE(tty_->write(cmd + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(pem + kEofPattern + "+++"));
    EXPECT_EQ(tty_->readFor(pause * 2), "");  // no answer: still collecting
    auto r = escapeData("", pause);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CME ERROR: 931"), std::string::npos) << *r;

    // A +++ followed by more bytes within the guard time is data too.
    ASSERT_TRUE(tty_->write(cmd + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(pem.substr(0, 10)));
    std::this_thread::sleep_for(pause);
    ASSERT_TRUE(tty_->write("+++" + pem.substr(10)));
    r = escapeData("", pause);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CME ERROR: 931"), std::string::npos) << *r;  // 3 bytes too many
    EXPECT_EQ(status()["certificates"], nlohmann::json::array());

    // Exactly the bytes, pause, +++, pause: stored.
    EXPECT_TRUE(store(cmd, pem, pause));
    EXPECT_TRUE(store("AT+KCERTSTORE=1," + std::to_string(pki.server.cert_pem.size()) + ",0",
                      pki.server.cert_pem, pause));
    EXPECT_TRUE(store("AT+KPRIVKSTORE=0," + std::to_string(pki.server.key_pem.size()),
                      pki.server.key_pem, pause));
    // Without a length: what came before the +++.
    EXPECT_TRUE(store("AT+KCERTSTORE=1,,1", pki.server.cert_pem, pause));
    auto list = expectOk("AT+KCERTSTORE?");
    EXPECT_NE(list.find("+KCERTSTORE: local_cert,1," + std::to_string(pki.server.cert_pem.size())),
              std::string::npos)
        << list;
    EXPECT_NE(list.find("+KCERTSTORE: root_cert,0," + std::to_string(pem.size()) + "\r\n"),
              std::string::npos)
        << list;
    EXPECT_NE(list.find("+KCERTSTORE: local_cert,0,"), std::string::npos) << list;
    expectCme("AT+KPRIVKSTORE?", 918);  // keys cannot be read back

    // Not a certificate: content invalid.
    std::string junk = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    ASSERT_TRUE(tty_->write("AT+KCERTSTORE=0," + std::to_string(junk.size()) + ",1\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    r = escapeData(junk, pause);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CME ERROR: 930"), std::string::npos) << *r;

    // Parameter errors.
    expectCme("AT+KCERTSTORE=2,100", 916);
    expectCme("AT+KCERTSTORE=0,3001", 916);
    expectCme("AT+KCERTSTORE=0,100,3", 916);
    expectCme("AT+KCERTSTORE=0", 917);
    expectCme("AT+KCERTSTORE=0,100,0,1", 915);
    expectError("AT+KCERTSTORE=?");
    expectError("AT+KCERTSTORE");

    expectOk("AT+KCERTDELETE=1,0");
    list = expectOk("AT+KCERTSTORE?");
    EXPECT_EQ(list.find("local_cert,0,"), std::string::npos) << list;
    EXPECT_NE(list.find("local_cert,1,"), std::string::npos) << list;
    expectCme("AT+KCERTDELETE=0,5", 916);
    EXPECT_GE(status().value("misuse", 0), 2);
}

TEST_F(Bx310xTest, DefaultCertificateGuardTimeIsOneSecond) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    ASSERT_NO_FATAL_FAILURE(boot());
    const std::string& pem = pki.ca.cert_pem;
    std::string cmd = "AT+KCERTSTORE=0," + std::to_string(pem.size());
    // A 100 ms pause is too short for the certificate store: the +++ is data.
    ASSERT_TRUE(tty_->write(cmd + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(pem));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(tty_->write("+++"));
    EXPECT_EQ(tty_->readFor(1500ms), "");  // still in data mode
    auto r = escapeData("", 1500ms);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("+CME ERROR: 931"), std::string::npos) << *r;
    // The 1.5 s of the reference works.
    EXPECT_TRUE(store(cmd, pem, 1500ms));
    EXPECT_EQ(status()["certificates"], nlohmann::json::array({"root_cert/0"}));
}

TEST_F(Bx310xTest, ModuleClockCanBeSetWrong) {
    ASSERT_NO_FATAL_FAILURE(boot());
    auto now = expectOk("AT+CCLK?");
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char year[8];
    std::strftime(year, sizeof year, "\"%y/", &tm);
    EXPECT_NE(now.find(std::string("+CCLK: ") + year), std::string::npos) << now;
    controlOk("clock -315360000");  // ten years back
    auto wrong = expectOk("AT+CCLK?");
    EXPECT_EQ(wrong.find(std::string("+CCLK: ") + year), std::string::npos) << wrong;
    expectOk("AT+CCLK=\"30/01/02,03:04:05+00\"");
    EXPECT_NE(expectOk("AT+CCLK?").find("+CCLK: \"30/01/02,03:0"), std::string::npos);
    expectCme("AT+CCLK=\"yesterday\"", 916);
    controlOk("clock host");
    EXPECT_NE(expectOk("AT+CCLK?").find(std::string("+CCLK: ") + year), std::string::npos);
}

TEST_F(Bx310xTest, FaultsSilentRebootAndInData) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    EchoServer echo;
    ASSERT_NE(echo.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(joinWifi());
    expectOk("AT+KTCPCFG=,0,\"127.0.0.1\"," + std::to_string(echo.port()));
    ASSERT_TRUE(okThenUrc("AT+KTCPCNX=1", "+KTCP_IND: 1,1"));

    controlOk("fault silent");
    ASSERT_TRUE(tty_->write("AT\r"));
    EXPECT_EQ(tty_->readFor(300ms), "");
    controlOk("fault none");
    expectOk("AT");

    // An unexpected reboot: READY, the socket and the association are gone, the station
    // configuration (flash) stays.
    controlOk("reboot");
    ASSERT_TRUE(tty_->readUntil("\r\nREADY\r\n"));
    expectOk("ATE0");
    expectOk("AT+CMEE=1");
    expectCme("AT+KTCPSTAT=1", 910);
    EXPECT_NE(expectOk("AT+SRWSTACON?").find("+SRWSTACON: 0"), std::string::npos);
    expectOk("AT+SRWSTACON=1");
    ASSERT_TRUE(tty_->readUntil("\r\n+SRWSTAIP: \""));

    // A reboot in the middle of a certificate upload: no final result, READY, nothing stored.
    controlOk("fault reboot-in-uplink 100");
    ASSERT_TRUE(tty_->write("AT+KCERTSTORE=0," + std::to_string(pki.ca.cert_pem.size()) + "\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    ASSERT_TRUE(tty_->write(pki.ca.cert_pem));
    auto after = tty_->readUntil("\r\nREADY\r\n");
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, "\r\nREADY\r\n");
    EXPECT_EQ(status()["certificates"], nlohmann::json::array());
}

TEST_F(Bx310xTest, TestAndBareFormsAreErrors) {
    ASSERT_NO_FATAL_FAILURE(boot());
    for (const char* cmd : {"AT+KTCPCNX", "AT+KTCPCNX=?", "AT+KTCPSND=?", "AT+KCERTDELETE",
                            "AT+KPRIVKSTORE=?", "AT+SRWSTACON", "AT+KCERTSTORE=0,\"5"}) {
        expectError(cmd);
    }
    expectCme("AT+SRWCFG=4", 916);
    expectCme("AT+SRWCFG=", 917);
    expectCme("AT+SRWCFG=1,1", 915);
    expectCme("AT+SRWSTACFG=\"x\",\"short\",1", 916);
}

/// Accepts TCP connections and closes each one after the first bytes (a broker that drops a
/// client it does not want without a CONNACK, as AWS IoT does for an inactive certificate).
class SilentCloser : public EchoServer {
  public:
    SilentCloser() : EchoServer(false) { start(); }
    ~SilentCloser() override { stopAll(); }

  protected:
    void serve(int fd) override {
        char buf[512];
        (void)::read(fd, buf, sizeof buf);
        ::shutdown(fd, SHUT_RDWR);  // the fd itself is closed by EchoServer
    }
};

TEST_F(Bx310xTest, MqttRoundTripThroughMosquitto) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "dev/#"), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(joinWifi());

    expectCme("AT+KMQTTCNX=1", 910);  // nothing configured
    expectCme("AT+KMQTTCFG=0,\"127.0.0.1\"," + std::to_string(broker.port()) + ",5,\"x\"", 916);
    expectCme("AT+KMQTTCFG=0,\"127.0.0.1\"", 917);
    ASSERT_EQ(mqttConnect(0, "127.0.0.1", broker.port()), 1) << broker.log();
    EXPECT_EQ(status()["mqtt"]["link"]["connect_level"], 4);

    // KMQTTPUB, QoS 1: OK, then +KMQTT_IND: 1,4 at the PUBACK.
    auto pub = expectOk("AT+KMQTTPUB=1,\"dev/up\",1,0,\"hello, world\"");
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTT_IND: 1,4\r\n"));
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].topic, "dev/up");
    EXPECT_EQ(msgs[0].payload, "hello, world");

    // A '"' inside the message breaks the parse (+CME ERROR: 3); nothing is published.
    expectCme("AT+KMQTTPUB=1,\"dev/up\",1,0,\"{\"a\":1}\"", 3);
    expectError("AT+KMQTTPUB=1,\"dev/up,1,0,\"x\"");  // unbalanced quotes

    // KMQTTPUBSTART: any bytes, +++ included, ended by a +++ between pauses.
    std::string payload = "{\"a\":\"+++\"}\r\nOK\r\n";
    for (int i = 0; i < 256; ++i) {
        payload.push_back(static_cast<char>(i));
    }
    ASSERT_TRUE(tty_->write("AT+KMQTTPUBSTART=1,\"dev/bin\",1,0\r"));
    ASSERT_TRUE(tty_->readUntil("\r\nCONNECT\r\n"));
    auto r = escapeData(payload, 300ms);
    ASSERT_TRUE(r);
    EXPECT_NE(r->find("\r\nOK\r\n"), std::string::npos) << *r;
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTT_IND: 1,4\r\n"));
    msgs = cloud.waitFor(2);
    ASSERT_EQ(msgs.size(), 2U);
    EXPECT_EQ(msgs[1].topic, "dev/bin");
    EXPECT_EQ(msgs[1].payload, payload);

    // Subscriptions: at most 5 topics; incoming publishes as +KMQTT_DATA.
    for (int i = 1; i <= 5; ++i) {
        EXPECT_TRUE(
            okThenUrc("AT+KMQTTSUB=1,\"cmd/" + std::to_string(i) + "\",1", "+KMQTT_IND: 1,2"));
    }
    expectError("AT+KMQTTSUB=1,\"cmd/6\",1");
    ASSERT_TRUE(cloud.publish("cmd/3", "reboot please", 1));
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTT_DATA: 1,\"cmd/3\",\"reboot please\"\r\n"));
    EXPECT_TRUE(okThenUrc("AT+KMQTTUNSUB=1,\"cmd/5\"", "+KMQTT_IND: 1,3"));
    expectOk("AT+KMQTTSUB=1,\"cmd/6\",0");

    // Error forms.
    expectCme("AT+KMQTTPUB=2,\"dev/up\",1,0,\"x\"", 910);
    expectCme("AT+KMQTTPUB=1,\"dev/up\",3,0,\"x\"", 916);
    expectCme("AT+KMQTTPUB=1,\"dev/up\",1", 917);
    expectCme("AT+KMQTTPUB=1,\"dev/up\",1,0,\"x\",1", 915);
    for (const char* cmd : {"AT+KMQTTCNX", "AT+KMQTTCNX=?", "AT+KMQTTCNX?", "AT+KMQTTPUB",
                            "AT+KMQTTPUB=?", "AT+KMQTTPUB?"}) {
        expectError(cmd);
    }

    // The broker side goes away: the classic +KMQTT_IND: 1,0.
    controlOk("fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTT_IND: 1,0\r\n", 10s));
    expectCme("AT+KMQTTPUB=1,\"dev/up\",1,0,\"x\"", 922);

    // Again, then the Wi-Fi goes: +SRWSTASTATUS: 0,8 and +KMQTT_IND: 1,0.
    ASSERT_TRUE(okThenUrc("AT+KMQTTCNX=1", "+KMQTT_IND: 1,1", 20s));
    controlOk("wifi drop");
    EXPECT_TRUE(tty_->readUntil("\r\n+SRWSTASTATUS: 0,8\r\n"));
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTT_IND: 1,0\r\n"));
    expectCme("AT+KMQTTCNX=1", 921);

    expectOk("AT+KMQTTCLOSE=1");
    expectOk("AT+KMQTTDEL=1");
    expectCme("AT+KMQTTCNX=1", 910);
}

TEST_F(Bx310xTest, MqttTlsFailuresAreTheOpaqueIndication) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    TestPki other = TestPki::make("some other root");
    ASSERT_TRUE(other.ok);
    auto bo = TestBroker::Options::overTls(pki);
    bo.require_certificate = true;
    TestBroker broker(bo);
    ASSERT_EQ(broker.startError(), "");
    ASSERT_NO_FATAL_FAILURE(boot());
    controlOk("set cert-guard-ms 100");
    ASSERT_NO_FATAL_FAILURE(joinWifi());
    const auto pause = 300ms;
    auto storeAs = [&](const std::string& cmd, const std::string& pem) {
        return store(cmd + "," + std::to_string(pem.size()) + ",0", pem, pause);
    };

    // An unknown CA (the wrong root stored).
    ASSERT_TRUE(storeAs("AT+KCERTSTORE=0", other.ca.cert_pem));
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 0);
    // The right root, but no client certificate: the broker refuses the handshake.
    ASSERT_TRUE(storeAs("AT+KCERTSTORE=0", pki.ca.cert_pem));
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 0);
    // A client certificate that the broker's CA did not sign.
    ASSERT_TRUE(storeAs("AT+KCERTSTORE=1", other.server.cert_pem));
    ASSERT_TRUE(storeAs("AT+KPRIVKSTORE=0", other.server.key_pem));
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 0);
    // The right certificate with a key that does not match it.
    ASSERT_TRUE(storeAs("AT+KCERTSTORE=1", pki.server.cert_pem));
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 0);
    ASSERT_TRUE(storeAs("AT+KPRIVKSTORE=0", pki.server.key_pem));
    // A module clock ten years off: the broker's certificate is not valid yet.
    controlOk("clock -315360000");
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 0);
    controlOk("clock host");
    // Everything right: connected, SNI = host.
    EXPECT_EQ(mqttConnect(1, "localhost", broker.port()), 1) << broker.log();
    EXPECT_TRUE(okThenUrc("AT+KMQTTPUB=1,\"dev/up\",1,0,\"over tls\"", "+KMQTT_IND: 1,4"));
    std::string t = trace();
    EXPECT_NE(t.find("MQTT connect failed: tls"), std::string::npos);
    EXPECT_EQ(t.find(pki.server.key_pem.substr(40, 30)), std::string::npos);  // no key text
}

TEST_F(Bx310xTest, MqttRefusalsAndSilentCloseAreTheOpaqueIndication) {
    TestBroker refusing(TestBroker::Options::refusing());
    ASSERT_EQ(refusing.startError(), "");
    SilentCloser closer;
    ASSERT_NE(closer.port(), 0);
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(joinWifi());
    EXPECT_EQ(mqttConnect(0, "127.0.0.1", refusing.port()), 0);
    EXPECT_NE(trace().find("CONNACK 5"), std::string::npos);
    EXPECT_EQ(mqttConnect(0, "127.0.0.1", closer.port()), 0);
    EXPECT_EQ(mqttConnect(0, "no-such-host.invalid", 1883), 0);
    EXPECT_NE(trace().find("closed without connack"), std::string::npos);

    // User and password go in the CONNECT; the password does not reach the trace.
    auto cfg = expectOk("AT+KMQTTCFG=0,\"127.0.0.1\"," + std::to_string(refusing.port()) +
                        ",4,\"bx-2\",30,1,1,\"dev/will\",\"gone\",1,0,\"user\",\"s3cr3t-pw\"");
    EXPECT_NE(cfg.find("+KMQTTCFG: 1\r\n"), std::string::npos) << cfg;
    auto read = expectOk("AT+KMQTTCFG?");
    EXPECT_NE(read.find("+KMQTTCFG: 1,0,\"127.0.0.1\","), std::string::npos) << read;
    EXPECT_EQ(read.find("s3cr3t-pw"), std::string::npos) << read;
    EXPECT_TRUE(okThenUrc("AT+KMQTTCNX=1", "+KMQTT_IND: 1,0"));
    EXPECT_EQ(trace().find("s3cr3t-pw"), std::string::npos);
}

TEST_F(Bx310xTest, OldFirmwareReportsIncomingAsKmqttsub) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud), "");
    ASSERT_NO_FATAL_FAILURE(boot({"--variant", "BX3105-OLD"}));
    ASSERT_NO_FATAL_FAILURE(joinWifi());
    ASSERT_EQ(mqttConnect(0, "127.0.0.1", broker.port(), "old-one", 3), 1) << broker.log();
    EXPECT_EQ(status()["mqtt"]["link"]["connect_protocol"], "MQIsdp");  // MQTT 3.1
    EXPECT_TRUE(okThenUrc("AT+KMQTTSUB=1,\"cmd\",1", "+KMQTT_IND: 1,2"));
    ASSERT_TRUE(cloud.publish("cmd", "hi", 1));
    EXPECT_TRUE(tty_->readUntil("\r\n+KMQTTSUB: \"cmd\",\"hi\"\r\n"));
}

}  // namespace
