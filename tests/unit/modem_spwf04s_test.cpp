// SPDX-License-Identifier: Apache-2.0
// st-spwf04s against a ScriptedAtChannel: the credential checks, and the command sequences of
// start, open (send, receive, close), provision, info and the MQTT client, with binary payloads
// and module restarts in the middle. The parsers and tables: modem_spwf04s_tables_test.cpp.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "modem_test_support.hpp"
#include "spwf_commands.hpp"
#include "spwf_credentials.hpp"
#include "spwf_driver.hpp"
#include "spwf_parsers.hpp"

namespace uplinkd::plugins::st_spwf04s {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- credentials --------------------------------------------------------------------------------

/// A root, an intermediate signed by it, a client certificate signed by the intermediate with
/// its key, and a key of nobody's, made with the openssl command line. Thread: test.
struct Chain {
    std::string root, intermediate, client, client_key, other_key;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const Chain& chain() {
    static const Chain c = [] {
        const std::string dir =
            (std::filesystem::temp_directory_path() / ("spwf-chain-" + std::to_string(::getpid())))
                .string();
        std::filesystem::create_directories(dir);
        const std::string script =
            "set -e\ncd " + dir +
            "\no() { openssl \"$@\" >/dev/null 2>&1; }\n"
            "o ecparam -name prime256v1 -genkey -noout -out root.key\n"
            "o req -x509 -new -key root.key -subj '/CN=uplinkd test root' -days 30 -out root.crt\n"
            "o ecparam -name prime256v1 -genkey -noout -out int.key\n"
            "o req -new -key int.key -subj '/CN=uplinkd test intermediate' -out int.csr\n"
            "printf 'basicConstraints=critical,CA:TRUE\\n' > ca.ext\n"
            "o x509 -req -in int.csr -CA root.crt -CAkey root.key -CAcreateserial -days 30 "
            "-extfile ca.ext -out int.crt\n"
            "o ecparam -name prime256v1 -genkey -noout -out client.key\n"
            "o req -new -key client.key -subj '/CN=device-1' -out client.csr\n"
            "o x509 -req -in client.csr -CA int.crt -CAkey int.key -CAcreateserial -days 30 "
            "-out client.crt\n"
            "o ecparam -name prime256v1 -genkey -noout -out other.key\n";
        {
            std::ofstream out(dir + "/make.sh");
            out << script;
        }
        EXPECT_EQ(std::system(("bash " + dir + "/make.sh").c_str()), 0) << "openssl missing?";
        Chain out{slurp(dir + "/root.crt"), slurp(dir + "/int.crt"), slurp(dir + "/client.crt"),
                  slurp(dir + "/client.key"), slurp(dir + "/other.key")};
        std::filesystem::remove_all(dir);
        return out;
    }();
    return c;
}

TEST(SpwfCredentials, AnIntermediateGivenAsTheRootIsRefusedNamingTheRootNeeded) {
    const Chain& c = chain();
    ASSERT_FALSE(c.root.empty());
    EXPECT_TRUE(checkRootCas(c.root));
    EXPECT_TRUE(checkRootCas(c.intermediate + c.root)) << "a chain up to its root is fine";
    expectOutcome(checkRootCas(c.intermediate),
                  fails("tls_not_root", {"needs the root CA \"CN=uplinkd test root\"",
                                         "CN=uplinkd test intermediate"}));
    EXPECT_EQ(checkRootCas("not pem").error().code, "bad_pem");
}

TEST(SpwfCredentials, TheKeyMustBelongToTheCertificate) {
    const Chain& c = chain();
    EXPECT_TRUE(checkKeyMatches(c.client, c.client_key));
    auto st = checkKeyMatches(c.client, c.other_key);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_key_mismatch");
    EXPECT_NE(st.error().message.find("CN=device-1"), std::string::npos);
    EXPECT_EQ(st.error().message.find("PRIVATE"), std::string::npos) << "the key is never shown";
}

// ---- the driver on a scripted channel
// ------------------------------------------------------------

SpwfTiming fastTiming() {
    using T = SpwfTiming;
    T t = shortWaits<T>(
        {&T::connect, &T::send, &T::receive, &T::cert_store, &T::mqtt_connect, &T::mqtt_publish});
    t.wifi_up = 200ms;
    return t;
}

const std::string kPsk = "correct horse battery";

class SpwfDriverTest : public uplinkd::testing::ModemDriverTest<SpwfDriver, SpwfTiming> {
  protected:
    SpwfDriverTest() : ModemDriverTest(fastTiming()) {
        settings_ = ModemSettings{};
        settings_.ssid = "plant-wifi";
        settings_.psk = kPsk;
    }

