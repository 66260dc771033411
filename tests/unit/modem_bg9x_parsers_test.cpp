// SPDX-License-Identifier: Apache-2.0
// The quectel-bg9x plugin's parsers, code tables and command builders from tables (with hostile
// input).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <optional>

#include "bg9x_commands.hpp"
#include "bg9x_driver.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::quectel_bg9x {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- parsers ----------------------------------------------------------------------------------

TEST(Bg9xParsers, SocketResultsAndUrcs) {
    const auto open = parseIdResult("+QIOPEN: 3,566", "+QIOPEN:");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->id, 3);
    EXPECT_EQ(open->err, 566);
    EXPECT_EQ(parseIdResult("+QMTOPEN: 0,-1", "+QMTOPEN:")->err, -1);
    for (const char* bad : {"+QIOPEN: 3", "+QIOPEN: ,1", "+QIOPEN: 3,x", "+QIOPEN: 99,0",
                            "+QIOPEN: 1,0,0", "+QSSLOPEN: 0,0", "+QIOPEN: 1,999999"}) {
        EXPECT_FALSE(parseIdResult(bad, "+QIOPEN:")) << bad;
    }
    const auto recv = parseSocketUrc("+QIURC: \"recv\",4", "+QIURC:");
    ASSERT_TRUE(recv);
    EXPECT_EQ(recv->kind, SocketUrc::Kind::Recv);
    EXPECT_EQ(recv->id, 4);
    EXPECT_EQ(parseSocketUrc("+QIURC: \"recv\",4,12", "+QIURC:")->id, 4);  // push form
    EXPECT_EQ(parseSocketUrc("+QSSLURC: \"closed\",11", "+QSSLURC:")->kind,
              SocketUrc::Kind::Closed);
    EXPECT_EQ(parseSocketUrc("+QIURC: \"pdpdeact\",1", "+QIURC:")->kind, SocketUrc::Kind::PdpDeact);
    for (const char* bad : {"+QIURC: recv,4", "+QIURC: \"recv\",12", "+QIURC: \"closed\"",
                            "+QIURC: \"pdpdeact\",0", "+QIURC: \"dnsgip\",0", "+QIURC:"}) {
        EXPECT_FALSE(parseSocketUrc(bad, "+QIURC:")) << bad;
    }
    EXPECT_EQ(*parseReadHeader("+QIRD: 1500", "+QIRD:"), 1500u);
    EXPECT_EQ(*parseReadHeader("+QSSLRECV: 0", "+QSSLRECV:"), 0u);
    for (const char* bad : {"+QIRD: 1501", "+QIRD: -1", "+QIRD: 10,5,5", "+QIRD: x", "+QIRD:"}) {
        EXPECT_FALSE(parseReadHeader(bad, "+QIRD:")) << bad;
    }
}

TEST(Bg9xParsers, FileStore) {
    const auto up = parseQfupl("+QFUPL: 1184,3a4f");
    ASSERT_TRUE(up);
    EXPECT_EQ(up->size, 1184u);
    EXPECT_EQ(*up->checksum, 0x3a4f);
    EXPECT_EQ(*parseQfupl("+QFUPL: 10,0x00FF")->checksum, 0xff);
    EXPECT_FALSE(parseQfupl("+QFUPL: 10")->checksum);
    for (const char* bad : {"+QFUPL: x,1", "+QFUPL: 10,12345", "+QFUPL: 10,zz", "+QFUPL: 1,2,3"}) {
        EXPECT_FALSE(parseQfupl(bad)) << bad;
    }
    EXPECT_EQ(xorChecksum(std::string("\x12\x34\x56\x78", 4)), 0x1234 ^ 0x5678);
    EXPECT_EQ(xorChecksum(std::string("\x12\x34\x56\x78", 4), true), 0x3412 ^ 0x7856);
    EXPECT_EQ(xorChecksum(std::string("\x12\x34\x56", 3)), 0x1234 ^ 0x5600);
    const auto files = parseFileList({"+QFLST: \"UFS:uplinkd_ca.pem\",1184", "junk",
                                      "+QFLST: \"UFS:\x01\",x", "+QFLST: \"RAM:a\",3"});
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].name, "UFS:uplinkd_ca.pem");
    EXPECT_EQ(files[0].size, 1184u);
    EXPECT_EQ(files[1].name, "RAM:a");
}

