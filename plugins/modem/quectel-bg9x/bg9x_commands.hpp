// SPDX-License-Identifier: Apache-2.0
// The Quectel BG96 / BG95 / BG77 / EG9x / EC2x command set as data: bring-up steps, the info
// queries, timeouts and limits, the SSL context settings, the MQTT client settings, and builders
// for commands that take arguments. Facts: shared/reference/at-commands.md §1, §6, §7, §8
// (TG-BG96, Z-BG9X, ESP-BG96, RTT-EC20, EG800K, QFUPL, LOOUQ, QMTSTAT).
// Thread: any (constants and pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/at_steps.hpp"
#include "common/generic_info.hpp"
#include "common/pem.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using namespace std::chrono_literals;
using modem_common::AtCommandStep;
using modem_common::AtStep;
using modem_common::InfoQuery;
using modem_common::StepPolicy;

/// The PDP context every socket and the MQTT client use.
inline constexpr int kPdpContext = 1;
/// Socket ids 0-11: plain (AT+QIOPEN connectID) and TLS (AT+QSSLOPEN clientID) share them.
inline constexpr int kSockets = 12;
/// The SSL context every TLS session (sockets and MQTT) uses.
inline constexpr int kSslContext = 1;
/// The MQTT client index uplinkd uses (0-5).
inline constexpr int kMqttClient = 0;
/// SNI is always switched on: brokers on shared addresses (AWS, HiveMQ Cloud) need it, and the
/// module does not send it unless told ("sni" defaults to 0). Not a setting on purpose.
inline constexpr bool kEnableSni = true;
/// Sockets: one AT+QISEND / AT+QSSLSEND carries at most 1460 bytes, one AT+QIRD / AT+QSSLRECV
/// asks for at most 1500 (AT+QIRD takes ≤ 1500); host names over 150 characters are refused
/// (the MQTT client's too).
inline constexpr modem_common::SocketLimits kSocketLimits{1460, 1500, 150};
/// AT+QMTPUB takes about this much (UNCONFIRMED per firmware).
inline constexpr size_t kMaxMqttPayload = 4096;
/// Topic length uplinkd allows in the quoted argument (UNCONFIRMED module limit).
inline constexpr size_t kMaxMqttTopic = 255;
/// Largest certificate file uplinkd uploads (UNCONFIRMED module limit).
inline constexpr size_t kMaxCertFile = 16384;
/// Certificate store names (UFS, the module's file system).
using modem_common::kCaFile;
using modem_common::kCertFile;
using modem_common::kKeyFile;

/// Boot indications: "RDY" (the UART is up), then "APP RDY" (the AT application is up).
inline constexpr std::string_view kBootIndications[] = {"RDY", "APP RDY"};

/// Bring-up, in order: echo off, numeric +CME ERROR codes. SIM, APN, registration and the PDP
/// context follow (see the driver).
inline constexpr auto& kInitSteps = modem_common::kEchoOffNumericErrors;

/// Registration: LTE-M / NB-IoT (EPS) first, then GPRS for the 2G fallback.
inline constexpr auto& kRegistrationQueries = modem_common::kEpsThenGprsRegistration;

/// Whether the PDP context is active ("+QIACT: 1,1,1,\"<ip>\"").
inline constexpr AtStep kQiactQuery = {"AT+QIACT?", 5s, StepPolicy::Required};
/// The module's clock ("+CCLK: \"yy/MM/dd,hh:mm:ss±zz\"").
inline constexpr AtStep kClock = {"AT+CCLK?", 5s, StepPolicy::Required};
/// The files of the module's store ("+QFLST: \"UFS:<name>\",<size>" lines).
inline constexpr AtStep kFileList = {"AT+QFLST=\"*\"", 5s, StepPolicy::Required};

/// `uplinkctl modem info` (static data): identity, SIM, registration, signal, operator, access
/// technology and band (AT+QNWINFO), and the store entries (AT+QFLST).
std::span<const InfoQuery> infoQueries();

