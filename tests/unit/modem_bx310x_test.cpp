// SPDX-License-Identifier: Apache-2.0
// The sierra-bx310x modem plugin against a scripted AtChannel: parsers and code tables (with
// hostile input), the Wi-Fi bring-up, the certificate store (local checks, CR+LF, guard time and
// "+++", read-back), the module's MQTT client (text and binary publishes, QoS 1 acknowledgements
// in order, both incoming forms, the subscription limit, loss, refusal explained, module reset).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bx_certs.hpp"
#include "bx_commands.hpp"
#include "bx_driver.hpp"
#include "bx_errors.hpp"
#include "bx_parsers.hpp"
#include "bx_refusal.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_bx310x {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- test certificates ------------------------------------------------------------------------

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A root CA, a device certificate "dev1" with its key, an intermediate CA and a stray key, made
/// once with the project's scripts.
struct Certs {
    std::string root, root_key, cert, key, inter, other_key;
};

const Certs& certs() {
    static const Certs c = [] {
        char tmpl[] = "/tmp/bx-certs-XXXXXX";
        const std::string dir = mkdtemp(tmpl);
        const std::string src = UPLINKD_SOURCE_DIR;
        const std::string cmd = "bash " + src + "/tools/make-test-ca.sh " + dir + " dev1 && bash " +
                                src + "/tools/make-test-chain.sh " + dir;
        EXPECT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << "openssl missing?";
        Certs out{slurp(dir + "/ca.crt"),     slurp(dir + "/ca.key"),    slurp(dir + "/client.crt"),
                  slurp(dir + "/client.key"), slurp(dir + "/inter.crt"), slurp(dir + "/other.key")};
        std::system(("rm -rf " + dir).c_str());
        return out;
    }();
    return c;
}

std::string crlf(const std::string& pem) {
    std::string out;
    for (char ch : pem) {
        if (ch == '\n') {
            out += "\r\n";
        } else {
            out += ch;
        }
    }
    return out;
}

std::vector<std::string> pemLines(const std::string& pem) {
    std::vector<std::string> lines;
    std::istringstream in(pem);
    for (std::string l; std::getline(in, l);) {
        if (!l.empty()) {
            lines.push_back(l);
        }
    }
    return lines;
}

// ---- parsers ----------------------------------------------------------------------------------

TEST(Bx310xParsers, StationStatus) {
    auto s = parseStaStatus("+SRWSTASTATUS: 1,\"plant-floor\",\"a4:cf:12:00:11:22\",6,3");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->associated);
    EXPECT_EQ(s->ssid, "plant-floor");
    EXPECT_EQ(s->mac, "a4:cf:12:00:11:22");
    EXPECT_EQ(s->channel, 6);
    EXPECT_FALSE(s->rssi_dbm);
    s = parseStaStatus("+SRWSTASTATUS: 1,\"x\",\"m\",11,3,-61");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rssi_dbm, -61);
    s = parseStaStatus("+SRWSTASTATUS: 0,8");
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->associated);
    EXPECT_EQ(s->reason, 8);
    s = parseStaStatus("+SRWSTASTATUS: 0");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->reason, -1);
    for (const char* bad :
         {"+SRWSTASTATUS:", "+SRWSTASTATUS: 2,1", "+SRWSTASTATUS: 0,x", "+SRWSTASTATUS: 0,-3",
          "+SRWSTASTATUS: 1,ssid-unquoted", "+SRWSTASTATUS: 1,\"a\"b\"", "+SRWSTAIP: \"1\"",
          "+SRWSTASTATUS: 0,99999999999"}) {
        EXPECT_FALSE(parseStaStatus(bad)) << bad;
    }
    const auto ip = parseStaIp("+SRWSTAIP: \"192.168.1.20\",\"255.255.255.0\",\"192.168.1.1\"");
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->ip, "192.168.1.20");
    EXPECT_EQ(ip->gateway, "192.168.1.1");
    for (const std::string& bad :
         std::vector<std::string>{"+SRWSTAIP:", "+SRWSTAIP: 1.2.3.4", "+SRWSTAIP: \"\"",
                                  "+SRWSTAIP: \"" + std::string(60, '1') + "\""}) {
        EXPECT_FALSE(parseStaIp(bad)) << bad;
    }
}

