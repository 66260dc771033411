// SPDX-License-Identifier: Apache-2.0
// The A76xx MQTT client's command set (AT+CMQTT*) as data: the client index, the module's
// limits, the URC prefixes, the connect set-up sequence, and builders for the commands that take
// arguments. Facts: shared/reference/at-commands.md §5.5 and §7 (SC-MAN ch. 18, SC-MQTT,
// LILY-MQTT). Thread: any (constants and pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/at_steps.hpp"
#include "uplinkd/modem_mqtt.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using namespace std::chrono_literals;

/// The module has clients 0 and 1; uplinkd uses client 0.
inline constexpr int kMqttClient = 0;
/// AT+CMQTTTOPIC / AT+CMQTTSUB take topics of 1-1024 bytes; AT+CMQTTPAYLOAD 1-10240 bytes.
inline constexpr size_t kMqttMaxTopic = 1024;
inline constexpr size_t kMqttMaxPayload = 10240;
/// AT+CMQTTACCQ client id 1-128; AT+CMQTTCONNECT user and password 1-256 each, server string
/// ("tcp://host:port") 9-256.
inline constexpr size_t kMqttMaxClientId = 128;
inline constexpr size_t kMqttMaxCredential = 256;
inline constexpr size_t kMqttMaxServer = 256;
/// AT+CMQTTCFG "version" 4 = MQTT 3.1.1. The module's default, 3, is MQTT 3.1, which most
/// brokers refuse: it is set before every connect, never left to the default.
inline constexpr int kMqttVersion = 4;
/// AT+CMQTTCONNECT keep-alive 1-64800 s; AT+CMQTTCFG "optimeout" 20-120 s.
inline constexpr int kMqttMinKeepAlive = 1;
inline constexpr int kMqttMaxKeepAlive = 64800;
inline constexpr int kMqttMinOpTimeout = 20;
inline constexpr int kMqttMaxOpTimeout = 120;
/// AT+CMQTTPUB <pub_timeout> (1-180 s; the application note uses 60) and AT+CMQTTDISC
/// <timeout> (1-180 s).
inline constexpr int kMqttPubTimeout = 60;
inline constexpr int kMqttDiscTimeout = 10;
/// The highest QoS uplinkd asks of the module (it takes 0-2).
inline constexpr int kMqttMaxQos = 1;
/// Incoming messages larger than this are dropped (the module announces the total first).
inline constexpr size_t kMqttMaxIncoming = size_t{1} << 20;

/// Starts the MQTT service ("+CMQTTSTART: <err>" follows). Until it runs, every other CMQTT
/// command answers ERROR; when it runs already, this one does.
inline constexpr modem_common::AtStep kMqttStart = {"AT+CMQTTSTART", 5s};
/// Stops it ("+CMQTTSTOP: <err>" follows), once every client is released (disconnect()).
inline constexpr modem_common::AtStep kMqttStop = {"AT+CMQTTSTOP", 5s};
/// A harmless read: which clients are acquired. ERROR while the service is not running.
inline constexpr modem_common::AtStep kMqttAcquiredRead = {"AT+CMQTTACCQ?", 5s};
/// Which clients are connected ("+CMQTTDISC: <idx>,<0 connected|1 disconnected>").
inline constexpr modem_common::AtStep kMqttConnectedRead = {"AT+CMQTTDISC?", 5s};
/// The words for firmware whose AT+CMQTT* commands all answer ERROR.
inline constexpr std::string_view kNoMqttClient =
    "this firmware has no MQTT client (AT+CMQTTSTART and AT+CMQTTACCQ? answered ERROR): use "
    "mqtt = \"uplinkd\" for the routes of this uplink (uplinkd then speaks MQTT over the "
    "module's sockets)";

/// Result and event lines of the MQTT client (plain URCs).
inline constexpr const char* kMqttUrcPrefixes[] = {
    "+CMQTTSTART:", "+CMQTTSTOP:", "+CMQTTACCQ:",    "+CMQTTCONNECT:", "+CMQTTDISC:",
    "+CMQTTREL:",   "+CMQTTPUB:",  "+CMQTTSUB:",     "+CMQTTUNSUB:",   "+CMQTTCONNLOST:",
    "+CMQTTNONET",  "+CMQTTPING:", "+CMQTTRXSTART:", "+CMQTTRXEND:",
};
/// Lines followed by exactly <len> raw bytes of an incoming message.
inline constexpr std::string_view kMqttRxTopic = "+CMQTTRXTOPIC:";
inline constexpr std::string_view kMqttRxPayload = "+CMQTTRXPAYLOAD:";

/// Why the module's client cannot make this connection, or nothing: TLS options it does not
/// have (another server name than the host, ALPN), WebSocket, or values it cannot take in its
/// quoted arguments (host, client id, user name, password: no '"', no control characters,
/// within the module's lengths). The password never appears in the error.
std::optional<Error> mqttConnectProblem(const ModemMqttConnect& params);

/// "tcp://<host>:<port>": the server string, also for TLS (TLS comes from AT+CMQTTACCQ
/// server_type 1 and AT+CMQTTSSLCFG).
std::string mqttServer(const ModemMqttConnect& params);
/// AT+CMQTTCFG "optimeout" for a connect timeout of `timeout_s` (20-120).
int mqttOpTimeout(int timeout_s);

/// What follows the service start and the release of an earlier client, in order:
/// AT+CMQTTACCQ=0,"<client id>",<0|1>, AT+CMQTTSSLCFG=0,<ssl context> (TLS only),
/// AT+CMQTTCFG="version",0,4 (always), AT+CMQTTCFG="optimeout",0,<s> (optional: older firmware
/// may not know it). Then AT+CMQTTCONNECT.
std::vector<modem_common::AtCommandStep> mqttSetupSteps(const ModemMqttConnect& params,
                                                        std::chrono::milliseconds timeout);
/// AT+CMQTTCONNECT=0,"tcp://<host>:<port>",<keepalive>,<clean>[,"<user>"[,"<password>"]]
std::string cmqttConnectCommand(const ModemMqttConnect& params);
std::string cmqttDiscCommand();
std::string cmqttRelCommand();
/// AT+CMQTTTOPIC=0,<len> and AT+CMQTTPAYLOAD=0,<len>: the bytes follow the ">" prompt.
std::string cmqttTopicCommand(size_t length);
std::string cmqttPayloadCommand(size_t length);
/// AT+CMQTTPUB=0,<qos>,60,<retain>
std::string cmqttPubCommand(int qos, bool retain);
/// AT+CMQTTSUB=0,<len>,<qos> and AT+CMQTTUNSUB=0,<len>,0: the topic follows the ">" prompt.
std::string cmqttSubCommand(size_t length, int qos);
std::string cmqttUnsubCommand(size_t length);

/// Result prefixes for client 0 ("+CMQTTPUB: 0,").
std::string mqttResultPrefix(std::string_view command);

/// What the module's client can carry, for ModemMqtt::limits().
ModemMqttLimits mqttLimits();

}  // namespace uplinkd::plugins::simcom_a76xx
