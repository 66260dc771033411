// SPWF04S model: console grammar, Wi-Fi association, sockets with counted data, the TLS store
// and the module clock, faults; raw conversations through the pty against real servers.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "support/emulator_process.hpp"
#include "support/pty_client.hpp"
#include "support/test_broker.hpp"
#include "support/test_helpers.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace emutest;

namespace {

const std::string kOk = "\r\nAT-S.OK\r\n";
const std::string kBootWinds =
    "\r\n+WIND:0:Console active\r\n\r\n+WIND:32:WiFi Hardware Started\r\n";
const std::string kWifiUp = "\r\n+WIND:24:WiFi Up:0:192.168.1.50\r\n";

class Spwf04sTest : public ::testing::Test {
  protected:
    void boot() {
        emu_ = std::make_unique<EmulatorProcess>(EmulatorProcess::Options{"spwf04s", 0, {}});
        ASSERT_EQ(emu_->startError(), "");
        tty_ = std::make_unique<PtyClient>(emu_->ttyPath());
        ASSERT_TRUE(tty_->isOpen()) << emu_->ttyPath();
        auto winds = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
        ASSERT_TRUE(winds) << "no boot WINDs";
        EXPECT_EQ(*winds, kBootWinds);
        auto r = command("AT+S.SCFG=console_echo,0");
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, "AT+S.SCFG=console_echo,0\r" + kOk);  // echo is on until turned off
    }

    void TearDown() override {
        if (HasFailure() && emu_) {
            dumpTrace(*emu_);
        }
    }

    /// Sends a command line, reads up to AT-S.OK or a whole AT-S.ERROR line.
    std::optional<std::string> command(const std::string& cmd) {
        if (!tty_->write(cmd + "\r")) {
            return std::nullopt;
        }
        auto got = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        if (got && got->size() >= 11 && got->compare(got->size() - 11, 11, "AT-S.ERROR:") == 0) {
            auto rest = tty_->readUntil("\r\n");
            if (!rest) {
                return std::nullopt;
            }
            *got += *rest;
        }
        return got;
    }

    std::string expectOk(const std::string& cmd) {
        auto r = command(cmd);
        EXPECT_TRUE(r) << cmd << ": no final result";
        if (!r) {
            return {};
        }
        EXPECT_NE(r->find(kOk), std::string::npos) << cmd << " -> " << *r;
        return *r;
    }

    void expectError(const std::string& cmd, int code) {
        auto r = command(cmd);
        ASSERT_TRUE(r) << cmd << ": no final result";
        EXPECT_NE(r->find("\r\nAT-S.ERROR:" + std::to_string(code) + ":"), std::string::npos)
            << cmd << " -> " << *r;
    }

    /// The network settings of the emulated access point, then AT+S.WIFI=1 and WiFi Up.
    void join() {
        expectOk("AT+S.SCFG=wifi_mode,1");
        expectOk("AT+S.SCFG=wifi_priv_mode,2");
        expectOk("AT+S.SCFG=wifi_wpa_psk_text,emulator-pass");
        expectOk("AT+S.SSIDTXT=uplinkd-emu");
        expectOk("AT+S.WIFI=1");
        ASSERT_TRUE(tty_->readUntil(kWifiUp)) << "no WiFi Up";
    }

    /// AT+S.SOCKON; returns the socket id.
    int open(const std::string& host, uint16_t port, const std::string& domain = "NULL",
             const std::string& type = "t") {
        auto r =
            command("AT+S.SOCKON=" + host + "," + std::to_string(port) + "," + domain + "," + type);
        EXPECT_TRUE(r);
        if (!r) {
            return -1;
        }
        auto at = r->find("\r\nAT-S.On:");
        EXPECT_NE(at, std::string::npos) << *r;
        EXPECT_NE(r->find(kOk), std::string::npos) << *r;
        if (at == std::string::npos) {
            return -1;
        }
        std::string line = r->substr(at + 2, r->find("\r\n", at + 2) - at - 2);
        return std::stoi(line.substr(line.rfind(':') + 1));
    }

    /// AT+S.SOCKW with the bytes right after the command line's CR.
    void write(int id, const std::string& data) {
        ASSERT_TRUE(tty_->write("AT+S.SOCKW=" + std::to_string(id) + "," +
                                std::to_string(data.size()) + "\r" + data));
        auto r = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        ASSERT_TRUE(r);
        ASSERT_EQ(*r, kOk);
    }

