// SPDX-License-Identifier: Apache-2.0
// The SIMCom A76xx / SIM7600 command set as data: bring-up steps, the info queries, timeouts
// and limits, the SSL context settings, and builders for commands that take arguments. Facts:
// shared/reference/at-commands.md §1, §5, §7 (SC-MAN V1.09, SC-TCP, SC-SSL, TG-A76, LILY-SSL).
// Thread: any (constants and pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "a76xx_parsers.hpp"
#include "common/at_steps.hpp"
#include "common/generic_info.hpp"
#include "common/pem.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using namespace std::chrono_literals;
using modem_common::AtCommandStep;
using modem_common::AtStep;
using modem_common::InfoQuery;
using modem_common::StepPolicy;

/// AT+CIPOPEN links 0-9; AT+CCHOPEN sessions 0-1.
inline constexpr int kLinks = 10;
inline constexpr int kSessions = 2;
/// The SSL context every TLS session uses.
inline constexpr int kSslContext = 0;
/// SNI is always sent: brokers on shared addresses (HiveMQ Cloud, AWS) need it, and the module
/// does not send it unless told ("enableSNI" defaults to 0). Not a setting on purpose.
inline constexpr bool kEnableSni = true;
/// Sockets: one AT+CIPSEND / AT+CCHSEND carries at most 1460 bytes, one AT+CIPRXGET=2 /
/// AT+CCHRECV asks for at most 1500; host names over 256 characters (what CCHOPEN takes) are
/// refused.
inline constexpr modem_common::SocketLimits kSocketLimits{1460, 1500, 256};
/// AT+CCERTDOWN takes 1-10240 bytes.
inline constexpr size_t kMaxCertFile = 10240;
/// Certificate store names (5-108 characters, ending in .pem).
using modem_common::kCaFile;
using modem_common::kCertFile;
using modem_common::kKeyFile;

/// Bring-up, in order: echo off, numeric +CME ERROR codes. SIM, APN, registration, manual
/// receive and NETOPEN follow (see the driver).
inline constexpr auto& kInitSteps = modem_common::kEchoOffNumericErrors;

/// Registration: LTE (EPS) first, then packet-switched 2G/3G for the variants that have it.
inline constexpr auto& kRegistrationQueries = modem_common::kEpsThenGprsRegistration;

/// Manual receive ("+CIPRXGET: 1,<link>" then AT+CIPRXGET=2); must precede AT+NETOPEN.
inline constexpr AtStep kManualReceive = {"AT+CIPRXGET=1", 5s, StepPolicy::Required};
/// Opens the network; the result is "+NETOPEN: <err>".
inline constexpr AtStep kNetOpen = {"AT+NETOPEN", 5s, StepPolicy::Required};
/// Whether the network is open ("+NETOPEN: 1").
inline constexpr AtStep kNetOpenQuery = {"AT+NETOPEN?", 5s, StepPolicy::Required};
/// Closes the network; the result is "+NETCLOSE: <err>".
inline constexpr AtStep kNetClose = {"AT+NETCLOSE", 5s, StepPolicy::Required};
/// Lists the links ("+CIPOPEN: <link>,\"TCP\",..." for an open one, "+CIPOPEN: <link>" for a
/// free one). After any (re)start the driver owns none: each open one is closed (links of a hung
/// module are otherwise never freed).
inline constexpr AtStep kLinkList = {"AT+CIPOPEN?", 5s, StepPolicy::Optional};
/// Boot indications: "*ATREADY: 1" (A76xx), "RDY" (SIM7600).
inline constexpr std::string_view kBootIndications[] = {"*ATREADY:", "RDY"};
/// SSL service: report each send's result, manual receive (cache + "+CCHEVENT"). Before
/// CCHSTART; a module whose service runs already refuses it.
inline constexpr AtStep kCchSet = {"AT+CCHSET=1,1", 5s, StepPolicy::Optional};
inline constexpr AtStep kCchStart = {"AT+CCHSTART", 5s, StepPolicy::Required};
inline constexpr AtStep kCchStop = {"AT+CCHSTOP", 5s, StepPolicy::Required};
/// Which certificate files the module holds.
inline constexpr AtStep kCertList = {"AT+CCERTLIST", 5s, StepPolicy::Required};
/// How much each SSL session has cached ("+CCHRECV: LEN,<c0>,<c1>").
inline constexpr AtStep kCchRecvQuery = {"AT+CCHRECV?", 5s, StepPolicy::Required};