    /// Echo off, WINDs on, station mode.
    const AtScript kConsole = {{"AT+S.SCFG=console_echo,0"},
                               {"AT+S.SCFG=console_wind_off_low,0"},
                               {"AT+S.SCFG=console_wind_off_medium,0"},
                               {"AT+S.SCFG=console_wind_off_high,0"},
                               {"AT+S.SCFG=wifi_mode,1"}};

    /// kConsole, the passphrase (`with_psk`) and SSID, Wi-Fi off; AT+S.WIFI=1 follows.
    AtScript untilWifiOn(bool with_psk = true) const {
        AtScript s = kConsole;
        s.push_back({with_psk ? "AT+S.SCFG=wifi_priv_mode,2" : "AT+S.SCFG=wifi_priv_mode,0"});
        if (with_psk) {
            s.push_back({"AT+S.SCFG=wifi_wpa_psk_text," + kPsk});
        }
        return s + AtScript{{"AT+S.SSIDTXT=plant-wifi"}, {"AT+S.WIFI=0"}};
    }
    /// AT+S.WIFI=1, then `wind`.
    static AtScript wifiOn(const std::string& wind) {
        return {{.command = "AT+S.WIFI=1", .urcs = {wind}}};
    }

    /// untilWifiOn; the caller adds the answer to AT+S.WIFI=1.
    uplinkd::testing::ScriptedAtChannel::Step& scriptStart(bool with_psk = true) {
        expectScript(at_, untilWifiOn(with_psk));
        return at_.expect("AT+S.WIFI=1");
    }

    ByteStreamPtr openPlain(int id = 0) {
        return openAfter({{"AT+S.SOCKON=broker.example.com,1883,,t",
                           {"AT-S.On:93.184.216.34:" + std::to_string(id)}}},
                         kPlainBroker);
    }

    ModemMqtt& mqtt() { return *driver().mqtt(); }

    Status mqttConnect(const ModemMqttConnect& p, ModemMqttEvents events = {}) {
        return await<void>(loop_, [&](auto done) { mqtt().connect(p, events, done); });
    }

    static ModemMqttConnect azureLike() {
        ModemMqttConnect p;
        p.host = "hub.example.net";
        p.port = 8883;
        p.tls = true;
        p.client_id = "device-1";
        p.username = "hub.example.net/device-1/?api-version=2021-04-12";
        p.password =
            "SharedAccessSignature sr=hub.example.net%2Fdevices%2Fdevice-1&sig=abc%3D&se=9";
        p.keep_alive_s = 60;
        return p;
    }

