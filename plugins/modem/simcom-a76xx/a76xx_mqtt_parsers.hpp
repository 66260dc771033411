// SPDX-License-Identifier: Apache-2.0
// Pure parsers and tables of the A76xx MQTT client (AT+CMQTT*): the result and event lines, the
// incoming-message URCs and their assembly from counted blocks, the CMQTT <err> table (SC-MAN
// ch. 18.3) with plain words and the fix, and explainMqttLine() for any +CMQTT line.
// Thread: any (pure functions; MqttRxAssembler is a value owned by one thread).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::simcom_a76xx {

/// "+CMQTTSTART: <err>" / "+CMQTTSTOP: <err>" (`prefix` says which) → err.
Result<int> parseMqttCode(std::string_view line, std::string_view prefix);

/// Client `client` in an AT+CMQTTACCQ? answer ("+CMQTTACCQ: <idx>,\"<client id>\",<type>"):
/// true when acquired (a client id is set), nothing when the answer does not say.
std::optional<bool> parseMqttAcquired(const std::vector<std::string>& lines, int client);

/// Client `client` in an AT+CMQTTDISC? answer ("+CMQTTDISC: <idx>,<0 connected|1
/// disconnected>"): true when connected, nothing when the answer does not say.
std::optional<bool> parseMqttConnected(const std::vector<std::string>& lines, int client);

struct MqttRxStart {
    int client = 0;
    size_t topic_total = 0;
    size_t payload_total = 0;
};
/// "+CMQTTRXSTART: <idx>,<topic_total_len>,<payload_total_len>".
Result<MqttRxStart> parseMqttRxStart(std::string_view line);

struct MqttRxBlock {
    int client = 0;
    size_t length = 0;  ///< raw bytes that follow the line
};
/// "+CMQTTRXTOPIC: <idx>,<len>" / "+CMQTTRXPAYLOAD: <idx>,<len>" (`prefix` says which).
Result<MqttRxBlock> parseMqttRxBlock(std::string_view line, std::string_view prefix);
/// The byte count of a "+CMQTTRXTOPIC:" / "+CMQTTRXPAYLOAD:" line; 0 when it is malformed.
size_t mqttRxBlockLength(std::string_view line);

/// "+CMQTTRXEND: <idx>" → idx.
Result<int> parseMqttRxEnd(std::string_view line);

/// One row of the CMQTT <err> table.
struct MqttErrorInfo {
    int err = 0;
    std::string_view code;   ///< the error code a failure with it gets ("mqtt_tls", ...)
    std::string_view words;  ///< what it means
    std::string_view fix;    ///< what to do; empty when there is nothing to say
};
/// The row for `err` (0-35), or nullptr.
const MqttErrorInfo* mqttErrorInfo(int err);
/// "<words>: <fix>" for `err`, or "MQTT error <err>" for one outside the table.
std::string mqttErrorWords(int err);

/// The failure of a connect that ended in "+CMQTTCONNECT: <idx>,<err>" (err != 0) to `server`
/// ("host:port"): "mqtt_connack_<n>" for the broker's refusals (27-31 = CONNACK 1-5), else the
/// table's code; plain words with the fix, and the line.
Error mqttConnectError(int err, std::string_view line, const std::string& server);

/// Plain words for "+CMQTTCONNLOST: <idx>,<cause>" (1 closed by the peer, 2 reset, 3 network
/// closed).
std::string mqttLostWords(int cause);

/// Plain words for any +CMQTT line (results, events); empty when `line` is not one.
std::string explainMqttLine(std::string_view line);

/// Puts incoming messages together: "+CMQTTRXSTART" announces the totals, "+CMQTTRXTOPIC" and
/// "+CMQTTRXPAYLOAD" blocks (their counted bytes) fill them in order, "+CMQTTRXEND" ends the
/// message. Each call returns nothing while a message is under way, the message when it ends
/// complete, or an error naming why a message was dropped (blocks that do not add up to the
/// totals, out of order, for another client, or larger than kMqttMaxIncoming).
class MqttRxAssembler {
  public:
    struct Message {
        std::string topic;
        std::string payload;
    };
    using Outcome = std::optional<Result<Message>>;

    explicit MqttRxAssembler(int client) : client_(client) {}
    Outcome start(std::string_view line);
    Outcome topic(std::string_view line, std::string_view bytes);
    Outcome payload(std::string_view line, std::string_view bytes);
    Outcome end(std::string_view line);
    /// Forgets a message under way (the connection went away).
    void reset();

  private:
    Outcome drop(std::string why);
    Outcome block(std::string_view line, std::string_view prefix, std::string_view bytes,
                  bool is_topic);

    int client_;
    std::optional<MqttRxStart> current_;
    std::string topic_;
    std::string payload_;
};

}  // namespace uplinkd::plugins::simcom_a76xx