/// `uplinkctl modem info` after the identity (kIdentityQueries): SIM, registration, signal,
/// operator.
inline constexpr InfoQuery kSimNetworkQueries[] = {
    {"AT+CICCID", 5s, &modem_common::applyIccid}, {"AT+CPIN?", 5s, &modem_common::applySim},
    {"AT+CEREG?", 2s, &modem_common::applyCereg}, {"AT+CGREG?", 2s, &modem_common::applyCgreg},
    {"AT+CSQ", 2s, &modem_common::applyCsq},      {"AT+COPS?", 5s, &applyCops},
};
/// `uplinkctl modem info`.
inline constexpr auto kInfoQueries =
    modem_common::joinedTable<InfoQuery>(modem_common::kIdentityQueries, kSimNetworkQueries);

/// Timeouts and polling, as data. The defaults are kA76xxTiming; tests shorten them.
struct A76xxTiming : modem_common::CellularTiming {
    std::chrono::milliseconds net_open = 60s;      ///< AT+NETOPEN → +NETOPEN
    std::chrono::milliseconds cch_start = 30s;     ///< AT+CCHSTART → +CCHSTART
    std::chrono::milliseconds connect = 120s;      ///< AT+CIPOPEN → +CIPOPEN
    std::chrono::milliseconds tls_connect = 320s;  ///< AT+CCHOPEN → +CCHOPEN (negotiatetime 300)
    std::chrono::milliseconds send = 20s;          ///< one send data phase
    std::chrono::milliseconds send_result = 20s;   ///< → +CIPSEND / +CCHSEND result
    std::chrono::milliseconds send_retry = 200ms;  ///< after "send buffer full"
    int send_retries = 50;
    std::chrono::milliseconds receive = 20s;     ///< one read, with its end URC
    std::chrono::milliseconds cert_store = 30s;  ///< one AT+CCERTDOWN
    // MQTT client
    std::chrono::milliseconds mqtt_start = 30s;  ///< AT+CMQTTSTART/STOP → result (PDP up to 12 s)
    /// AT+CMQTTCONNECT → result: the "optimeout" given to the module plus this.
    std::chrono::milliseconds mqtt_connect_extra = 15s;
    std::chrono::milliseconds mqtt_result = 75s;  ///< +CMQTTPUB (pub_timeout 60) / SUB / UNSUB
    std::chrono::milliseconds mqtt_disc = 20s;    ///< AT+CMQTTDISC (timeout 10) → result
};
inline constexpr A76xxTiming kA76xxTiming{};

// ---- commands with arguments ------------------------------------------------------------------

/// AT+CGDCONT=1,"IP","<apn>"
std::string cgdcontCommand(const ModemSettings& settings);
/// AT+CGAUTH=1,1,"<user>","<password>" (PAP; 27.007 argument order).
std::string cgauthCommand(const ModemSettings& settings);
std::string cipopenCommand(int link, const std::string& host, uint16_t port);
std::string cipsendCommand(int link, size_t n);
/// AT+CIPRXGET=2,<link>,<n>. The length is always given: that the module reads 1500 bytes
/// when it is left out (5 bytes a read) is not confirmed by a manual at hand.
std::string ciprxgetCommand(int link, size_t n);
std::string cipcloseCommand(int link);
/// The AT+CSSLCFG settings of the SSL context: "sslversion" 3 (TLS 1.2; 4 would also allow
/// SSL 3.0 to TLS 1.1), "authmode" 1 (verify the server) or 2 (and present a client
/// certificate), "ignorelocaltime" 1 (the module's clock is not trusted), the files, and
/// "enableSNI" 1.
std::vector<AtCommandStep> sslContextSteps(bool client_certificate,
                                           std::chrono::milliseconds timeout);
std::string cchsslcfgCommand(int session);
/// AT+CCHOPEN=<session>,"<host>",<port>,2 (2: SSL/TLS client)
std::string cchopenCommand(int session, const std::string& host, uint16_t port);
std::string cchsendCommand(int session, size_t n);
std::string cchrecvCommand(int session, size_t n);
std::string cchcloseCommand(int session);
std::string ccertdownCommand(std::string_view name, size_t n);
std::string ccertdeleCommand(std::string_view name);

}  // namespace uplinkd::plugins::simcom_a76xx