    std::string connCommand() {
        const auto p = azureLike();
        return "AT+S.MQTTCONN=hub.example.net,8883,,1," + p.username + "," + p.password +
               ",device-1,60";
    }
};

TEST_F(SpwfDriverTest, DeclaresItsFinalResultsAndBootIndications) {
    driver();
    const auto& finals = at_.finalForms();
    ASSERT_EQ(finals.size(), 2u);
    EXPECT_EQ(finals[0].text, "AT-S.OK");
    EXPECT_TRUE(finals[0].success);
    EXPECT_FALSE(finals[0].prefix);
    EXPECT_EQ(finals[1].text, "AT-S.ERROR:");
    EXPECT_TRUE(finals[1].prefix);
    EXPECT_FALSE(finals[1].success);
    for (const char* boot :
         {"+WIND:0:Console active", "+WIND:32:WiFi Hardware Started", "+WIND:2:Reset"}) {
        EXPECT_TRUE(at_.injectBoot(boot)) << boot;
    }
    EXPECT_FALSE(at_.injectBoot("+WIND:24:WiFi Up:1:10.0.0.2")) << "not a boot indication";
    EXPECT_EQ(match().model_patterns, std::vector<std::string>{"SPWF04"});
    EXPECT_TRUE(match().wifi && match().supports_tls_offload && match().supports_mqtt_offload);
}

TEST_F(SpwfDriverTest, StartJoinsTheNetworkAndWaitsForWifiUp) {
    expectStart(untilWifiOn() + wifiOn("+WIND:24:WiFi Up:1:192.168.1.50"), succeeds());
    // The WIND may also come before AT-S.OK.
    expectStart(untilWifiOn() + AtScript{{.command = "AT+S.WIFI=1",
                                          .urcs_before = {"+WIND:24:WiFi Up:1:192.168.1.51"}}},
                succeeds());
}

TEST_F(SpwfDriverTest, AnOpenNetworkGetsNoPassphrase) {
    settings_.psk.clear();
    expectStart(untilWifiOn(false) + wifiOn("+WIND:24:WiFi Up:1:192.168.1.50"), succeeds());
}

TEST_F(SpwfDriverTest, NotJoiningFailsInPlainWordsWithoutThePassphrase) {
    expectStart(untilWifiOn() + wifiOn("+WIND:33:WiFi Network Lost"),
                fails("wifi_join", {"\"plant-wifi\"", "psk_file", "network lost"}, {kPsk}));
}

TEST_F(SpwfDriverTest, AWrongPassphraseEndsTheJoinAtOnce) {
    expectStart(untilWifiOn() + wifiOn("+WIND:40:WiFi Deauthentication:15"),
                fails("wifi_join", {"psk_file"}, {kPsk}));
}

TEST_F(SpwfDriverTest, ARefusedSettingNamesTheSettingNotItsValue) {
    expectStart(
        kConsole +
            AtScript{{"AT+S.SCFG=wifi_priv_mode,2"},
                     {"AT+S.SCFG=wifi_wpa_psk_text," + kPsk, {}, "AT-S.ERROR:17:Invalid value"}},
        fails("", {"psk_file"}, {kPsk}));
}

TEST_F(SpwfDriverTest, ARestartDuringStartEndsIt) {
    std::optional<Status> st;
    driver().start([&](Status s) { st = std::move(s); });
    // The first command is still queued when the module restarts.
    EXPECT_TRUE(at_.injectBoot("+WIND:2:Reset"));
    ASSERT_TRUE(runUntil(loop_, [&] { return st.has_value(); }));
    ASSERT_FALSE(*st);
    EXPECT_EQ(st->error().code, "at_reset");
}

TEST_F(SpwfDriverTest, SendsBinaryRightAfterTheCommandAndReadsByCount) {
    auto s = openPlain(0);
    ASSERT_TRUE(s);
    at_.expect("AT+S.SOCKW=0,19").expectImmediate().expectPayload(kBinary);
    EXPECT_TRUE(write(*s, kBinary));

    // Data is announced with its count, and SOCKR reads by count, no SOCKQ first, and without
    // the length: the module holds exactly what was announced (the bytes hold "AT-S.OK", CR LF
    // and a boot indication, and are data all the same).
    const std::string data = kBinary + "\r\nAT-S.OK\r\n+WIND:2:Reset\r\n";
    at_.expect("AT+S.SOCKR=0")
        .line("AT-S.Reading:" + std::to_string(data.size()) + ":" + std::to_string(data.size()))
        .replyData(data);
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:" + std::to_string(data.size()) + ":" +
                              std::to_string(data.size())));
    EXPECT_EQ(readAtLeast(*s, data.size()), data);

    // The peer closes: reads end with eof once the module holds nothing more.
    at_.expect("AT+S.SOCKC=0");
    EXPECT_TRUE(at_.injectUrc("+WIND:58:Socket Closed:0:0"));
    expectOutcome(readOnce(*s, 16), fails("eof"));
    s.reset();
}