    /// Follows +WIND:55 and reads with AT+S.SOCKR by count until `n` bytes came.
    std::string receive(int id, size_t n) {
        std::string got;
        while (got.size() < n) {
            auto w = numbersAfter(*tty_, "+WIND:55:Pending Data:");
            EXPECT_TRUE(w && w->size() == 3);
            if (!w || w->size() != 3) {
                break;
            }
            EXPECT_EQ(w->at(0), id);
            size_t pending = static_cast<size_t>(w->at(2));
            if (pending < n - got.size()) {
                continue;  // more is on its way
            }
            EXPECT_TRUE(tty_->write("AT+S.SOCKR=" + std::to_string(id) + "," +
                                    std::to_string(pending) + "\r"));
            auto hdr = numbersAfter(*tty_, "\r\nAT-S.Reading:");
            EXPECT_TRUE(hdr && hdr->size() == 2);
            if (!hdr || hdr->size() != 2) {
                break;
            }
            EXPECT_EQ(hdr->at(0), static_cast<long>(pending));
            auto data = tty_->readExactly(static_cast<size_t>(hdr->at(0)));
            auto ok = tty_->readExactly(kOk.size());
            EXPECT_TRUE(data && ok);
            if (!data || !ok) {
                break;
            }
            EXPECT_EQ(*ok, kOk);
            got += *data;
        }
        return got;
    }

    void storeCredential(const std::string& type, const std::string& pem) {
        ASSERT_TRUE(
            tty_->write("AT+S.TLSCERT=" + type + "," + std::to_string(pem.size()) + "\r" + pem));
        auto r = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        ASSERT_TRUE(r);
        ASSERT_EQ(*r, kOk) << type;
    }

    /// AT+S.MQTTCONN with the chosen order: host, port, path, TLS, user, password, client id,
    /// keepalive, retry, LWT QoS, LWT topic, LWT message.
    std::optional<std::string> mqttConnect(const std::string& host, uint16_t port,
                                           const std::string& tls = "0",
                                           const std::string& path = "",
                                           const std::string& client_id = "spwf-test") {
        return command("AT+S.MQTTCONN=" + host + "," + std::to_string(port) + "," + path + "," +
                       tls + ",,," + client_id + ",30,,,,");
    }

    /// AT+S.MQTTPUB with the payload right after the command line.
    std::optional<std::string> publish(int id, const std::string& topic, int qos,
                                       const std::string& payload) {
        if (!tty_->write("AT+S.MQTTPUB=" + std::to_string(id) + "," + topic + "," +
                         std::to_string(qos) + ",0," + std::to_string(payload.size()) + "\r" +
                         payload)) {
            return std::nullopt;
        }
        auto got = tty_->readUntilAny({kOk, "AT-S.ERROR:"});
        if (got && got->find("AT-S.ERROR:") != std::string::npos) {
            auto rest = tty_->readUntil("\r\n");
            *got += rest.value_or("");
        }
        return got;
    }

    /// Reads one +WIND:86 and the payload bytes after it.
    std::optional<std::string> incoming(int id, const std::string& topic) {
        auto len = numbersAfter(
            *tty_, "+WIND:86:MQTT Published:" + std::to_string(id) + ":" + topic + ":");
        if (!len || len->size() != 1) {
            return std::nullopt;
        }
        return tty_->readExactly(static_cast<size_t>(len->at(0)));
    }

    nlohmann::json status() {
        return nlohmann::json::parse(emu_->control("status"), nullptr, false);
    }

