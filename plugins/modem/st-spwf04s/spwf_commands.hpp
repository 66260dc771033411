// SPDX-License-Identifier: Apache-2.0
// The SPWF04S command set (AT+S.) as data: final result forms, boot indications, bring-up steps,
// timeouts and limits, and builders for the commands that take arguments. Facts:
// shared/reference/at-commands.md §4, §7, §8 (sources XCUBE, MBED-SPWF, GHI, SPWF-CON, SPWF-USR);
// the choices where the reference is open are in the plugin README. Thread: any (constants and
// pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/at_steps.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::st_spwf04s {

using namespace std::chrono_literals;
using modem_common::AtStep;
using modem_common::StepPolicy;

/// Final results of the SPWF04 grammar (not V.250): success and failure with code and text.
inline constexpr std::string_view kFinalOk = "AT-S.OK";
inline constexpr std::string_view kFinalError = "AT-S.ERROR:";

/// Boot indications: console up, Wi-Fi hardware started, reset (AT+S.RESET or the reset line).
inline constexpr std::string_view kBootPrefixes[] = {"+WIND:0:", "+WIND:32:", "+WIND:2:"};

/// Every asynchronous event starts with this ("+WIND:<code>:<text>[:<params>]").
inline constexpr std::string_view kWindPrefix = "+WIND:";
/// An MQTT message from the broker: "+WIND:86:MQTT Published:<client>:<topic>:<len>" then <len>
/// raw bytes (the layout after the code is UNCONFIRMED: README).
inline constexpr std::string_view kMqttDataPrefix = "+WIND:86:";

/// WIND codes the driver acts on.
enum WindCode : int {
    kWindConsoleActive = 0,
    kWindReset = 2,
    kWindHwFailure = 5,
    kWindHardFault = 8,
    kWindWifiUp = 24,
    kWindHwStarted = 32,
    kWindDeauthentication = 40,
    kWindJoinFailed = 41,
    kWindNetworkLost = 33,
    kWindPendingData = 55,
    kWindSocketClosed = 58,
    kWindMqttPublished = 86,
    kWindMqttClosed = 87,
};

/// Sockets: one AT+S.SOCKW carries at most 730 bytes: mbed's SPWFSA04 driver splits writes at
/// 730 bytes, the largest write known to work on real modules (the module's console buffer);
/// nothing larger is confirmed, and 730 bytes cost 64 ms at 115200 baud, so the command overhead
/// (~20 bytes) stays under 3 %. One AT+S.SOCKR asks for at most 1460 (one TCP segment); host
/// names over 128 characters are refused.
inline constexpr modem_common::SocketLimits kSocketLimits{730, 1460, 128};
/// Socket ids 0..7.
inline constexpr int kMaxSocketId = 7;
/// The module's MQTT client: the largest payload and topic sent (UNCONFIRMED: README).
inline constexpr size_t kMqttMaxPayload = 4096;
inline constexpr size_t kMqttMaxTopic = 256;

/// Bring-up before the Wi-Fi settings: echo off, every WIND on (a zero mask turns none off).
/// The WIND masks are optional: older firmware may not know a mask, and its defaults report
/// the events used here.
inline constexpr AtStep kInitSteps[] = {
    {"AT+S.SCFG=console_echo,0", 2s, StepPolicy::Required},
    {"AT+S.SCFG=console_wind_off_low,0", 2s, StepPolicy::Optional},
    {"AT+S.SCFG=console_wind_off_medium,0", 2s, StepPolicy::Optional},
    {"AT+S.SCFG=console_wind_off_high,0", 2s, StepPolicy::Optional},
};

/// Station mode (wifi_mode 1).
inline constexpr AtStep kStationMode = {"AT+S.SCFG=wifi_mode,1", 2s, StepPolicy::Required};
/// Leaves the network first, so that the new settings apply and "+WIND:24:WiFi Up" comes again.
inline constexpr AtStep kWifiOff = {"AT+S.WIFI=0", 5s, StepPolicy::Optional};
inline constexpr AtStep kWifiOn = {"AT+S.WIFI=1", 5s, StepPolicy::Required};

