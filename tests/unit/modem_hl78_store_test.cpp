// SPDX-License-Identifier: Apache-2.0
// The sierra-hl78 modem plugin against a scripted AtChannel: provisioning (CR+LF, read-back
// compare), info, the plain-words error tables and the plugin descriptor.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hl78_commands.hpp"
#include "hl78_driver.hpp"
#include "hl78_parsers.hpp"
#include "modem_hl78_test_fixture.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_hl78 {
namespace {

// ---- provisioning -----------------------------------------------------------------------------

const std::string kCaLf =
    "-----BEGIN CERTIFICATE-----\nTUlJQ2FEQ0NBZ0NnQXdJQkFnSVVmYWtlQ0E=\nQUJDREVGRw==\n"
    "-----END CERTIFICATE-----\n";
const std::string kCaCrLf =
    "-----BEGIN CERTIFICATE-----\r\nTUlJQ2FEQ0NBZ0NnQXdJQkFnSVVmYWtlQ0E=\r\nQUJDREVGRw==\r\n"
    "-----END CERTIFICATE-----\r\n";
const std::string kCertCrLf =
    "-----BEGIN CERTIFICATE-----\r\nQ0xJRU5U\r\n-----END CERTIFICATE-----\r\n";
const std::string kKeyCrLf = "-----BEGIN PRIVATE KEY-----\r\nS0VZ\r\n-----END PRIVATE KEY-----\r\n";

std::vector<std::string> listing(const std::string& kind, int index, const std::string& pem) {
    std::vector<std::string> lines = {kind + "," + std::to_string(index) + "," +
                                      std::to_string(pem.size())};
    size_t pos = 0;
    while (pos < pem.size()) {
        const size_t end = pem.find("\r\n", pos);
        lines.push_back(pem.substr(pos, end - pos));
        pos = end + 2;
    }
    return lines;
}

TEST_F(Hl78DriverTest, ProvisionWritesCrLfPemAndComparesTheReadBack) {
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size()))
        .expectPrompt("CONNECT")
        .expectPayload(kCaCrLf)
        .expectTerminator(kPattern);
    at_.expect("AT+KCERTSTORE=1," + std::to_string(kCertCrLf.size())).expectPayload(kCertCrLf);
    at_.expect("AT+KPRIVKSTORE=0," + std::to_string(kKeyCrLf.size())).expectPayload(kKeyCrLf);
    auto& read = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    for (const auto& l : listing("root_cert", 0, kCaCrLf)) {
        read.line(l);
    }
    for (const auto& l : listing("local_cert", 0, kCertCrLf)) {
        read.line(l);
    }
    // LF line ends and text around the blocks (as openssl writes them) are normalised.
    ModemCredentials creds{"Subject: test CA\n" + kCaLf,
                           "-----BEGIN CERTIFICATE-----\nQ0xJRU5U\n-----END CERTIFICATE-----",
                           "-----BEGIN PRIVATE KEY-----\r\nS0VZ\r\n-----END PRIVATE KEY-----\n"};
    Status result = provision(creds);
    EXPECT_TRUE(result) << result.error().message;
    ASSERT_EQ(at_.written().size(), 3u);
    EXPECT_EQ(at_.written()[0], kCaCrLf + kPattern);
}

TEST_F(Hl78DriverTest, ProvisionDetectsAReadBackMismatch) {
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size())).expectPayload(kCaCrLf);
    at_.expect("AT+KCERTDELETE=1").error("+CME ERROR: 910");  // nothing to delete: ignored
    std::string other = kCaCrLf;
    other[40] = 'X';
    auto& read = at_.expect("AT+KCERTSTORE?").line("+KCERTSTORE:");
    for (const auto& l : listing("root_cert", 0, other)) {
        read.line(l);
    }
    expectOutcome(provision({kCaLf, "", ""}), fails("provision_mismatch", {"tls.ca_file"}));
}