TEST_F(SpwfDriverTest, ReadsLeaveTheLengthOutOnlyWhenTheCountIsExactAndFitsOneRead) {
    auto s = openPlain(0);
    ASSERT_TRUE(s);
    // 2043 bytes announced: one read of 1460 with the length, then the exact rest without it.
    const std::string big = std::string(2043, 'b');
    at_.expect("AT+S.SOCKR=0,1460").line("AT-S.Reading:1460:2043").replyData(big.substr(0, 1460));
    at_.expect("AT+S.SOCKR=0").line("AT-S.Reading:583:583").replyData(big.substr(1460));
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:2043:2043"));
    EXPECT_EQ(readAtLeast(*s, big.size()), big);

    // More came in than announced by the time the module answered: the answer's count rules,
    // and the count is asked before the next read (the event for the extra bytes may be late).
    at_.expect("AT+S.SOCKR=0").line("AT-S.Reading:9:9").replyData("123456789");
    at_.expect("AT+S.SOCKQ=0").line("AT-S.Query:0");
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:5:5"));
    EXPECT_EQ(readAtLeast(*s, 9), "123456789");
    ASSERT_TRUE(runUntil(loop_, [&] { return at_.remaining() == 0; }));
    // The short form stays.
    at_.expect("AT+S.SOCKR=0").line("AT-S.Reading:2:2").replyData("ok");
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:2:2"));
    EXPECT_EQ(readAtLeast(*s, 2), "ok");
    at_.expect("AT+S.SOCKC=0");
    s.reset();
}

TEST_F(SpwfDriverTest, AModuleThatWantsTheReadLengthGetsItFromThenOn) {
    auto s = openPlain(0);
    ASSERT_TRUE(s);
    // A firmware that refuses SOCKR without its length: nothing is lost, the count is asked
    // again and the read is made with it; later reads give the length at once.
    at_.expect("AT+S.SOCKR=0").error("AT-S.ERROR:2:Invalid parameter");
    at_.expect("AT+S.SOCKQ=0").line("AT-S.Query:5");
    at_.expect("AT+S.SOCKR=0,5").line("AT-S.Reading:5:5").replyData("hello");
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:5:5"));
    EXPECT_EQ(readAtLeast(*s, 5), "hello");
    at_.expect("AT+S.SOCKR=0,6").line("AT-S.Reading:6:6").replyData(" world");
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:6:6"));
    EXPECT_EQ(readAtLeast(*s, 6), " world");
    at_.expect("AT+S.SOCKC=0");
    s.reset();
}

TEST_F(SpwfDriverTest, AModuleThatReadsNothingWithoutTheLengthGetsItFromThenOn) {
    auto s = openPlain(0);
    ASSERT_TRUE(s);
    // A firmware that takes the short form as a read of 0 bytes: once AT-S.Query said bytes are
    // there and the short form still reads none, the length is given (no endless empty reads).
    at_.expect("AT+S.SOCKR=0").line("AT-S.Reading:0:4");
    at_.expect("AT+S.SOCKQ=0").line("AT-S.Query:4");
    at_.expect("AT+S.SOCKR=0").line("AT-S.Reading:0:4");
    at_.expect("AT+S.SOCKQ=0").line("AT-S.Query:4");
    at_.expect("AT+S.SOCKR=0,4").line("AT-S.Reading:4:4").replyData("data");
    EXPECT_TRUE(at_.injectUrc("+WIND:55:Pending Data:0:4:4"));
    EXPECT_EQ(readAtLeast(*s, 4), "data");
    at_.expect("AT+S.SOCKC=0");
    s.reset();
}

TEST_F(SpwfDriverTest, LongWritesAreSplitAt730Bytes) {
    auto s = openPlain(1);
    ASSERT_TRUE(s);
    std::string big(1500, 'x');
    for (size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>(i * 7);
    }
    at_.expect("AT+S.SOCKW=1,730").expectImmediate().expectPayload(big.substr(0, 730));
    at_.expect("AT+S.SOCKW=1,730").expectImmediate().expectPayload(big.substr(730, 730));
    at_.expect("AT+S.SOCKW=1,40").expectImmediate().expectPayload(big.substr(1460));
    EXPECT_TRUE(write(*s, big));
    EXPECT_EQ(driver().maxSendChunk(), 730u);
    at_.expect("AT+S.SOCKC=1");
    s.reset();
}