TEST(Bx310xParsers, MqttLines) {
    auto cfg = parseKmqttCfg("+KMQTTCFG: 1");
    ASSERT_TRUE(cfg);
    EXPECT_EQ(*cfg, 1);
    EXPECT_FALSE(parseKmqttCfg("+KMQTTCFG: x"));
    EXPECT_FALSE(parseKmqttCfg("+KMQTTCFG:"));
    auto ind = parseKmqttInd("+KMQTT_IND: 1,4");
    ASSERT_TRUE(ind);
    EXPECT_EQ(ind->session, 1);
    EXPECT_EQ(ind->code, 4);
    for (const char* bad : {"+KMQTT_IND: 1", "+KMQTT_IND: ,1", "+KMQTT_IND: 1,-1", "+KMQTT_IND:"}) {
        EXPECT_FALSE(parseKmqttInd(bad)) << bad;
    }
    struct Case {
        std::string line;
        std::string topic, payload;
    };
    const std::vector<Case> good = {
        {"+KMQTT_DATA: 1,\"cmd/dev1\",\"reboot\"", "cmd/dev1", "reboot"},
        {"+KMQTTSUB: \"cmd/dev1\",\"reboot\"", "cmd/dev1", "reboot"},
        {"+KMQTT_DATA: 1,\"t\",\"{\"a\":\"b, c\"}\"\r", "t", "{\"a\":\"b, c\"}"},
        {"+KMQTT_DATA: 1,\"t\",\"\"", "t", ""},
        {"+KMQTTSUB:\"t/+/x\",\"  spaced  \"", "t/+/x", "  spaced  "},
    };
    for (const auto& c : good) {
        EXPECT_TRUE(isIncoming(c.line)) << c.line;
        const auto in = parseIncoming(c.line);
        ASSERT_TRUE(in) << c.line << ": " << in.error().message;
        EXPECT_EQ(in->topic, c.topic) << c.line;
        EXPECT_EQ(in->payload, c.payload) << c.line;
    }
    for (const char* bad :
         {"+KMQTT_DATA: 1,cmd,\"x\"", "+KMQTT_DATA: \"t\",\"x\"", "+KMQTT_DATA: 1,\"t\"",
          "+KMQTTSUB: \"\",\"x\"", "+KMQTTSUB: \"t\",x", "+KMQTTSUB: \"t",
          "+KMQTT_DATA:", "+KMQTT_IND: 1,1", "+KMQTT_DATA: 1,\"t\",\""}) {
        EXPECT_FALSE(parseIncoming(bad)) << bad;
    }
}

TEST(Bx310xParsers, CertStoreListingAndClock) {
    const auto list = parseCertStoreList({"+KCERTSTORE: root_cert,0,12", "-----BEGIN X-----", "abc",
                                          "-----END X-----", "local_cert,0,5", "def", ""});
    ASSERT_TRUE(list) << list.error().message;
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].kind, StoredCert::Kind::Root);
    EXPECT_EQ((*list)[0].lines.size(), 3u);
    EXPECT_EQ((*list)[1].kind, StoredCert::Kind::Local);
    EXPECT_EQ((*list)[1].length, 5u);
    // One "+KCERTSTORE: " line per entry, without text; a key is listed but never its text.
    const auto lines =
        parseCertStoreList({"+KCERTSTORE: root_cert,0,1200", "+KCERTSTORE: local_cert,0,900",
                            "+KCERTSTORE: private_key,0,241", "leaked?"});
    ASSERT_TRUE(lines) << lines.error().message;
    ASSERT_EQ(lines->size(), 3u);
    EXPECT_TRUE((*lines)[0].lines.empty());
    EXPECT_TRUE((*lines)[1].lines.empty());
    EXPECT_EQ((*lines)[2].kind, StoredCert::Kind::Key);
    EXPECT_TRUE((*lines)[2].lines.empty());
    EXPECT_TRUE(parseCertStoreList({"+KCERTSTORE:"})->empty());
    EXPECT_FALSE(parseCertStoreList({"garbage"}));
    EXPECT_FALSE(parseCertStoreList({"+KCERTSTORE: root_cert,x,1"}));

    auto t = parseCclk("+CCLK: \"26/12/04,23:50:15+00\"");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(isoTime(*t), "2026-12-04T23:50:15Z");
    t = parseCclk("+CCLK: \"26/12/05,01:50:15+08\"");  // local = UTC + 2 h
    ASSERT_TRUE(t);
    EXPECT_EQ(isoTime(*t), "2026-12-04T23:50:15Z");
    t = parseCclk("+CCLK: \"70/01/01,00:00:00\"");
    ASSERT_TRUE(t);
    for (const char* bad : {"+CCLK: \"26/13/04,23:50:15+00\"", "+CCLK: \"26/12/04 23:50:15\"",
                            "+CCLK:", "+CCLK: \"26/12/04,23:50:15*00\"", "+CCLK: 1"}) {
        EXPECT_FALSE(parseCclk(bad)) << bad;
    }
}