    std::unique_ptr<EmulatorProcess> emu_;
    std::unique_ptr<PtyClient> tty_;
};

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
    ASSERT_NO_FATAL_FAILURE(write(0, tokens.substr(500)));
    EXPECT_EQ(receive(0, tokens.size()), tokens);
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
    EXPECT_EQ(emu_->control("fault drop-link"), "ok fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+WIND:58:Socket Closed:0:0\r\n"));
    EXPECT_EQ(command("AT+S.SOCKR=0,5"), "\r\nAT-S.Reading:5:21\r\nhello" + kOk);
    EXPECT_EQ(command("AT+S.SOCKR=0"), "\r\nAT-S.Reading:16:16\r\n from the server" + kOk);
    expectError("AT+S.SOCKW=0,3", 70);
    expectOk("AT+S.SOCKC=0");
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
    expectOk("AT+S.WIFI=1");
    EXPECT_TRUE(tty_->readUntil("\r\n+WIND:41:WiFi Join Failed:No AP found\r\n"));

    // The control socket sets the access point; the module then joins it.
    EXPECT_EQ(emu_->control("ap other-net secret-passphrase"), "ok ap other-net wpa2");
    expectOk("AT+S.SCFG=wifi_wpa_psk_text,secret-passphrase");
    expectOk("AT+S.WIFI=1");
    ASSERT_TRUE(tty_->readUntil(kWifiUp));
    EXPECT_EQ(open("localhost", server.port()), 0);

    // The network goes: WIND:33, the socket closes; it comes back: WiFi Up again.
    EXPECT_EQ(emu_->control("ap off"), "ok ap off");
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
    EXPECT_EQ(emu_->control("reboot"), "ok reboot");
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
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    TestPki other = TestPki::make("some other root");
    ASSERT_TRUE(other.ok);
    TlsEchoServer server(pki.server);
    ASSERT_TRUE(server.ready());
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());
    const std::string port = std::to_string(server.port());

    // No CA stored: the module refuses before connecting.
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 79);
    // Not a certificate.
    const std::string junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    ASSERT_TRUE(tty_->write("AT+S.TLSCERT=ca," + std::to_string(junk.size()) + "\r" + junk));
    EXPECT_TRUE(tty_->readUntil("\r\nAT-S.ERROR:80:Invalid certificate or key\r\n"));

    // The wrong root: verification fails.
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", other.ca.cert_pem));
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 78);

    // The right root (CR LF line ends), listed by content,1.
    const std::string ca = toCrlf(pki.ca.cert_pem);
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", ca));
    EXPECT_EQ(command("AT+S.TLSCERT=content,1"),
              "\r\nAT-S.Var:tlscert_ca=" + std::to_string(ca.size()) + "\r\n" + kOk);

    // With a domain: SNI and name check; with NULL: no SNI.
    int id = open("localhost", server.port(), "localhost", "s");
    ASSERT_EQ(id, 0);
    const std::string payload = trickyPayload();
    ASSERT_NO_FATAL_FAILURE(write(id, payload));
    EXPECT_EQ(receive(id, payload.size()), payload);
    EXPECT_EQ(open("127.0.0.1", server.port(), "NULL", "s"), 1);
    // A domain the certificate does not name fails the check.
    expectError("AT+S.SOCKON=127.0.0.1," + port + ",broker.example.com,s", 78);

    // A module clock in 1970: the server certificate is not valid yet.
    EXPECT_EQ(emu_->control("clock 0"), "ok clock 0");
    auto t = command("AT+S.TIME");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->rfind("\r\nAT-S.Time:0", 0), 0U) << *t;  // 0 or 1 s later
    expectError("AT+S.SOCKON=localhost," + port + ",localhost,s", 78);
    // The host sets it right.
    long now = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
    expectOk("AT+S.TIME=" + std::to_string(now));
    EXPECT_EQ(open("localhost", server.port(), "localhost", "s"), 2);

    auto hs = server.waitHandshakes(6, 5s);
    ASSERT_TRUE(hs);
    ASSERT_EQ(hs->size(), 6U);
    EXPECT_EQ(hs->at(0).sni, "localhost");  // the wrong root
    EXPECT_EQ(hs->at(1).sni, "localhost");
    EXPECT_TRUE(hs->at(1).ok);
    EXPECT_EQ(hs->at(2).sni, "");  // NULL: SNI off
    EXPECT_TRUE(hs->at(2).ok);
    EXPECT_EQ(hs->at(3).sni, "broker.example.com");

    // Clean removes; the store survives a reset.
    EXPECT_EQ(emu_->control("reset"), "ok reset");
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

    EXPECT_EQ(emu_->control("fault silent"), "ok fault silent");
    ASSERT_TRUE(tty_->write("AT\r"));
    EXPECT_EQ(tty_->readFor(300ms), "");
    EXPECT_EQ(emu_->control("fault none"), "ok fault none");
    EXPECT_EQ(command("AT"), kOk);

    // A reboot in the middle of a SOCKW: no final result, the boot WINDs, sockets gone.
    EXPECT_EQ(emu_->control("fault reboot-in-uplink 3"), "ok fault reboot-in-uplink 3");
    ASSERT_TRUE(tty_->write("AT+S.SOCKW=0,10\r0123456789"));
    auto winds = tty_->readUntil("+WIND:32:WiFi Hardware Started\r\n");
    ASSERT_TRUE(winds);
    EXPECT_EQ(*winds, kBootWinds);
    EXPECT_EQ(command("AT+S.SOCKQ=0"), "AT+S.SOCKQ=0\r\r\nAT-S.ERROR:70:Invalid socket id\r\n");
    EXPECT_EQ(status().value("boots", 0), 2);
}