TEST_F(SpwfDriverTest, ClosingWithPendingDataReadsItThenClosesAgain) {
    auto s = openPlain(2);
    ASSERT_TRUE(s);
    at_.expect("AT+S.SOCKC=2").error("AT-S.ERROR:77:Pending data");
    at_.expect("AT+S.SOCKQ=2").line("AT-S.Query:3");
    at_.expect("AT+S.SOCKR=2,3").line("AT-S.Reading:3:3").replyData("abc");
    at_.expect("AT+S.SOCKC=2");
    s.reset();
}

TEST_F(SpwfDriverTest, TlsSocketsUseTypeSAndFailuresSayWhy) {
    const ModemSocketRequest hub{"hub.example.net", 8883, true, ""};
    const std::string sockon = "AT+S.SOCKON=hub.example.net,8883,hub.example.net,s";
    auto s = openAfter({{sockon, {"AT-S.On:1.2.3.4:5"}}}, hub);
    ASSERT_TRUE(s);
    at_.expect("AT+S.SOCKC=5");
    s.reset();

    expectOpen({{sockon, {}, "AT-S.ERROR:44:Network not ready"}}, hub,
               fails("network", {"psk_file"}));
    expectOpen({{sockon, {}, "AT-S.ERROR:60:TLS certificate verify failed"}}, hub,
               fails("tls_untrusted", {"root CA"}));
    // A name the module cannot carry is refused before anything is sent.
    expectOpen({}, {"a,b", 1883, false, ""}, fails("bad_host"));
}

TEST_F(SpwfDriverTest, AModuleRestartBreaksItsSockets) {
    auto s = openPlain(0);
    ASSERT_TRUE(s);
    EXPECT_TRUE(at_.injectBoot("+WIND:0:Console active"));
    expectOutcome(readOnce(*s, 16), fails("modem_reset"));
    s.reset();  // no AT+S.SOCKC for a socket of the module before its restart
}

TEST_F(SpwfDriverTest, ProvisionRefusesAnIntermediateBeforeUploading) {
    const Chain& c = chain();
    auto st = provision({c.intermediate, "", ""});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_not_root");
    EXPECT_NE(st.error().message.find("CN=uplinkd test root"), std::string::npos);
    EXPECT_TRUE(at_.commands().empty()) << "nothing goes to the module";

    st = provision({c.root, c.client, c.other_key});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "tls_key_mismatch");
    EXPECT_TRUE(at_.commands().empty());
}

TEST_F(SpwfDriverTest, ProvisionWritesTheExactPemBytesAndListsThemBack) {
    const Chain& c = chain();
    const std::string root = c.root;  // openssl writes LF line ends: sent as they are
    at_.expect("AT+S.TLSCERT=clean,all");
    at_.expect("AT+S.TLSCERT=ca," + std::to_string(root.size()))
        .expectImmediate()
        .expectPayload(root);
    at_.expect("AT+S.TLSCERT=cert," + std::to_string(c.client.size()))
        .expectImmediate()
        .expectPayload(c.client);
    at_.expect("AT+S.TLSCERT=key," + std::to_string(c.client_key.size()))
        .expectImmediate()
        .expectPayload(c.client_key);
    at_.expect("AT+S.TLSCERT=content,1")
        .line("AT-S.Var:tlscert_ca=" + std::to_string(root.size()))
        .line("AT-S.Var:tlscert_cert=" + std::to_string(c.client.size()))
        .line("AT-S.Var:tlscert_key=" + std::to_string(c.client_key.size()));
    EXPECT_TRUE(provision({root, c.client, c.client_key}));

    // A listing without the CA: the write did not take.
    at_.expect("AT+S.TLSCERT=clean,all");
    at_.expect("AT+S.TLSCERT=ca," + std::to_string(root.size())).expectImmediate();
    at_.expect("AT+S.TLSCERT=content,1").line("AT-S.Var:cert=10");
    expectOutcome(provision({root, "", ""}), fails("provision_mismatch"));
}