TEST(Bx310xCommands, ArgumentsInTheirPlaces) {
    ModemMqttConnect c;
    c.host = "abc-ats.iot.eu-west-1.amazonaws.com";
    c.port = 8883;
    c.tls = true;
    c.client_id = "dev1";
    c.keep_alive_s = 60;
    c.clean_session = true;
    EXPECT_EQ(kmqttcfgCommand(c),
              "AT+KMQTTCFG=1,\"abc-ats.iot.eu-west-1.amazonaws.com\",8883,4,\"dev1\",60,1,0,\"\","
              "\"\",0,0,\"\",\"\"");
    c.tls = false;
    c.clean_session = false;
    c.username = "u";
    c.password = "p";
    EXPECT_EQ(kmqttcfgCommand(c),
              "AT+KMQTTCFG=0,\"abc-ats.iot.eu-west-1.amazonaws.com\",8883,4,\"dev1\",60,0,0,\"\","
              "\"\",0,0,\"u\",\"p\"");
    EXPECT_EQ(srwstacfgCommand("net", "secret12"), "AT+SRWSTACFG=\"net\",\"secret12\",1");
    EXPECT_EQ(kcertstoreRootCommand(1200, -1), "AT+KCERTSTORE=0,1200");
    EXPECT_EQ(kcertstoreRootCommand(1200, 2), "AT+KCERTSTORE=0,1200,2");
    EXPECT_EQ(kcertstoreLocalCommand(900, 0), "AT+KCERTSTORE=1,900,0");
    EXPECT_EQ(kprivkstoreCommand(0, 241), "AT+KPRIVKSTORE=0,241");
    EXPECT_EQ(kmqttpubCommand("t/1", 1, false, "hi"), "AT+KMQTTPUB=1,\"t/1\",1,0,\"hi\"");
    EXPECT_EQ(kmqttpubstartCommand("t/1", 0, true), "AT+KMQTTPUBSTART=1,\"t/1\",0,1");
    EXPECT_EQ(kmqttsubCommand("cmd/#", 1), "AT+KMQTTSUB=1,\"cmd/#\",1");
    EXPECT_EQ(kmqttunsubCommand("cmd/#"), "AT+KMQTTUNSUB=1,\"cmd/#\"");
}

// ---- code tables ------------------------------------------------------------------------------

TEST(Bx310xErrors, EveryCodeHasWordsAndAFix) {
    for (int code = 902; code <= 932; ++code) {
        const auto* e = cmeErrorEntry(code);
        ASSERT_NE(e, nullptr) << code;
        EXPECT_FALSE(e->words.empty()) << code;
        const std::string words = explainLine("+CME ERROR: " + std::to_string(code));
        EXPECT_NE(words.find(std::string(e->words)), std::string::npos) << words;
        if (e->fix != "-") {
            EXPECT_NE(words.find(std::string(e->fix)), std::string::npos) << words;
        }
    }
    for (int code = 0; code <= 5; ++code) {
        ASSERT_NE(kmqttIndEntry(code), nullptr) << code;
    }
    for (int code = 0; code <= 15; ++code) {
        const auto* e = ktcpNotifEntry(code);
        ASSERT_NE(e, nullptr) << code;
        EXPECT_NE(e->fix, "-") << code;
    }
    for (int reason : {1, 2, 4, 8, 15, 23, 200, 201, 202, 204}) {
        ASSERT_NE(staReasonEntry(reason), nullptr) << reason;
    }
    uplinkd::testing::expectExplained([](const std::string& l) { return explainLine(l); },
                                      {
                                          {"+CME ERROR: 918", {"not supported", "firmware"}},
                                          {"+CME ERROR: 931", {"CR+LF"}},
                                          {"+CME ERROR: 910", {"bad session ID", "connect again"}},
                                          {"+CME ERROR: 10", {"SIM"}},
                                          {"+CME ERROR: 9999", {"module error 9999"}},
                                          {"+KMQTT_IND: 1,0", {"closed", "probable causes"}},
                                          {"+KMQTT_IND: 1,5", {"error", "credentials"}},
                                          {"+KMQTT_IND: 1,77", {"MQTT client state"}},
                                          {"+SRWSTASTATUS: 0,15", {"4-way handshake", "psk_file"}},
                                          {"+SRWSTASTATUS: 0,201", {"no access point", "ssid"}},
                                          {"+SRWSTASTATUS: 0,8", {"left the network"}},
                                          {"+SRWSTASTATUS: 0,4711", {"reason 4711", "psk_file"}},
                                          {"+SRWSTASTATUS: 1,\"n\",\"m\",1,3", {"associated"}},
                                          {"+KTCP_NOTIF: 1,15", {"does not trust", "root CA"}},
                                          {"+KTCP_NOTIF: 1,3", {"DNS"}},
                                          {"READY", {"restarted"}},
                                          {"ERROR", {"refused"}},
                                          {std::string("+CME ERROR: \x01\xff", 15), {"?"}},
                                      });
}

