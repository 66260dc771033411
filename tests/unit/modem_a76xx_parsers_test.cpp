// SPDX-License-Identifier: Apache-2.0
// The simcom-a76xx plugin's parsers, command builders and SSL context steps from tables (with
// hostile input).
#include <gtest/gtest.h>

#include <array>
#include <optional>

#include "a76xx_commands.hpp"
#include "a76xx_driver.hpp"
#include "a76xx_parsers.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::simcom_a76xx {
namespace {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

// ---- parsers ----------------------------------------------------------------------------------

TEST(A76xxParsers, NetworkAndLinks) {
    EXPECT_EQ(*parseNetOpen("+NETOPEN: 0"), 0);
    EXPECT_EQ(*parseNetOpen("+NETOPEN: 1"), 1);
    expectUnparsed(&parseNetOpen,
                   {"+NETOPEN:", "+NETOPEN: x", "+NETOPEN: 0,1", "+NETOPEN: -1", "NETOPEN: 0"});
    const auto open = parseIdResult("+CIPOPEN: 3,11", "+CIPOPEN:");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->id, 3);
    EXPECT_EQ(open->err, 11);
    expectUnparsed(&parseIdResult,
                   {"+CIPOPEN: 3", "+CIPOPEN: ,1", "+CIPOPEN: 3,x", "+CIPOPEN: 99,0",
                    "+CIPOPEN: 3,-1", "+CCHOPEN: 0,0"},
                   "+CIPOPEN:");
    const auto send = parseCipSend("+CIPSEND: 1,10,-1");
    ASSERT_TRUE(send);
    EXPECT_EQ(send->link, 1);
    EXPECT_EQ(send->requested, 10u);
    EXPECT_EQ(send->confirmed, -1);
    expectUnparsed(&parseCipSend, {"+CIPSEND: 1,10", "+CIPSEND: 1,10,-2", "+CIPSEND: 10,1,1",
                                   "+CIPSEND: 1,10,10,1", "+CIPSEND: a,b,c"});
    EXPECT_EQ(*parseCipRxGetUrc("+CIPRXGET: 1,4"), 4);
    EXPECT_FALSE(parseCipRxGetUrc("+CIPRXGET: 2,4,10,0"));
    EXPECT_FALSE(parseCipRxGetUrc("+CIPRXGET: 1,10"));
    const auto read = parseCipRxGetRead("+CIPRXGET: 2,0,1500,300");
    ASSERT_TRUE(read);
    EXPECT_EQ(read->read, 1500u);
    EXPECT_EQ(read->rest, 300u);
    expectUnparsed(&parseCipRxGetRead,
                   {"+CIPRXGET: 2,0,1500", "+CIPRXGET: 3,0,10,0", "+CIPRXGET: 2,0,-1,0",
                    "+CIPRXGET: 2,0,99999999999,0", "+CIPRXGET: 2,0,10,0,1"});
    const auto close = parseIdResult("+IPCLOSE: 2,1", "+IPCLOSE:");
    ASSERT_TRUE(close);
    EXPECT_EQ(close->err, 1);
}

TEST(A76xxParsers, SslSessions) {
    EXPECT_EQ(*parseCchStatus("+CCHSTART: 0", "+CCHSTART:"), 0);
    EXPECT_FALSE(parseCchStatus("+CCHSTART: ", "+CCHSTART:"));
    EXPECT_EQ(*parseCchRecvEvent("+CCHEVENT: 1,RECV EVENT"), 1);
    EXPECT_FALSE(parseCchRecvEvent("+CCHEVENT: 1,SEND EVENT"));
    EXPECT_FALSE(parseCchRecvEvent("+CCHEVENT: 2,RECV EVENT"));
    EXPECT_EQ(*parseCchPeerClosed("+CCH_PEER_CLOSED: 0"), 0);
    EXPECT_FALSE(parseCchPeerClosed("+CCH_PEER_CLOSED: x"));
    const auto len = parseCchRecvLen("+CCHRECV: LEN,12,0");
    ASSERT_TRUE(len);
    EXPECT_EQ(len->first, 12u);
    EXPECT_EQ(len->second, 0u);
    EXPECT_FALSE(parseCchRecvLen("+CCHRECV: LEN,12"));
    EXPECT_FALSE(parseCchRecvLen("+CCHRECV: DATA,0,12"));
    const auto data = parseCchRecvData("+CCHRECV: DATA,1,1500");
    ASSERT_TRUE(data);
    EXPECT_EQ(data->session, 1);
    EXPECT_EQ(data->length, 1500u);
    expectUnparsed(&parseCchRecvData,
                   {"+CCHRECV: DATA,1", "+CCHRECV: DATA,2,10", "+CCHRECV: DATA,0,-3",
                    "+CCHRECV: 0,0", "+CCHRECV: data,0,3"});
    const auto end = parseIdResult("+CCHRECV: 0,0", "+CCHRECV:");
    ASSERT_TRUE(end);
    EXPECT_EQ(end->err, 0);
    EXPECT_EQ(parseCertList({"+CCERTLIST: \"uplinkd_ca.pem\"", "junk", "+CCERTLIST: \"a.der\"",
                             "+CCERTLIST: \"\""}),
              (std::vector<std::string>{"uplinkd_ca.pem", "a.der"}));
}