TEST(Bg9xParsers, ClockAndValidity) {
    // 2026-12-04 22:50:16 local time at UTC+1 (4 quarter hours) is 21:50:16 UTC.
    const auto t = parseCclk("+CCLK: \"26/12/04,22:50:16+04\"");
    ASSERT_TRUE(t);
    EXPECT_EQ(formatUtc(*t), "2026-12-04 21:50:16 UTC");
    EXPECT_EQ(formatUtc(*parseCclk("+CCLK: \"80/01/06,00:00:00-08\"")), "2080-01-06 02:00:00 UTC");
    for (const char* bad : {"+CCLK: 26/12/04,22:50:16+04", "+CCLK: \"26/13/04,22:50:16+04\"",
                            "+CCLK: \"26/12/04 22:50:16+04\"", "+CCLK: \"\"", "+CCLK:"}) {
        EXPECT_FALSE(parseCclk(bad)) << bad;
    }
    const Validity v{"the root CA from tls.ca_file", *parseCclk("+CCLK: \"20/01/01,00:00:00+00\""),
                     *parseCclk("+CCLK: \"30/01/01,00:00:00+00\"")};
    EXPECT_EQ(clockProblem(*t, {v}), "");
    const std::string words = clockProblem(*parseCclk("+CCLK: \"19/01/06,00:00:05+00\""), {v});
    for (const char* part :
         {"the module's clock is 2019-01-06 00:00:05 UTC", "the certificate (the root CA",
          "valid from 2020-01-01 00:00:00 UTC to 2030-01-01 00:00:00 UTC", "(NITZ)"}) {
        EXPECT_NE(words.find(part), std::string::npos) << words;
    }
}

TEST(Bg9xParsers, NetworkInfo) {
    const auto n = parseQnwinfo("+QNWINFO: \"CAT-M1\",\"26201\",\"LTE BAND 20\",6300");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->band, "LTE BAND 20");
    EXPECT_EQ(accessTechnologyWords(n->act), "LTE-M");
    EXPECT_EQ(accessTechnologyWords("CAT-NB1"), "NB-IoT");
    EXPECT_EQ(accessTechnologyWords("eMTC"), "LTE-M");
    EXPECT_EQ(accessTechnologyWords("GSM"), "GSM");
    EXPECT_EQ(accessTechnologyWords("Martian"), "Martian");
    EXPECT_EQ(ceregActWords(8), "LTE-M");
    EXPECT_EQ(ceregActWords(9), "NB-IoT");
    EXPECT_EQ(ceregActWords(0), "GSM");
    EXPECT_EQ(ceregActWords(3), "");
    EXPECT_FALSE(parseQnwinfo("+QNWINFO: No Service"));
    EXPECT_FALSE(parseQnwinfo("+QNWINFO: \"\",\"\",\"\",0"));
}

TEST(Bg9xParsers, MqttResults) {
    const auto c = parseQmtconn("+QMTCONN: 0,0,5");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->result, 0);
    EXPECT_EQ(*c->ret_code, 5);
    EXPECT_FALSE(parseQmtconn("+QMTCONN: 0,2")->ret_code);
    for (const char* bad :
         {"+QMTCONN: 0", "+QMTCONN: 6,0,0", "+QMTCONN: 0,0,0,0", "+QMTCONN: a,b"}) {
        EXPECT_FALSE(parseQmtconn(bad)) << bad;
    }
    const auto p = parseAck("+QMTPUB: 0,65535,1,2", "+QMTPUB:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->msg_id, 65535);
    EXPECT_EQ(p->result, 1);
    EXPECT_EQ(*p->value, 2);
    EXPECT_EQ(*parseAck("+QMTSUB: 0,3,0,128", "+QMTSUB:")->value, 128);
    EXPECT_FALSE(parseAck("+QMTUNS: 0,3,0", "+QMTUNS:")->value);
    for (const char* bad :
         {"+QMTPUB: 0,1", "+QMTPUB: 0,-1,0", "+QMTPUB: 9,1,0", "+QMTPUB: 0,1,0,1,1"}) {
        EXPECT_FALSE(parseAck(bad, "+QMTPUB:")) << bad;
    }
}