TEST_F(Spwf04sTest, MqttRoundTripWithMosquitto) {
    TestBroker broker;
    ASSERT_EQ(broker.startError(), "");
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(cloud.error(), "") << broker.log();
    ASSERT_TRUE(cloud.subscribe("spwf/up", 1));
    ASSERT_NO_FATAL_FAILURE(boot());
    expectError("AT+S.MQTTCONN=127.0.0.1," + std::to_string(broker.port()) + ",,0,,,id,30,,,,", 44);
    ASSERT_NO_FATAL_FAILURE(join());

    // A path asks for MQTT over WebSocket: not emulated.
    auto ws = mqttConnect("127.0.0.1", broker.port(), "0", "/mqtt");
    ASSERT_TRUE(ws);
    EXPECT_EQ(*ws, "\r\nAT-S.ERROR:97:MQTT transport not supported\r\n");

    auto r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(command("AT+S.MQTTSUB=0,spwf/down/#,1"), kOk);

    // Up: binary payload, counted, QoS 1 (AT-S.OK after the PUBACK).
    const std::string payload = trickyPayload();
    EXPECT_EQ(publish(0, "spwf/up", 1, payload), kOk);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, payload);
    EXPECT_EQ(msgs[0].qos, 1);
    EXPECT_EQ(publish(0, "spwf/up", 0, ""), kOk);  // an empty payload is a message too
    ASSERT_EQ(cloud.waitFor(2).size(), 2U);

    // Down: +WIND:86 with the topic and length, then the raw bytes.
    ASSERT_TRUE(cloud.publish("spwf/down/cmd", payload, 1));
    auto down = incoming(0, "spwf/down/cmd");
    ASSERT_TRUE(down);
    EXPECT_EQ(*down, payload);
    EXPECT_EQ(command("AT+S.MQTTUNSUB=0,spwf/down/#"), kOk);

    // The broker connection drops: +WIND:87, the client id is free again.
    EXPECT_EQ(emu_->control("fault drop-link"), "ok fault drop-link");
    EXPECT_TRUE(tty_->readUntil("\r\n+WIND:87:MQTT Closed:0\r\n"));
    auto gone = publish(0, "spwf/up", 0, "x");
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, "\r\nAT-S.ERROR:96:Invalid MQTT client id\r\n");
    r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(command("AT+S.MQTTDISC=0"), kOk);
    EXPECT_EQ(tty_->readFor(200ms), "");  // no +WIND:87 for a disconnect the host asked for

    // The Wi-Fi goes: +WIND:33, then +WIND:87.
    r = mqttConnect("127.0.0.1", broker.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(emu_->control("ap off"), "ok ap off");
    auto lost = tty_->readUntil("\r\n+WIND:87:MQTT Closed:0\r\n");
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->find("\r\n+WIND:33:WiFi Network Lost\r\n"), 0U) << *lost;
}

TEST_F(Spwf04sTest, MqttRefusalsAndTls) {
    TestPki pki = TestPki::make();
    ASSERT_TRUE(pki.ok);
    TestBroker::Options bo;
    bo.allow_anonymous = false;
    TestBroker closed(bo);
    ASSERT_EQ(closed.startError(), "");
    TestBroker::Options to;
    to.tls = true;
    to.server = pki.server;
    to.ca_pem = pki.ca.cert_pem;
    TestBroker secure(to);
    ASSERT_EQ(secure.startError(), "");
    BrokerPeer cloud(secure.port(), pki.ca.cert_pem);
    ASSERT_EQ(cloud.error(), "") << secure.log();
    ASSERT_TRUE(cloud.subscribe("tls/up", 1));
    ASSERT_NO_FATAL_FAILURE(boot());
    ASSERT_NO_FATAL_FAILURE(join());

    // CONNACK 5: error 90 + the return code.
    auto r = mqttConnect("127.0.0.1", closed.port());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:95:MQTT connection refused: not authorized\r\n");
    expectError("AT+S.MQTTCONN=127.0.0.1,1,,0,,,id,30,,,,", 75);  // nothing listens on port 1

    // TLS with the stored root; the broker's host name is the SNI and the name checked.
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:79:TLS credentials missing\r\n");
    ASSERT_NO_FATAL_FAILURE(storeCredential("ca", pki.ca.cert_pem));
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:0\r\n" + kOk);
    EXPECT_EQ(publish(0, "tls/up", 1, "over tls"), kOk);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, "over tls");
    // A second client fits (with its own client id: the broker drops a duplicate), a third not.
    r = mqttConnect("localhost", secure.port(), "1", "", "spwf-second");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.On:1\r\n" + kOk);
    expectError("AT+S.MQTTCONN=localhost," + std::to_string(secure.port()) + ",,1,,,id,30,,,,", 99);
    // A module clock a year ahead: the broker's certificate has expired.
    EXPECT_EQ(command("AT+S.MQTTDISC=1"), kOk);
    long later = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()) +
                 365L * 24 * 3600;
    EXPECT_EQ(emu_->control("clock " + std::to_string(later)), "ok clock " + std::to_string(later));
    r = mqttConnect("localhost", secure.port(), "1");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "\r\nAT-S.ERROR:78:TLS certificate verification failed\r\n");
}

}  // namespace
