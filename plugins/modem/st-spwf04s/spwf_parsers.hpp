// SPDX-License-Identifier: Apache-2.0
// Pure parsers for SPWF04S answers and events (AT-S.On, AT-S.Reading, AT-S.Query, AT-S.Var,
// AT-S.ERROR, +WIND:<code>:... with the socket, Wi-Fi and MQTT events), the tables that turn
// AT-S.ERROR codes and WIND codes into plain words with the fix, and the byte count of the
// counted MQTT message event. Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::st_spwf04s {

/// "+WIND:<code>:<text>[:<param>...]".
struct Wind {
    int code = 0;
    std::string text;                 ///< "WiFi Up", "Socket Closed", ...
    std::vector<std::string> params;  ///< the fields after the text, split at ':'
};
Result<Wind> parseWind(std::string_view line);

/// "AT-S.ERROR:<code>:<text>".
struct ModuleError {
    int code = 0;
    std::string text;
};
Result<ModuleError> parseModuleError(std::string_view line);

/// The socket id of "AT-S.On:<ip>:<id>" among the lines of AT+S.SOCKON.
Result<int> parseSockOn(const std::vector<std::string>& lines);
/// The MQTT client id of "AT-S.On:<id>" among the lines of AT+S.MQTTCONN; nothing when the
/// module printed none (then the client is 0).
std::optional<int> parseMqttOn(const std::vector<std::string>& lines);
/// n of "AT-S.Reading:<n>:<cumulated>" (the raw bytes that follow); 0 for anything else.
size_t readingCount(const std::string& line);
/// n of "AT-S.Query:<n>" among the lines of AT+S.SOCKQ.
Result<size_t> parseSockQuery(const std::vector<std::string>& lines);
/// "AT-S.Var:<name>=<value>" → {name, value}.
std::optional<std::pair<std::string, std::string>> parseVar(std::string_view line);

/// "+WIND:55:Pending Data:<id>:<bytes this burst>:<cumulated>".
struct PendingData {
    int socket = 0;
    size_t bytes = 0;
    size_t cumulated = 0;
};
Result<PendingData> parsePendingData(std::string_view line);

/// "+WIND:58:Socket Closed:<id>[:<reason>]".
struct SocketClosed {
    int socket = 0;
    int reason = -1;  ///< -1: not given
};
Result<SocketClosed> parseSocketClosed(std::string_view line);

/// "+WIND:86:MQTT Published:<client>:<topic>:<len>" (then <len> raw bytes). The topic may hold
/// ':' (the client is the first field, the length the last).
struct MqttMessageHeader {
    int client = 0;
    std::string topic;
    size_t length = 0;
};
Result<MqttMessageHeader> parseMqttMessage(std::string_view line);
/// The raw bytes that follow a "+WIND:86:" line (0 when it does not parse): for the channel.
size_t mqttMessageCount(const std::string& line);

/// "+WIND:87:MQTT Closed:<client>[:<reason>]" → the client id.
Result<int> parseMqttClosed(std::string_view line);

/// One credential of the AT+S.TLSCERT=content,1 listing: its type ("ca", "cert" or "key") and
/// the line as the module wrote it. The listing's layout is UNCONFIRMED (README): a line counts
/// when it holds one of the type names as a word.
struct StoredCredential {
    std::string type;
    std::string line;
};
std::vector<StoredCredential> parseStoreListing(const std::vector<std::string>& lines);

/// Plain words with the fix for an AT-S.ERROR code; empty for an unknown one.
std::string errorCodeWords(int code);
/// Plain words with the fix for a WIND code; empty for one that needs none.
std::string windWords(int code);
/// Plain words for the reason of "+WIND:58:Socket Closed:<id>:<reason>".
std::string socketCloseReasonWords(int reason);
/// Plain words for any SPWF04 error or event line: "AT-S.ERROR:<n>:<text>", "+WIND:<n>:...",
/// "ERROR".
std::string explainLine(std::string_view line);

}  // namespace uplinkd::plugins::st_spwf04s