TEST(Bg9xParsers, IncomingMessagesInBothForms) {
    const auto with_len = parseQmtrecv("+QMTRECV: 0,7,\"cmd/a\",8,\"a,\"b\",OK\"");
    ASSERT_TRUE(with_len);
    EXPECT_EQ(with_len->msg_id, 7);
    EXPECT_EQ(with_len->topic, "cmd/a");
    EXPECT_EQ(with_len->payload, "a,\"b\",OK");  // quotes and commas inside, taken by count
    EXPECT_EQ(with_len->missing, 0u);
    const auto without = parseQmtrecv("+QMTRECV: 0,0,\"cmd/b\",\"hello, world\"");
    ASSERT_TRUE(without);
    EXPECT_FALSE(without->length);
    EXPECT_EQ(without->payload, "hello, world");
    const auto empty = parseQmtrecv("+QMTRECV: 0,0,\"t\",0,\"\"");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->payload, "");
    for (const char* bad :
         {"+QMTRECV: 0,1", "+QMTRECV: 0,1,topic,\"x\"", "+QMTRECV: 0,1,\"t\",5,\"abcdefgh\"",
          "+QMTRECV: 0,1,\"t\",x,\"a\"", "+QMTRECV: 9,1,\"t\",\"a\"", "+QMTRECV: 0,1,\"\",\"a\"",
          "+QMTRECV: 0,1,\"t\",\"a"}) {
        EXPECT_FALSE(parseQmtrecv(bad)) << bad;
    }
}

TEST(Bg9xParsers, AnIncomingPayloadCutByALineBreakIsCompletedByCount) {
    // Payload "ab\r\ncd" (6 bytes): the channel ends the line at CR, skips LF, and reads the
    // announced rest by count: "cd" + the closing quote + the CR after it.
    const auto crlf = parseQmtrecv("+QMTRECV: 0,1,\"t\",6,\"ab");
    ASSERT_TRUE(crlf);
    EXPECT_EQ(crlf->missing, 4u);
    EXPECT_EQ(*completePayload(*crlf, "cd\"\r"), "ab\r\ncd");
    // Payload "ab\n\ncd": the first LF alone ended the line, the second is data.
    EXPECT_EQ(*completePayload(*crlf, "\ncd\""), "ab\n\ncd");
    const auto lf = parseQmtrecv("+QMTRECV: 0,1,\"t\",5,\"ab");
    ASSERT_TRUE(lf);
    EXPECT_EQ(lf->missing, 3u);
    EXPECT_EQ(*completePayload(*lf, "cd\""), "ab\ncd");
    EXPECT_FALSE(completePayload(*lf, "cde"));
    EXPECT_FALSE(completePayload(*lf, "c\""));
}

// ---- code tables ------------------------------------------------------------------------------

TEST(Bg9xErrors, EveryCodeHasWords) {
    for (int e = 550; e <= 574; ++e) {
        EXPECT_FALSE(socketErrorWords(e).empty()) << e;
    }
    EXPECT_TRUE(socketErrorWords(549).empty());
    EXPECT_TRUE(socketErrorWords(575).empty());
    for (int r = -1; r <= 5; ++r) {
        EXPECT_FALSE(mqttOpenWords(r).empty()) << r;
    }
    EXPECT_TRUE(mqttOpenWords(6).empty());
    for (int r = 0; r <= 2; ++r) {
        EXPECT_FALSE(mqttConnResultWords(r).empty()) << r;
        EXPECT_FALSE(mqttAckWords(r).empty()) << r;
    }
    for (int r = 0; r <= 5; ++r) {
        EXPECT_FALSE(connackWords(r).empty()) << r;
    }
    EXPECT_TRUE(connackWords(6).empty());
    for (int r = 1; r <= 7; ++r) {
        EXPECT_FALSE(mqttStatWords(r).empty()) << r;
    }
    EXPECT_TRUE(mqttStatWords(0).empty());
    EXPECT_TRUE(mqttStatWords(8).empty());
}

TEST(Bg9xErrors, ExplainLinesWithTheFix) {
    uplinkd::testing::expectExplained(
        &explainLine, {
                          {"+CME ERROR: 565", {"resolve", "broker host"}},
                          {"+CME ERROR: 561", {"PDP", "apn"}},
                          {"+CME ERROR: 573", {"APN", "set apn"}},
                          {"+CME ERROR: 10", {"no SIM"}},
                          {"+CME ERROR: 407", {"file error 407", "UNCONFIRMED"}},
                          {"+QIOPEN: 0,566", {"refused", "root CA", "SNI"}},
                          {"+QSSLOPEN: 1,566", {"certificate", "clock"}},
                          {"+QSSLOPEN: 1,0", {"connected"}},
                          {"+QMTOPEN: 0,-1", {"could not open"}},
                          {"+QMTOPEN: 0,4", {"resolve"}},
                          {"+QMTCONN: 0,0,4", {"CONNACK 4", "user name or password"}},
                          {"+QMTCONN: 0,0,5", {"CONNACK 5", "not authorised", "policy"}},
                          {"+QMTCONN: 0,2", {"failed"}},
                          {"+QMTSTAT: 0,2", {"keep-alive", "PINGREQ"}},
                          {"+QMTSTAT: 0,1", {"closed or reset"}},
                          {"+QMTSUB: 0,3,0,128", {"refused the subscription"}},
                          {"+QMTPUB: 0,3,2", {"did not acknowledge"}},
                          {"+QIURC: \"pdpdeact\",1", {"data connection"}},
                          {"+QSSLURC: \"closed\",2", {"closed"}},
                          {"SEND FAIL", {"buffer is full"}},
                          {"ERROR", {"refused"}},
                      });
}

