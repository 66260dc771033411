// SPDX-License-Identifier: Apache-2.0
// The sierra-bx310x plugin's parsers, code tables, settings and certificate checks from tables
// (with hostile input), and the refusal causes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bx310x_test_certs.hpp"
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

}  // namespace
}  // namespace uplinkd::plugins::sierra_bx310x