TEST_F(SpwfDriverTest, InfoShowsTheNetworkTheModuleAndItsStore) {
    scriptStart().urcAfter("+WIND:24:WiFi Up:1:192.168.1.50");
    ASSERT_TRUE(start());
    at_.expect("AT+S.GCFG")
        .line("AT-S.Var:version=1.1.0")
        .line("AT-S.Var:wifi_ssid=plant-wifi")
        .line("AT-S.Var:wifi_rssi=-57")
        .line("AT-S.Var:nv_model=SPWF04SA");
    at_.expect("AT+S.GCFG=ip_ipaddr").line("AT-S.Var:ip_ipaddr=192.168.1.50");
    at_.expect("AT+S.TLSCERT=content,1").line("AT-S.Var:ca=1180").line("AT-S.Var:key=241");
    auto i = info();
    ASSERT_TRUE(i) << i.error().message;
    EXPECT_EQ(i->ssid, "plant-wifi");
    EXPECT_EQ(i->association, "associated");
    EXPECT_EQ(i->ip_address, "192.168.1.50");
    EXPECT_EQ(i->wifi_rssi_dbm, -57);
    EXPECT_EQ(i->model, "SPWF04SA");
    EXPECT_EQ(i->firmware, "1.1.0");
    ASSERT_EQ(i->store.size(), 2u);
    EXPECT_EQ(i->store[0].kind, "root CA");
    EXPECT_EQ(i->store[1].kind, "private key");

    // Network lost: the association says so.
    EXPECT_TRUE(at_.injectUrc("+WIND:33:WiFi Network Lost"));
    at_.expect("AT+S.GCFG").error("AT-S.ERROR:1:Command not found");
    at_.expect("AT+S.GCFG=ip_ipaddr").line("AT-S.Var:ip_ipaddr=0.0.0.0");
    at_.expect("AT+S.TLSCERT=content,1");
    i = info();
    ASSERT_TRUE(i);
    EXPECT_EQ(i->association, "not associated (network lost)");
}

// ---- MQTT ---------------------------------------------------------------------------------------

TEST_F(SpwfDriverTest, MqttLimitsAreHonestAboutAcknowledgement) {
    const auto l = mqtt().limits();
    EXPECT_FALSE(l.qos1_acknowledged);
    EXPECT_TRUE(l.binary_payload);
    EXPECT_EQ(l.max_qos, 1);
    EXPECT_NE(l.delivery_note.find("no PUBACK"), std::string::npos);
    EXPECT_NE(l.delivery_note.find("module accepted"), std::string::npos);
    EXPECT_NE(l.topic_forbidden.find(','), std::string::npos);
}

TEST_F(SpwfDriverTest, MqttSessionPublishesBinaryReceivesAndNoticesLoss) {
    std::vector<std::pair<std::string, std::string>> got;
    std::optional<Error> lost;
    ModemMqttEvents ev;
    ev.message = [&](std::string t, std::string p, int, bool) { got.emplace_back(t, p); };
    ev.lost = [&](Error e) { lost = e; };
    at_.expect(connCommand()).line("AT-S.On:0");
    ASSERT_TRUE(mqttConnect(azureLike(), ev));

    at_.expect("AT+S.MQTTSUB=0,devices/device-1/messages/devicebound/#,1");
    EXPECT_TRUE(await<void>(
        loop_, [&](auto d) { mqtt().subscribe("devices/device-1/messages/devicebound/#", 1, d); }));
    // QoS 1 and QoS 0, binary, with the length form: the exact bytes follow the command.
    at_.expect("AT+S.MQTTPUB=0,devices/device-1/messages/events/,1,0,19")
        .expectImmediate()
        .expectPayload(kBinary);
    at_.expect("AT+S.MQTTPUB=0,devices/device-1/messages/events/,0,0,5")
        .expectImmediate()
        .expectPayload("hello");
    std::optional<Status> p1, p0;
    mqtt().publish("devices/device-1/messages/events/", kBinary, 1, false,
                   [&](Status s) { p1 = std::move(s); });
    mqtt().publish("devices/device-1/messages/events/", "hello", 0, false,
                   [&](Status s) { p0 = std::move(s); });
    ASSERT_TRUE(runUntil(loop_, [&] { return p1 && p0; }));
    EXPECT_TRUE(*p1);
    EXPECT_TRUE(*p0);

    // A message from the cloud: counted, whatever it holds.
    EXPECT_TRUE(at_.injectUrcWithData(
        "+WIND:86:MQTT Published:0:devices/device-1/messages/devicebound/a:b:19", kBinary));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, "devices/device-1/messages/devicebound/a:b");
    EXPECT_EQ(got[0].second, kBinary);

    // A refused publish: the module's words.
    at_.expect("AT+S.MQTTPUB=0,t,1,0,1").expectImmediate().error("AT-S.ERROR:44:Network not ready");
    auto st = await<void>(loop_, [&](auto d) { mqtt().publish("t", "x", 1, false, d); });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_publish");

    // The broker closes: lost, and later publishes fail at once.
    EXPECT_TRUE(at_.injectUrc("+WIND:87:MQTT Closed:0"));
    ASSERT_TRUE(lost.has_value());
    EXPECT_EQ(lost->code, "mqtt_closed");
    st = await<void>(loop_, [&](auto d) { mqtt().publish("t", "x", 1, false, d); });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_not_connected");
}