/// Empties the TLS credential store before provisioning (the option is UNCONFIRMED: README).
inline constexpr AtStep kTlsCleanStore = {"AT+S.TLSCERT=clean,all", 5s, StepPolicy::Optional};
/// Lists the stored TLS credentials.
inline constexpr std::string_view kTlsListStore = "AT+S.TLSCERT=content,1";

/// Timeouts, as data. The defaults are kSpwfTiming; tests shorten them.
struct SpwfTiming {
    std::chrono::milliseconds command = 5s;      ///< plain commands
    std::chrono::milliseconds wifi_up = 45s;     ///< AT+S.WIFI=1 → +WIND:24:WiFi Up
    std::chrono::milliseconds connect = 40s;     ///< AT+S.SOCKON (DNS, TCP, TLS handshake)
    std::chrono::milliseconds send = 10s;        ///< one AT+S.SOCKW
    std::chrono::milliseconds receive = 10s;     ///< one AT+S.SOCKR
    std::chrono::milliseconds cert_store = 15s;  ///< one AT+S.TLSCERT upload
    std::chrono::milliseconds mqtt_connect = 45s;
    std::chrono::milliseconds mqtt_publish = 20s;
};
inline constexpr SpwfTiming kSpwfTiming{};

// ---- commands with arguments ------------------------------------------------------------------

/// AT+S.SCFG=wifi_priv_mode,<2 WPA/WPA2 personal | 0 open>.
std::string privModeCommand(bool open_network);
/// AT+S.SCFG=wifi_wpa_psk_text,<passphrase> (a secret: the channel redacts AT+S.SCFG).
std::string pskCommand(const std::string& psk);
/// AT+S.SSIDTXT=<ssid>
std::string ssidCommand(const std::string& ssid);
/// AT+S.SOCKON=<host>,<port>,,t for a plain socket (the TLS-name field left empty, as GHI's
/// SPWF04Sx driver sends it: 4 bytes fewer than mbed's NULL); AT+S.SOCKON=<host>,<port>,<host>,s
/// for TLS by the module (the host as the name to check: the TLS form is UNCONFIRMED, README).
std::string sockonCommand(const std::string& host, uint16_t port, bool tls);
/// AT+S.SOCKW=<id>,<n>: exactly n raw bytes follow the command line.
std::string sockwCommand(int id, size_t n);
/// AT+S.SOCKQ=<id>: the bytes waiting to be read.
std::string sockqCommand(int id);
/// AT+S.SOCKR=<id>,<n>: at most n bytes.
std::string sockrCommand(int id, size_t n);
/// AT+S.SOCKR=<id>: every byte the module holds (the length left out; the answer's
/// AT-S.Reading:<n>:<cum> still gives the count the bytes are read by).
std::string sockrAllCommand(int id);
std::string sockcCommand(int id);
/// AT+S.TLSCERT=<ca|cert|key>,<n>: exactly n bytes of PEM follow the command line.
std::string tlscertCommand(std::string_view type, size_t n);

/// AT+S.MQTTCONN=<host>,<port>,<path>,<tls 0|1>,<user>,<pwd>,<client id>,<keepalive> (the order
/// of working code: UNCONFIRMED, README) from `p` (checked by the driver: no ',' or control
/// characters; the password is secret: the channel redacts AT+S.MQTTCONN); the path is the
/// WebSocket path (empty: MQTT over TCP), the keep-alive is kept within 0-65535 s; retry and the
/// LWT fields after it are left out.
std::string mqttConnCommand(const ModemMqttConnect& p);
/// AT+S.MQTTPUB=<id>,<topic>,<qos>,<retain 0|1>,<n>: exactly n raw bytes follow.
std::string mqttPubCommand(int client, const std::string& topic, int qos, bool retain, size_t n);
std::string mqttSubCommand(int client, const std::string& filter, int qos);
std::string mqttUnsubCommand(int client, const std::string& filter);
std::string mqttDiscCommand(int client);

}  // namespace uplinkd::plugins::st_spwf04s