TEST_F(Hl78DriverTest, ProvisionStoresSeveralRootsByIndexAndExplainsRefusals) {
    const std::string second =
        "-----BEGIN CERTIFICATE-----\r\nU0VDT05E\r\n-----END CERTIFICATE-----\r\n";
    at_.expect("AT+KCERTSTORE=0," + std::to_string(kCaCrLf.size()) + ",0").expectPayload(kCaCrLf);
    at_.expect("AT+KCERTSTORE=0," + std::to_string(second.size()) + ",1").error("+CME ERROR: 930");
    Status result = provision({kCaLf + second, "", ""});
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("root CA #1"), std::string::npos)
        << result.error().message;
    EXPECT_NE(result.error().message.find("not a certificate"), std::string::npos)
        << result.error().message;

    // Bad input never reaches the module.
    result = provision({"not a certificate", "", ""});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, "bad_pem");
    result = provision({kCaLf, kCertCrLf, ""});
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("key_file"), std::string::npos);
}

// ---- info, explain, plugin --------------------------------------------------------------------

TEST_F(Hl78DriverTest, InfoCollectsWhatTheModuleSays) {
    expectScript(at_, identity("Sierra Wireless", "HL7802", "HL7800.4.6.9.4", "351234567890123") +
                          AtScript{{"AT+CCID", {"+CCID: 8944500000000000000"}},
                                   {"AT+CPIN?", {"+CPIN: READY"}},
                                   {"AT+CEREG?", {"+CEREG: 0,5"}},
                                   {"AT+CSQ", {"+CSQ: 20,99"}}});
    const Result<ModemInfo> answer = info();
    ASSERT_TRUE(answer);
    const ModemInfo& i = answer.value();
    EXPECT_EQ(i.manufacturer, "Sierra Wireless");
    EXPECT_EQ(i.model, "HL7802");
    EXPECT_EQ(i.firmware, "HL7800.4.6.9.4");
    EXPECT_EQ(i.imei, "351234567890123");
    EXPECT_EQ(i.iccid, "8944500000000000000");
    EXPECT_EQ(i.sim, "ready");
    EXPECT_EQ(i.registration, "registered (roaming)");
    EXPECT_EQ(i.signal_dbm, -73);
}

TEST_F(Hl78DriverTest, InfoFailsOnlyWhenTheModuleIsSilent) {
    at_.expect("AT+CGMI").timesOut();
    at_.expect("AT+CGMM").timesOut();
    expectOutcome(info(), fails("at_timeout"));
}

TEST_F(Hl78DriverTest, ExplainAndLimits) {
    EXPECT_EQ(driver().maxSendChunk(), 1500u);
    EXPECT_NE(driver().explain("+CME ERROR: 913").find("timeout"), std::string::npos);
    EXPECT_NE(driver().explain("+KTCP_NOTIF: 1,15").find("tls.ca_file"), std::string::npos);
}

TEST(Hl78Plugin, DescriptorAndCreate) {
    const PluginDescriptor* d = descriptor();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->abi_version, kPluginAbiVersion);
    EXPECT_EQ(d->kind, PluginKind::Modem);
    EXPECT_STREQ(d->name, "sierra-hl78");
    const auto* api = static_cast<const ModemPluginApi*>(d->api);
    ASSERT_NE(api->match, nullptr);
    EXPECT_TRUE(api->match->supports_tls_offload);
    EXPECT_EQ(api->match->model_patterns, (std::vector<std::string>{"HL7800", "HL7802", "HL7812"}));
    asio::io_context loop;
    ScriptedAtChannel at(loop);
    auto ok = api->create(loop, at, testing::apnSettings("internet"));
    EXPECT_TRUE(ok);
    expectOutcome(api->create(loop, at, testing::apnSettings("inter\"net")),
                  fails("config", {"apn"}));
}

}  // namespace
}  // namespace uplinkd::plugins::sierra_hl78