TEST(A76xxParsers, RegistrationAndSignal) {
    EXPECT_EQ(*parseRegistrationRead("+CGREG: 0,5"), RegState::Roaming);
    EXPECT_EQ(*parseRegistrationRead("+CEREG: 2,1,\"1A2B\",\"0101\",7"), RegState::Home);
    EXPECT_EQ(*parseRegistrationRead("+CREG: 0,3"), RegState::Denied);
    EXPECT_FALSE(parseRegistrationRead("+COPS: 0,0,\"x\",7"));
    EXPECT_EQ(parseCsq("+CSQ: 15,99")->dbm(), -83);
}

TEST(A76xxParsers, ErrorTablesHaveWords) {
    for (int e = 0; e <= 12; ++e) {
        EXPECT_FALSE(tcpipErrorWords(e).empty()) << e;
    }
    EXPECT_TRUE(tcpipErrorWords(13).empty());
    for (int e = 0; e <= 19; ++e) {
        EXPECT_FALSE(cchErrorWords(e).empty()) << e;
    }
    EXPECT_TRUE(cchErrorWords(20).empty());
    EXPECT_TRUE(cchErrorWords(-1).empty());
    EXPECT_EQ(ipErrorWords("No data"), "no data to read");
    EXPECT_EQ(ipErrorWords("network NOT opened"), "the network is not open (AT+NETOPEN)");
    EXPECT_NE(ipErrorWords("Something new").find("Something new"), std::string::npos);
}

TEST(A76xxParsers, ExplainLines) {
    uplinkd::testing::expectExplained(
        &explainLine,
        {
            {"+CCHOPEN: 0,15", {"handshake", "SNI", "enableSNI", "root CA", "tls.ca_file"}},
            {"+CCHOPEN: 1,19", {"certificates not set", "provision"}},
            {"+CCHOPEN: 0,13", {"DNS"}},
            {"+CIPOPEN: 1,11", {"DNS"}},
            {"+CIPOPEN: 1,99", {"TCP/IP error 99"}},
            {"+NETOPEN: 1", {"network failure", "apn"}},
            {"+IP ERROR: Network not opened", {"not open"}},
            {"+CIPSEND: 0,10,-1", {"disconnected"}},
            {"+IPCLOSE: 0,1", {"server closed"}},
            {"+CME ERROR: 10", {"no SIM"}},
            {"+CCH: CCHSTOP", {"SSL service"}},
            {"+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY", {"data connection"}},
            {"ERROR", {"refused"}},
        });
}

TEST(A76xxCommands, SslContextAlwaysTurnsSniOn) {
    static_assert(kEnableSni);
    const auto server_only = sslContextSteps(false, 1s);
    std::vector<std::string> cmds;
    for (const auto& s : server_only) {
        cmds.push_back(s.command);
    }
    EXPECT_EQ(cmds,
              (std::vector<std::string>{
                  "AT+CSSLCFG=\"sslversion\",0,3", "AT+CSSLCFG=\"authmode\",0,1",
                  "AT+CSSLCFG=\"ignorelocaltime\",0,1",
                  "AT+CSSLCFG=\"cacert\",0,\"uplinkd_ca.pem\"", "AT+CSSLCFG=\"enableSNI\",0,1"}));
    const auto mutual = sslContextSteps(true, 1s);
    ASSERT_EQ(mutual.size(), 7u);
    EXPECT_EQ(mutual[1].command, "AT+CSSLCFG=\"authmode\",0,2");
    EXPECT_EQ(mutual[4].command, "AT+CSSLCFG=\"clientcert\",0,\"uplinkd_cert.pem\"");
    EXPECT_EQ(mutual[5].command, "AT+CSSLCFG=\"clientkey\",0,\"uplinkd_key.pem\"");
    EXPECT_EQ(mutual[6].command, "AT+CSSLCFG=\"enableSNI\",0,1");
}

TEST(A76xxCommands, ReadsNameTheirLength) {
    const struct {
        int link;
        size_t n;
        const char* command;
    } rows[] = {
        {0, 1500, "AT+CIPRXGET=2,0,1500"},
        {9, 1500, "AT+CIPRXGET=2,9,1500"},
        {3, 100, "AT+CIPRXGET=2,3,100"},
        {3, 1, "AT+CIPRXGET=2,3,1"},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(ciprxgetCommand(r.link, r.n), r.command);
    }
}

}  // namespace
}  // namespace uplinkd::plugins::simcom_a76xx