TEST_F(SpwfDriverTest, MqttDisconnectReleasesTheClientAndEndsItsEvents) {
    bool lost = false;
    ModemMqttEvents ev;
    ev.lost = [&](Error) { lost = true; };
    at_.expect(connCommand()).line("AT-S.On:0");
    ASSERT_TRUE(mqttConnect(azureLike(), ev));
    at_.expect("AT+S.MQTTUNSUB=0,a/b");
    EXPECT_TRUE(await<void>(loop_, [&](auto d) { mqtt().unsubscribe("a/b", d); }));
    at_.expect("AT+S.MQTTDISC=0");
    EXPECT_TRUE(await<void>(loop_, [&](auto d) { mqtt().disconnect(d); }));
    EXPECT_TRUE(at_.injectUrc("+WIND:87:MQTT Closed:0"));
    EXPECT_FALSE(lost) << "no event after disconnect()";
    EXPECT_TRUE(await<void>(loop_, [&](auto d) { mqtt().disconnect(d); })) << "twice is fine";
}

TEST_F(SpwfDriverTest, MqttConnectRefusesWhatTheModuleCannotCarryWithoutShowingSecrets) {
    auto p = azureLike();
    p.password = "sig,with,commas";
    auto st = mqttConnect(p);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_unsupported");
    EXPECT_NE(st.error().message.find("password"), std::string::npos);
    EXPECT_EQ(st.error().message.find("sig,with"), std::string::npos);
    p = azureLike();
    p.alpn = {"x-amzn-mqtt-ca"};
    EXPECT_EQ(mqttConnect(p).error().code, "mqtt_unsupported");
    EXPECT_TRUE(at_.commands().empty());

    at_.expect(connCommand()).error("AT-S.ERROR:90:TLS handshake failed");
    st = mqttConnect(azureLike());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "mqtt_tls");
    EXPECT_EQ(st.error().message.find("SharedAccessSignature"), std::string::npos);
}

TEST_F(SpwfDriverTest, AModuleRestartEndsTheMqttSession) {
    std::optional<Error> lost;
    ModemMqttEvents ev;
    ev.lost = [&](Error e) { lost = e; };
    at_.expect(connCommand()).line("AT-S.On:0");
    ASSERT_TRUE(mqttConnect(azureLike(), ev));
    EXPECT_TRUE(at_.injectBoot("+WIND:32:WiFi Hardware Started"));
    ASSERT_TRUE(lost.has_value());
    EXPECT_EQ(lost->code, "modem_reset");
    // Connecting again sends no MQTTDISC for the session that died with the module.
    at_.expect(connCommand()).line("AT-S.On:0");
    EXPECT_TRUE(mqttConnect(azureLike(), ev));
}

TEST(SpwfPlugin, CreateChecksTheWifiSettingsWithoutShowingThePassphrase) {
    asio::io_context loop;
    uplinkd::testing::ScriptedAtChannel at(loop);
    ModemSettings s;
    s.ssid = "plant-wifi";
    s.psk = "short";
    auto d = create(loop, at, s);
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("psk_file"), std::string::npos);
    EXPECT_EQ(d.error().message.find("short"), std::string::npos);
    s.psk.clear();
    s.ssid.clear();
    EXPECT_FALSE(create(loop, at, s));
    s.ssid = "plant-wifi";
    EXPECT_TRUE(create(loop, at, s));
    EXPECT_STREQ(descriptor()->name, "st-spwf04s");
}

}  // namespace
}  // namespace uplinkd::plugins::st_spwf04s