TEST(Bx310xSettings, WifiSettingsCheckedWithoutShowingThePassphrase) {
    ModemSettings s;
    s.ssid = "plant-floor";
    s.psk = "correct horse";
    EXPECT_TRUE(checkWifiSettings(s));
    s.psk = "";
    EXPECT_TRUE(checkWifiSettings(s));  // an open network
    for (const std::string& psk : {std::string("short"), std::string("has\"quote1"),
                                   std::string(64, 'x'), std::string("tab\there1")}) {
        s.psk = psk;
        const auto st = checkWifiSettings(s);
        ASSERT_FALSE(st) << psk;
        EXPECT_EQ(st.error().code, "config");
        EXPECT_EQ(st.error().message.find(psk), std::string::npos) << st.error().message;
    }
    s.psk = "correct horse";
    for (const std::string& ssid : {std::string(), std::string(33, 'n'), std::string("a\"b")}) {
        s.ssid = ssid;
        EXPECT_FALSE(checkWifiSettings(s)) << ssid;
    }
    EXPECT_TRUE(match().wifi);
    EXPECT_TRUE(match().supports_mqtt_offload);
    EXPECT_FALSE(match().supports_tls_offload);
}

TEST(Bx310xCerts, RootAndKeyChecks) {
    const auto& c = certs();
    EXPECT_TRUE(checkRootCa(c.root, "tls.ca_file"));
    const auto st = checkRootCa(c.inter, "tls.ca_file");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "ca_not_root");
    EXPECT_NE(st.error().message.find("the root CA \"CN=uplinkd test CA\""), std::string::npos)
        << st.error().message;
    EXPECT_NE(st.error().message.find("CN=uplinkd test intermediate"), std::string::npos);
    // A leaf is not a root either.
    EXPECT_FALSE(checkRootCa(c.cert, "tls.ca_file"));
    EXPECT_TRUE(checkKeyMatches(c.cert, c.key));
    const auto k = checkKeyMatches(c.cert, c.other_key);
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, "key_mismatch");
    EXPECT_NE(k.error().message.find("CN=dev1"), std::string::npos) << k.error().message;
    EXPECT_FALSE(checkKeyMatches(c.cert, "not a key"));
    const auto f = certFacts(c.cert, "x");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->subject, "CN=dev1");
    EXPECT_EQ(f->issuer, "CN=uplinkd test CA");
    EXPECT_FALSE(f->self_signed);
    EXPECT_GT(f->not_after, f->not_before);
}

TEST(Bx310xRefusal, CausesOrderedFromWhatIsKnown) {
    CertFacts cert;
    cert.subject = "CN=dev1";
    cert.not_before = 1'000'000'000;
    cert.not_after = 2'000'000'000;
    struct Case {
        std::optional<CertFacts> client;
        std::optional<int64_t> clock;
        bool tls;
        std::vector<std::string> in_order;  ///< each must appear, in this order
        std::vector<std::string> absent;
    };
    const std::vector<Case> cases = {
        // Clock known good: checked, not a cause.
        {cert,
         1'500'000'000,
         true,
         {"Checked by uplinkd: the key matches the certificate \"CN=dev1\"",
          "tls.ca_file is a root CA (\"CN=Root\"", "is within the certificate's validity",
          "1) the certificate \"CN=dev1\" is not registered", "client id \"dev1\"",
          "2) port 8883 is not the broker's MQTT over TLS port"},
         {"outside"}},
        // Clock unknown: a cause after the cloud's refusal.
        {cert,
         std::nullopt,
         true,
         {"1) the certificate \"CN=dev1\"", "2) the module's clock could not be read", "3) port"},
         {}},
        // Clock outside: the first cause.
        {cert,
         2'100'000'000,
         true,
         {"1) the module's clock (", "is outside", "2) the certificate"},
         {}},
        // No client certificate, no TLS: credentials, then the plain port.
        {std::nullopt,
         std::nullopt,
         false,
         {"1) the broker refused the client id \"dev1\"", "2) port 8883 is not the broker's plain"},
         {"Checked by uplinkd", "clock"}},
    };
    for (const auto& c : cases) {
        RefusalFacts f;
        f.endpoint = "broker.example:8883";
        f.line = "+KMQTT_IND: 1,0";
        f.tls = c.tls;
        f.port = 8883;
        f.client_id = "dev1";
        f.root_subject = c.tls ? "CN=Root" : "";
        f.client = c.client;
        f.clock = c.clock;
        const std::string m = refusalWords(f);
        EXPECT_NE(m.find("closed right after the module opened it (+KMQTT_IND: 1,0)"),
                  std::string::npos)
            << m;
        size_t at = 0;
        for (const auto& part : c.in_order) {
            const size_t pos = m.find(part, at);
            EXPECT_NE(pos, std::string::npos) << "\"" << part << "\" (in order) in: " << m;
            if (pos != std::string::npos) {
                at = pos;
            }
        }
        for (const auto& part : c.absent) {
            EXPECT_EQ(m.find(part), std::string::npos) << part << " in: " << m;
        }
    }
}

// ---- the driver -------------------------------------------------------------------------------