/// Timeouts and polling, as data. The defaults are kBg9xTiming; tests shorten them.
struct Bg9xTiming : modem_common::CellularTiming {
    std::chrono::milliseconds pdp_activate = 150s;  ///< AT+QIACT=1 (up to 150 s)
    std::chrono::milliseconds connect = 150s;       ///< AT+QIOPEN → +QIOPEN
    std::chrono::milliseconds tls_connect = 150s;   ///< AT+QSSLOPEN → +QSSLOPEN
    std::chrono::milliseconds send = 20s;           ///< one send data phase
    std::chrono::milliseconds send_retry = 200ms;   ///< after "SEND FAIL" (buffer full)
    int send_retries = 50;
    std::chrono::milliseconds receive = 20s;       ///< one AT+QIRD / AT+QSSLRECV
    std::chrono::milliseconds file_upload = 30s;   ///< one AT+QFUPL
    std::chrono::milliseconds mqtt_open = 75s;     ///< AT+QMTOPEN → +QMTOPEN
    std::chrono::milliseconds mqtt_connect = 60s;  ///< AT+QMTCONN → +QMTCONN
    std::chrono::milliseconds mqtt_ack = 60s;      ///< → +QMTPUB / +QMTSUB / +QMTUNS
    std::chrono::milliseconds mqtt_close = 10s;    ///< → +QMTDISC / +QMTCLOSE
};
inline constexpr Bg9xTiming kBg9xTiming{};

// ---- commands with arguments ------------------------------------------------------------------

/// AT+QICSGP=1,1,"<apn>","<user>","<password>",<auth> (auth 1 PAP when a user is set, else 0).
std::string qicsgpCommand(const ModemSettings& settings);
std::string qiactCommand();
/// AT+QIOPEN=1,<id>,"TCP","<host>",<port>,0,0 (0: buffer access mode).
std::string qiopenCommand(int id, const std::string& host, uint16_t port);
std::string qisendCommand(int id, size_t n);
std::string qirdCommand(int id, size_t n);
std::string qicloseCommand(int id);
/// AT+QSSLOPEN=1,<ctx>,<id>,"<host>",<port>,0 (0: buffer access mode).
std::string qsslopenCommand(int id, const std::string& host, uint16_t port);
std::string qsslsendCommand(int id, size_t n);
std::string qsslrecvCommand(int id, size_t n);
std::string qsslcloseCommand(int id);
/// AT+QSSLCFG="sni",<ctx>,1: its own step, since a firmware without it ends start-up in plain
/// words.
std::string sniCommand();
/// The AT+QSSLCFG settings of the SSL context: "sslversion" 3 (TLS 1.2), "ciphersuite" 0XFFFF
/// (the module's list), "seclevel" 1 (verify the server) or 2 (and present a client
/// certificate), "cacert" (and "clientcert"/"clientkey"). SNI is sniCommand(); the local time is
/// never ignored ("ignorelocaltime" is not sent: a wrong clock is reported instead).
std::vector<AtCommandStep> sslContextSteps(bool client_certificate,
                                           std::chrono::milliseconds timeout);
/// AT+QFUPL="UFS:<name>",<n>,<timeout s>
std::string qfuplCommand(std::string_view name, size_t n, int timeout_s);
std::string qfdelCommand(std::string_view name);

// ---- MQTT -------------------------------------------------------------------------------------

/// The AT+QMTCFG settings of the client: "version" 4 (3.1.1; the default would be 3.1),
/// "pdpcid", "ssl" (on with the SSL context, or off), "keepalive", "session", "timeout"
/// (packet timeout, 3 retries, no notice), "recv/mode" 0,1 (the payload in the URC, with its
/// length).
std::vector<AtCommandStep> mqttConfigSteps(bool tls, int keep_alive_s, bool clean_session,
                                           int timeout_s, std::chrono::milliseconds timeout);
std::string qmtopenCommand(const std::string& host, uint16_t port);
/// AT+QMTCONN=0,"<client id>"[,"<user>","<password>"] (the password is a secret: the command
/// line is never logged as is).
std::string qmtconnCommand(const std::string& client_id, const std::string& user,
                           const std::string& password);
std::string qmtpubCommand(int msg_id, int qos, bool retain, const std::string& topic, size_t n);
std::string qmtsubCommand(int msg_id, const std::string& filter, int qos);
std::string qmtunsCommand(int msg_id, const std::string& filter);
std::string qmtdiscCommand();
std::string qmtcloseCommand();

}  // namespace uplinkd::plugins::quectel_bg9x