// ---- commands ---------------------------------------------------------------------------------

std::vector<std::string> commandsOf(const std::vector<modem_common::AtCommandStep>& steps) {
    std::vector<std::string> out;
    for (const auto& s : steps) {
        out.push_back(s.command);
    }
    return out;
}

TEST(Bg9xCommands, SslContextNeverIgnoresTheClockAndSniIsAlwaysOn) {
    static_assert(kEnableSni);
    EXPECT_EQ(sniCommand(), "AT+QSSLCFG=\"sni\",1,1");
    EXPECT_EQ(
        commandsOf(sslContextSteps(false, 1s)),
        (std::vector<std::string>{
            "AT+QSSLCFG=\"sslversion\",1,3", "AT+QSSLCFG=\"ciphersuite\",1,0XFFFF",
            "AT+QSSLCFG=\"seclevel\",1,1", "AT+QSSLCFG=\"cacert\",1,\"UFS:uplinkd_ca.pem\""}));
    const auto mutual = commandsOf(sslContextSteps(true, 1s));
    ASSERT_EQ(mutual.size(), 6u);
    EXPECT_EQ(mutual[2], "AT+QSSLCFG=\"seclevel\",1,2");
    EXPECT_EQ(mutual[4], "AT+QSSLCFG=\"clientcert\",1,\"UFS:uplinkd_cert.pem\"");
    EXPECT_EQ(mutual[5], "AT+QSSLCFG=\"clientkey\",1,\"UFS:uplinkd_key.pem\"");
    for (const auto& c : mutual) {
        EXPECT_EQ(c.find("ignorelocaltime"), std::string::npos);
    }
}

TEST(Bg9xCommands, MqttClientIsConfiguredFor311WithLengthInTheUrc) {
    EXPECT_EQ(
        commandsOf(mqttConfigSteps(true, 60, true, 30, 1s)),
        (std::vector<std::string>{"AT+QMTCFG=\"version\",0,4", "AT+QMTCFG=\"pdpcid\",0,1",
                                  "AT+QMTCFG=\"ssl\",0,1,1", "AT+QMTCFG=\"keepalive\",0,60",
                                  "AT+QMTCFG=\"session\",0,1", "AT+QMTCFG=\"timeout\",0,30,3,0",
                                  "AT+QMTCFG=\"recv/mode\",0,0,1"}));
    EXPECT_EQ(mqttConfigSteps(false, 5, false, 10, 1s)[2].command, "AT+QMTCFG=\"ssl\",0,0");
    EXPECT_EQ(qmtpubCommand(7, 1, false, "a/b", 19), "AT+QMTPUB=0,7,1,0,\"a/b\",19");
    EXPECT_EQ(qmtconnCommand("dev", "", ""), "AT+QMTCONN=0,\"dev\"");
    EXPECT_EQ(qmtconnCommand("dev", "u", "p"), "AT+QMTCONN=0,\"dev\",\"u\",\"p\"");
    EXPECT_EQ(qiopenCommand(2, "h", 1883), "AT+QIOPEN=1,2,\"TCP\",\"h\",1883,0,0");
    EXPECT_EQ(qsslopenCommand(2, "h", 8883), "AT+QSSLOPEN=1,1,2,\"h\",8883,0");
    EXPECT_EQ(qfuplCommand(kCaFile, 10, 30), "AT+QFUPL=\"UFS:uplinkd_ca.pem\",10,30");
}

TEST(Bg9xMatch, ModelsAndOffloads) {
    const auto& m = match();
    EXPECT_TRUE(m.supports_tls_offload);
    EXPECT_TRUE(m.supports_mqtt_offload);
    EXPECT_FALSE(m.wifi);
    EXPECT_TRUE(modem_common::matchesModel("Quectel BG96", m.model_patterns));
    EXPECT_TRUE(modem_common::matchesModel("BG95-M3", m.model_patterns));
    EXPECT_TRUE(modem_common::matchesModel("EC25", m.model_patterns));
    EXPECT_FALSE(modem_common::matchesModel("A7670E", m.model_patterns));
    EXPECT_STREQ(descriptor()->name, "quectel-bg9x");
}

}  // namespace
}  // namespace uplinkd::plugins::quectel_bg9x