constexpr BxTiming kFast{1s, 2s, 2s, 2s, 1500ms, 100ms, 2s, 1s};

class Bx310xDriverTest : public uplinkd::testing::ModemDriverTest<BxDriver, BxTiming> {
  protected:
    Bx310xDriverTest() : ModemDriverTest(kFast) {
        settings_.apn.clear();
        settings_.ssid = "plant-floor";
        settings_.psk = "correct horse";
        settings_.mqtt_offload = true;
    }

    /// The module answers, echo off, numeric errors, station mode.
    const AtScript kWake = {{"AT"}, {"ATE0"}, {"AT+CMEE=1"}, {"AT+SRWCFG=1"}};
    /// ... no MQTT session left over, the station's network and passphrase.
    const AtScript kInit = kWake + AtScript{{"AT+KMQTTCLOSE=1", {}, "+CME ERROR: 910"},
                                            {"AT+KMQTTDEL=1", {}, "+CME ERROR: 910"},
                                            {"AT+SRWSTACFG=\"plant-floor\",\"correct horse\",1"}};
    /// Associated, with an address.
    const AtScript kJoin = {
        {.command = "AT+SRWSTACON=1",
         .urcs = {"+SRWSTASTATUS: 1,\"plant-floor\",\"a4:cf:12:00:11:22\",6,3",
                  "+SRWSTAIP: \"192.168.1.20\",\"255.255.255.0\",\"192.168.1.1\""}}};

    void started() { expectStart(kInit + kJoin, succeeds()); }

    ModemMqtt& mqtt() { return *driver().mqtt(); }

    struct Heard {
        std::vector<std::pair<std::string, std::string>> messages;
        std::vector<Error> lost;
    };
    ModemMqttConnect params(bool tls = true) {
        ModemMqttConnect p;
        p.host = "broker.example";
        p.port = 8883;
        p.tls = tls;
        p.client_id = "dev1";
        p.keep_alive_s = 60;
        p.timeout_s = 5;
        return p;
    }
    Status connect(const ModemMqttConnect& p) {
        ModemMqttEvents ev;
        ev.message = [this](std::string t, std::string m, int, bool) {
            heard_.messages.emplace_back(std::move(t), std::move(m));
        };
        ev.lost = [this](Error e) { heard_.lost.push_back(std::move(e)); };
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().connect(p, std::move(ev), done); });
    }
    void expectConnect(const ModemMqttConnect& p) {
        at_.expect("AT+KMQTTCLOSE=1").error("+CME ERROR: 910");
        at_.expect("AT+KMQTTDEL=1").error("+CME ERROR: 910");
        at_.expect(kmqttcfgCommand(p)).line("+KMQTTCFG: 1");
        at_.expect("AT+KMQTTCNX=1").urcAfter("+KMQTT_IND: 1,1");
    }
    void online() {
        started();
        expectConnect(params());
        const auto st = connect(params());
        ASSERT_TRUE(st) << st.error().message;
    }
    Status publish(const std::string& topic, const std::string& payload, int qos) {
        return uplinkd::testing::await<void>(
            loop_, [&](auto done) { mqtt().publish(topic, payload, qos, false, done); });
    }

    Heard heard_;
};

TEST_F(Bx310xDriverTest, StartJoinsTheNetworkAndInfoShowsIt) {
    started();
    at_.expect("ATI").line("BX3105").line("Revision: 4.4.1");
    at_.expect("ATI3").line("4.4.1.0");
    at_.expect("AT+SRWSTASTATUS?").line("+SRWSTASTATUS: 1,\"plant-floor\",\"m\",6,3,-58");
    at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    at_.expect("AT+CCLK?").line("+CCLK: \"26/12/05,03:30:00+00\"");
    const auto i = info();
    ASSERT_TRUE(i) << i.error().message;
    ASSERT_TRUE(i->clock_unix);
    EXPECT_EQ(*i->clock_unix, 1796441400);  // 2026-12-05 03:30:00 UTC
    EXPECT_EQ(i->model, "BX3105");
    EXPECT_EQ(i->firmware, "4.4.1.0");
    EXPECT_EQ(i->ssid, "plant-floor");
    EXPECT_EQ(i->association, "associated");
    EXPECT_EQ(i->ip_address, "192.168.1.20");
    EXPECT_EQ(i->wifi_rssi_dbm, -58);
    EXPECT_TRUE(i->store.empty());
}

TEST_F(Bx310xDriverTest, AssociationFailureInPlainWordsWithoutThePassphrase) {
    expectStart(kInit + AtScript{{.command = "AT+SRWSTACON=1", .urcs = {"+SRWSTASTATUS: 0,15"}}},
                fails("wifi_association", {"plant-floor", "psk_file"}, {"correct horse"}));
}

