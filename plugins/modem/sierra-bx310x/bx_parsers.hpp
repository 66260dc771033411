// SPDX-License-Identifier: Apache-2.0
// Pure parsers for BX310x answers and URCs: the station (+SRWSTASTATUS, +SRWSTAIP), the MQTT
// client (+KMQTTCFG, +KMQTT_IND, incoming +KMQTT_DATA and the older +KMQTTSUB form), the
// certificate store listing (AT+KCERTSTORE?) and the clock (+CCLK). No I/O.
// Thread: any (pure functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/generic_at.hpp"
#include "common/kcert_store.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::StoredCert;

/// "+SRWSTASTATUS: 1,"<ssid>","<mac>",<channel>,<auth>[,<rssi>]" (associated) or
/// "+SRWSTASTATUS: 0,<reason>" (not associated, with the IEEE 802.11 reason when given).
struct StaStatus {
    bool associated = false;
    int reason = -1;  ///< -1: none given
    std::string ssid;
    std::string mac;
    int channel = 0;
    std::optional<int> rssi_dbm;  ///< only when the firmware adds a negative dBm field
};
Result<StaStatus> parseStaStatus(std::string_view line);

/// "+SRWSTAIP: "<ip>","<mask>","<gateway>"".
struct StaIp {
    std::string ip;
    std::string mask;
    std::string gateway;
};
Result<StaIp> parseStaIp(std::string_view line);

/// "+KMQTTCFG: <id>" → the session id.
Result<int> parseKmqttCfg(std::string_view line);

/// "+KMQTT_IND: <id>,<code>": 0 aborted, 1 connected, 2 SUBACK, 3 UNSUBACK, 4 PUBACK, 5 error.
using KmqttInd = modem_common::SessionCode;
Result<KmqttInd> parseKmqttInd(std::string_view line);

/// An incoming message: "+KMQTT_DATA: <id>,"<topic>","<data>"" (newer firmware) or
/// "+KMQTTSUB: "<topic>","<message>"" (older firmware). The data is what stands between the
/// quote after the topic's comma and the line's last quote (it may hold quotes itself).
struct Incoming {
    std::string topic;
    std::string payload;
};
Result<Incoming> parseIncoming(std::string_view line);
/// True for the lines parseIncoming() reads.
bool isIncoming(std::string_view line);

/// "root_cert,<index>,<len>" / "local_cert,<index>,<len>" / "private_key,<index>,<len>" entries,
/// each on its own "+KCERTSTORE: " line or after one "+KCERTSTORE:" header, each optionally
/// followed by its text (a key never is). An empty store gives none.
Result<std::vector<StoredCert>> parseCertStoreList(const std::vector<std::string>& lines);

/// "+CCLK: "yy/MM/dd,hh:mm:ss[+-zz]"" → seconds since 1970 (UTC; zz counts quarter hours).
Result<int64_t> parseCclk(std::string_view line);

}  // namespace uplinkd::plugins::sierra_bx310x
