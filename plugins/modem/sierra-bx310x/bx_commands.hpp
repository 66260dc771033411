// SPDX-License-Identifier: Apache-2.0
// The BX310x command set as data: bring-up steps, the station (Wi-Fi) commands, the certificate
// store, the MQTT client (AT+KMQTT*), timeouts and limits, and builders for the commands that
// take arguments. Facts: shared/reference/at-commands.md §2.5-2.7, §3, §7 (sources SW-BX,
// LIB-BX, Z-HL78M, KR-HL78). Thread: any (constants and pure functions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/at_steps.hpp"
#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using namespace std::chrono_literals;
using modem_common::AtStep;
using modem_common::StepPolicy;

/// The module's boot indication (after power-on, AT&F or a crash).
inline constexpr std::string_view kBootIndications[] = {"READY"};

/// Bring-up, in order: the module answers, echo off, numeric +CME ERROR codes (the 9xx K-command
/// codes exist only as numbers), station mode (3, the default, is station + access point).
inline constexpr auto kInitSteps = modem_common::joinedTable<AtStep>(
    {{"AT", 2s, StepPolicy::Required}}, modem_common::kEchoOffNumericErrors,
    {{"AT+SRWCFG=1", 5s, StepPolicy::Required}});

/// Connects the station with the stored SSID/passphrase; the outcome comes as
/// "+SRWSTASTATUS: 1,..." (associated) or "+SRWSTASTATUS: 0,<reason>", then "+SRWSTAIP: ...".
inline constexpr AtStep kStationConnect = {"AT+SRWSTACON=1", 10s, StepPolicy::Required};

/// The one MQTT session id the BX gives (+KMQTTCFG: 1).
inline constexpr int kMqttSession = 1;
/// MQTT protocol level for AT+KMQTTCFG: 4 = MQTT 3.1.1 (3 would be MQTT 3.1). Not a TLS flag.
inline constexpr int kMqttVersion311 = 4;
/// Subscriptions the module's client holds at once (a 6th gives ERROR in Sierra's scripts).
inline constexpr size_t kMaxSubscriptions = 5;
/// Payloads up to this size that can go in a quoted argument use AT+KMQTTPUB (no data mode);
/// anything else uses AT+KMQTTPUBSTART with the exact bytes.
inline constexpr size_t kMaxQuotedPayload = 256;
/// Topic and host lengths the driver gives the module (quoted AT arguments).
inline constexpr size_t kMaxTopicBytes = 256;
inline constexpr size_t kMaxHostLength = 255;
/// The data-mode escape that ends KCERTSTORE / KPRIVKSTORE / KMQTTPUBSTART data.
inline constexpr std::string_view kEscape = "+++";
/// KCERTSTORE takes 1..3000 bytes; root CA indexes 0..2.
inline constexpr size_t kMaxCertBytes = 3000;
inline constexpr size_t kMaxRootCas = 3;
/// The slot of the client certificate and of its key.
inline constexpr int kLocalIndex = 0;

/// Frees a session of the module's MQTT client left from before (a daemon restart keeps the
/// module's session); the answer also tells whether the firmware has the MQTT client at all.
inline constexpr AtStep kMqttClose = {"AT+KMQTTCLOSE=1", 5s, StepPolicy::Optional};
inline constexpr AtStep kMqttDelete = {"AT+KMQTTDEL=1", 5s, StepPolicy::Optional};
inline constexpr AtStep kMqttConnect = {"AT+KMQTTCNX=1", 10s, StepPolicy::Required};

/// The store listings; AT+KPRIVKSTORE? is expected to answer +CME ERROR: 918 (keys cannot be
/// read back).
inline constexpr AtStep kCertStoreRead = {"AT+KCERTSTORE?", 10s, StepPolicy::Required};
inline constexpr AtStep kKeyStoreRead = {"AT+KPRIVKSTORE?", 5s, StepPolicy::Optional};
/// The module's clock, read when a TLS connection is closed at once (certificate validity).
inline constexpr AtStep kClockRead = {"AT+CCLK?", 2s, StepPolicy::Optional};

/// `uplinkctl modem info`: identity, then the station state (an RSSI is taken from it when the
/// firmware adds one), then the store.
inline constexpr AtStep kInfoSteps[] = {
    {"ATI", 2s, StepPolicy::Optional},
    {"ATI3", 2s, StepPolicy::Optional},
    {"AT+SRWSTASTATUS?", 2s, StepPolicy::Optional},
    kCertStoreRead,
    kKeyStoreRead,
    kClockRead,  // for the doctor's modem.clock
};

/// Timeouts and guard times, as data. The defaults are kBxTiming; tests shorten them.
struct BxTiming {
    std::chrono::milliseconds command = 5s;      ///< plain commands
    std::chrono::milliseconds associate = 30s;   ///< AT+SRWSTACON → +SRWSTASTATUS
    std::chrono::milliseconds address = 30s;     ///< +SRWSTASTATUS: 1 → +SRWSTAIP
    std::chrono::milliseconds cert_store = 30s;  ///< one KCERTSTORE / KPRIVKSTORE data phase
    /// Silence before "+++" after certificate data: Sierra's scripts wait 1.5 s, Libelium 100 ms;
    /// the longer one (with a margin) suits both.
    std::chrono::milliseconds cert_guard = 1600ms;
    /// Pause before "+++" after KMQTTPUBSTART data (at least 100 ms, with a margin).
    std::chrono::milliseconds publish_pause = 200ms;
    std::chrono::milliseconds publish = 20s;  ///< one KMQTTPUB / KMQTTPUBSTART
    /// +KMQTT_IND: 1,4 for the oldest QoS 1 publish; without it the session is dropped, since
    /// acknowledgements are matched in order and a missing one would shift the rest.
    std::chrono::milliseconds puback = 30s;
};
inline constexpr BxTiming kBxTiming{};

// ---- commands with arguments ------------------------------------------------------------------

/// AT+SRWSTACFG="<ssid>","<psk>",1 (a secret: the channel redacts it in every message).
std::string srwstacfgCommand(const std::string& ssid, const std::string& psk);
/// AT+KCERTSTORE=0,<n>[,<index>] (root CA; index only when `index` >= 0).
std::string kcertstoreRootCommand(size_t n, int index);
/// AT+KCERTSTORE=1,<n>,<index> (client certificate).
std::string kcertstoreLocalCommand(size_t n, int index);
/// AT+KPRIVKSTORE=<index>,<n> (the key of the client certificate at `index`; UNCONFIRMED form).
std::string kprivkstoreCommand(int index, size_t n);
/// AT+KMQTTCFG=<secure>,"<host>",<port>,4,"<client id>",<keepalive>,<clean>,0,"","",0,0,
/// "<user>","<password>" (will flag 0 with empty will fields).
std::string kmqttcfgCommand(const ModemMqttConnect& c);
/// AT+KMQTTPUB=1,"<topic>",<qos>,<retain>,"<payload>" (payload safe for a quoted argument).
std::string kmqttpubCommand(const std::string& topic, int qos, bool retain,
                            const std::string& payload);
/// AT+KMQTTPUBSTART=1,"<topic>",<qos>,<retain> (the payload follows CONNECT).
std::string kmqttpubstartCommand(const std::string& topic, int qos, bool retain);
std::string kmqttsubCommand(const std::string& filter, int qos);
std::string kmqttunsubCommand(const std::string& filter);

}  // namespace uplinkd::plugins::sierra_bx310x