TEST_F(Bx310xDriverTest, StatusAmongTheCommandsOwnLinesCounts) {
    expectStart(kInit + AtScript{{"AT+SRWSTACON=1",
                                  {"+SRWSTASTATUS: 1,\"plant-floor\",\"m\",1,3"},
                                  "OK",
                                  {"+SRWSTAIP: \"10.0.0.5\",\"255.0.0.0\",\"10.0.0.1\""}}},
                succeeds());
}

TEST_F(Bx310xDriverTest, FirmwareWithoutMqttClientIsReportedAtStart) {
    expectStart(kWake + AtScript{{"AT+KMQTTCLOSE=1", {}, "ERROR"}, {"AT+KMQTTDEL=1", {}, "ERROR"}},
                fails("mqtt_unsupported", {"mqtt = \"uplinkd\""}));
}

TEST_F(Bx310xDriverTest, ConfigFailureNeverShowsThePassphrase) {
    expectStart(
        kWake +
            AtScript{{"AT+KMQTTCLOSE=1"},
                     {"AT+KMQTTDEL=1"},
                     {"AT+SRWSTACFG=\"plant-floor\",\"correct horse\",1", {}, "+CME ERROR: 916"}},
        fails("", {"out of range"}, {"correct horse"}));
}

TEST_F(Bx310xDriverTest, ProvisionChecksLocallyThenWritesWithGuardAndEscape) {
    const auto& c = certs();
    const std::string root = crlf(c.root);
    const std::string cert = crlf(c.cert);
    const std::string key = crlf(c.key);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(root.size()))
        .expectPrompt("CONNECT")
        .expectPayload(root)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    at_.expect("AT+KCERTSTORE=1," + std::to_string(cert.size()) + ",0")
        .expectPayload(cert)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(key.size()))
        .expectPayload(key)
        .expectTerminator("+++")
        .expectGuardAtLeast(1500ms);
    auto& listing = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    listing.line("root_cert,0," + std::to_string(root.size()));
    for (const auto& l : pemLines(c.root)) {
        listing.line(l);
    }
    listing.line("local_cert,0," + std::to_string(cert.size()));
    for (const auto& l : pemLines(c.cert)) {
        listing.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    const auto st = provision({c.root, c.cert, c.key});
    ASSERT_TRUE(st) << st.error().message;

    // modem info shows the store by slot, with what the certificates say.
    at_.expect("ATI").line("BX3105");
    at_.expect("ATI3").error("ERROR");
    at_.expect("AT+SRWSTASTATUS?").error("ERROR");
    auto& again = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,1");
    for (const auto& l : pemLines(c.root)) {
        again.line(l);
    }
    again.line("local_cert,0,1");
    for (const auto& l : pemLines(c.cert)) {
        again.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    at_.expect("AT+CCLK?").error("ERROR");
    const auto i = info();
    ASSERT_TRUE(i) << i.error().message;
    EXPECT_FALSE(i->clock_unix);
    ASSERT_EQ(i->store.size(), 3u);
    EXPECT_EQ(i->store[0].slot, "root 0");
    EXPECT_EQ(i->store[0].subject, "CN=uplinkd test CA");
    // Read back: the fingerprint of what the module holds, for the doctor's modem.store.
    EXPECT_EQ(i->store[0].sha256, certFacts(c.root, "root")->sha256);
    EXPECT_EQ(i->store[0].sha256.size(), 64u);
    EXPECT_EQ(i->store[0].size, 1);
    EXPECT_FALSE(i->store[0].not_after.empty());
    EXPECT_EQ(i->store[1].subject, "CN=dev1");
    EXPECT_EQ(i->store[2].kind, "private key");
    EXPECT_NE(i->store[2].note.find("key cannot be read back; checked by the TLS connect"),
              std::string::npos);
}

TEST_F(Bx310xDriverTest, ProvisionRefusesAnIntermediateNamingTheRootNeeded) {
    const auto& c = certs();
    const auto st = provision({c.inter, c.cert, c.key});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "ca_not_root");
    EXPECT_NE(st.error().message.find("put the root CA \"CN=uplinkd test CA\""), std::string::npos)
        << st.error().message;
    EXPECT_TRUE(at_.commands().empty()) << "nothing may be written";
}

TEST_F(Bx310xDriverTest, ProvisionRefusesAKeyOfAnotherCertificate) {
    const auto& c = certs();
    const auto st = provision({c.root, c.cert, c.other_key});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "key_mismatch");
    EXPECT_NE(st.error().message.find("CN=dev1"), std::string::npos) << st.error().message;
    EXPECT_EQ(st.error().message.find("PRIVATE KEY"), std::string::npos);
    EXPECT_TRUE(at_.commands().empty()) << "nothing may be written";
}

TEST_F(Bx310xDriverTest, ProvisionReadBackDifferenceIsAnError) {
    const auto& c = certs();
    const std::string root = crlf(c.root);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(root.size())).expectPayload(root);
    at_.expect("AT+KCERTDELETE=1,0");
    at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,10").line("-----BEGIN X-----");
    const auto st = provision({c.root, "", ""});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "provision_mismatch");
}

TEST_F(Bx310xDriverTest, PublishesTextQuotedAndBinaryInDataModeAcksInOrder) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t/text\",0,0,\"hello\"");
    EXPECT_TRUE(publish("t/text", "hello", 0));
    // QoS 1: done only at +KMQTT_IND: 1,4, matched in order.
    const std::string json = "{\"v\":\"a,b\"}";
    at_.expect("AT+KMQTTPUBSTART=1,\"t/json\",1,0")
        .expectPrompt("CONNECT")
        .expectPayload(json)
        .expectTerminator("+++")
        .expectGuardAtLeast(100ms);
    at_.expect("AT+KMQTTPUBSTART=1,\"t/bin\",1,0").expectPayload(kBinary).expectTerminator("+++");
    std::vector<std::string> order;
    mqtt().publish("t/json", json, 1, false, [&](Status s) {
        EXPECT_TRUE(s);
        order.push_back("json");
    });
    mqtt().publish("t/bin", kBinary, 1, false, [&](Status s) {
        EXPECT_TRUE(s);
        order.push_back("bin");
    });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    EXPECT_TRUE(order.empty()) << "done before the broker acknowledged";
    at_.injectUrc("+KMQTT_IND: 1,4");
    drain(loop_);
    EXPECT_EQ(order, std::vector<std::string>{"json"});
    at_.injectUrc("+KMQTT_IND: 1,4");
    drain(loop_);
    EXPECT_EQ(order, (std::vector<std::string>{"json", "bin"}));
    const auto l = mqtt().limits();
    EXPECT_TRUE(l.binary_payload);
    EXPECT_EQ(l.max_subscriptions, 5u);
    EXPECT_NE(l.delivery_note.find("in the order"), std::string::npos);
}

TEST_F(Bx310xDriverTest, AMissingAcknowledgementDropsTheSession) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t\",1,0,\"x\"");
    const auto st = publish("t", "x", 1);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_timeout");
    drain(loop_);
    ASSERT_EQ(heard_.lost.size(), 1u);
}

TEST_F(Bx310xDriverTest, IncomingMessagesInBothFormsAndRetainedOnSubscribe) {
    online();
    at_.expect("AT+KMQTTSUB=1,\"cmd/#\",1").line("+KMQTTSUB: \"cmd/retained\",\"r\"");
    const auto st = uplinkd::testing::await<void>(
        loop_, [&](auto done) { mqtt().subscribe("cmd/#", 1, done); });
    ASSERT_TRUE(st) << st.error().message;
    at_.injectUrc("+KMQTT_DATA: 1,\"cmd/a\",\"{\"op\":\"reboot\"}\"");
    at_.injectUrc("+KMQTTSUB: \"cmd/b\",\"old form\"");
    at_.injectUrc("+KMQTT_DATA: 1,broken");
    drain(loop_);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"cmd/retained", "r"}, {"cmd/a", "{\"op\":\"reboot\"}"}, {"cmd/b", "old form"}};
    EXPECT_EQ(heard_.messages, want);
    at_.expect("AT+KMQTTUNSUB=1,\"cmd/#\"");
    EXPECT_TRUE(uplinkd::testing::await<void>(
        loop_, [&](auto done) { mqtt().unsubscribe("cmd/#", done); }));
}

TEST_F(Bx310xDriverTest, AtMostFiveSubscriptions) {
    online();
    for (int i = 0; i < 5; ++i) {
        const std::string t = "t/" + std::to_string(i);
        at_.expect(kmqttsubCommand(t, 0));
        ASSERT_TRUE(
            uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().subscribe(t, 0, done); }));
    }
    const auto st =
        uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().subscribe("t/5", 0, done); });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "too_many_subscriptions");
}

TEST_F(Bx310xDriverTest, ClosedAfterConnectNamesTheProbableCausesInOrder) {
    const auto& c = certs();
    started();
    // Provisioned first, so that the words can name what was checked.
    at_.expect("AT+KCERTSTORE=0," + std::to_string(crlf(c.root).size()));
    at_.expect("AT+KCERTSTORE=1," + std::to_string(crlf(c.cert).size()) + ",0");
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(crlf(c.key).size()));
    auto& listing = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE: root_cert,0,1");
    for (const auto& l : pemLines(c.root)) {
        listing.line(l);
    }
    listing.line("local_cert,0,1");
    for (const auto& l : pemLines(c.cert)) {
        listing.line(l);
    }
    at_.expect("AT+KPRIVKSTORE?").error("+CME ERROR: 918");
    ASSERT_TRUE(provision({c.root, c.cert, c.key}));
    auto p = params();
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    at_.expect(kmqttcfgCommand(p)).line("+KMQTTCFG: 1");
    at_.expect("AT+KMQTTCNX=1").urcAfter("+KMQTT_IND: 1,0");
    at_.expect("AT+CCLK?").line("+CCLK: \"01/01/01,00:00:00+00\"");
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    const auto st = connect(p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_refused");
    const std::string& m = st.error().message;
    const auto key = m.find("the key matches the certificate \"CN=dev1\"");
    const auto root = m.find("tls.ca_file is a root CA (\"CN=uplinkd test CA\"");
    const auto clock = m.find("1) the module's clock (2001-01-01T00:00:00Z) is outside");
    const auto cloud = m.find("2) the certificate \"CN=dev1\" is not registered or not active");
    const auto port = m.find("3) port 8883");
    for (auto pos : {key, root, clock, cloud, port}) {
        EXPECT_NE(pos, std::string::npos) << m;
    }
    EXPECT_LT(key, root);
    EXPECT_LT(root, clock);
    EXPECT_NE(m.find("client id \"dev1\""), std::string::npos) << m;
}

TEST_F(Bx310xDriverTest, LossWhileOnlineFailsPendingAndTellsLost) {
    online();
    at_.expect("AT+KMQTTPUB=1,\"t\",1,0,\"x\"");
    std::optional<Status> pub;
    mqtt().publish("t", "x", 1, false, [&](Status s) { pub = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    at_.injectUrc("+KMQTT_IND: 1,0");
    ASSERT_TRUE(runUntil(loop_, [&] { return pub.has_value() && !heard_.lost.empty(); }));
    EXPECT_FALSE(*pub);
    EXPECT_EQ(heard_.lost[0].code, "mqtt_lost");
    // A publish now is refused at once.
    EXPECT_FALSE(publish("t", "y", 0));
}

TEST_F(Bx310xDriverTest, WifiLossEndsTheSessionInPlainWords) {
    online();
    at_.injectUrc("+SRWSTASTATUS: 0,200");
    ASSERT_TRUE(runUntil(loop_, [&] { return !heard_.lost.empty(); }));
    EXPECT_EQ(heard_.lost[0].code, "wifi_lost");
    EXPECT_NE(heard_.lost[0].message.find("beacons were lost"), std::string::npos)
        << heard_.lost[0].message;
    // Connecting again while not associated fails at once, with the reason, and asks the module
    // to join again (the route's back-off paces it).
    at_.expect("AT+SRWSTACON=1");
    const auto st = connect(params());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_network");
    EXPECT_NE(st.error().message.find("not associated"), std::string::npos);
}

TEST_F(Bx310xDriverTest, ModuleResetInTheMiddleOfAPublish) {
    online();
    // The module took the message but restarts before the broker's PUBACK is reported.
    at_.expect("AT+KMQTTPUBSTART=1,\"t\",1,0").expectPayload(kBinary);
    std::optional<Status> pub;
    mqtt().publish("t", kBinary, 1, false, [&](Status s) { pub = s; });
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    drain(loop_);
    EXPECT_FALSE(pub.has_value());
    EXPECT_TRUE(at_.injectBoot("READY"));
    ASSERT_TRUE(runUntil(loop_, [&] { return pub.has_value() && !heard_.lost.empty(); }));
    ASSERT_FALSE(*pub);
    EXPECT_EQ(pub->error().code, "modem_reset") << "not reported delivered";
    EXPECT_EQ(heard_.lost[0].code, "modem_reset");
    // A late indication of the old session is not taken for a new message.
    at_.injectUrc("+KMQTT_IND: 1,4");
    // start() runs again from the top.
    started();
}

TEST_F(Bx310xDriverTest, DisconnectReleasesTheModulesClient) {
    online();
    at_.expect("AT+KMQTTCLOSE=1");
    at_.expect("AT+KMQTTDEL=1");
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().disconnect(done); }));
    at_.injectUrc("+KMQTT_DATA: 1,\"t\",\"late\"");
    at_.injectUrc("+KMQTT_IND: 1,0");
    drain(loop_);
    EXPECT_TRUE(heard_.messages.empty());
    EXPECT_TRUE(heard_.lost.empty());
    // Disconnect when nothing is connected still answers.
    EXPECT_TRUE(uplinkd::testing::await<void>(loop_, [&](auto done) { mqtt().disconnect(done); }));
}

TEST_F(Bx310xDriverTest, ConnectRefusesWhatTheModuleCannotDo) {
    started();
    auto p = params();
    p.websocket_path = "/mqtt";
    EXPECT_EQ(connect(p).error().code, "mqtt_unsupported");
    p = params();
    p.alpn = {"x-amzn-mqtt-ca"};
    EXPECT_EQ(connect(p).error().code, "mqtt_unsupported");
    p = params();
    p.password = "pa\"ss";
    const auto st = connect(p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message.find("pa\"ss"), std::string::npos);
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_bx310x
