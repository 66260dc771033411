// SPDX-License-Identifier: Apache-2.0
#include "a76xx_mqtt_parsers.hpp"

#include <array>

#include "a76xx_mqtt_commands.hpp"
#include "a76xx_parsers.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::fieldsAfter;
using modem_common::intsAfter;
using modem_common::parseInt;
using modem_common::printable;
using modem_common::trimLine;
using modem_common::unexpectedReply;
using modem_common::unquote;

namespace {

constexpr int64_t kMaxLength = int64_t{1} << 24;

// CMQTT <err> [SC-MAN ch. 18.3].
constexpr std::array<MqttErrorInfo, 36> kMqttErrors = {{
    {0, "", "success", ""},
    {1, "mqtt_error", "the operation failed", ""},
    {2, "mqtt_error", "bad UTF-8 string (a topic or the client id is not valid UTF-8)",
     "use UTF-8 topics and client ids"},
    {3, "mqtt_network",
     "the module could not connect its socket to the broker (refused or unreachable)",
     "check the broker host and port, and that the broker listens there"},
    {4, "mqtt_network", "the module could not create a socket",
     "check that the module has a data connection; restart it"},
    {5, "mqtt_error", "the module could not close its socket", ""},
    {6, "mqtt_error", "receiving a message failed", ""},
    {7, "mqtt_network", "the module could not open the network (PDP context)",
     "check apn, apn_user and apn_password_file, and the registration"},
    {8, "mqtt_error", "the module could not close the network", ""},
    {9, "mqtt_network", "the network is not open",
     "the module has no data connection: check the registration and the APN"},
    {10, "mqtt_error", "client index error", ""},
    {11, "mqtt_not_connected", "no connection to the broker",
     "connect first (the connection may have been lost)"},
    {12, "mqtt_error", "invalid parameter", ""},
    {13, "mqtt_unsupported", "operation not supported by this firmware's MQTT client",
     "use mqtt = \"uplinkd\""},
    {14, "mqtt_busy", "the client is busy", "retry later"},
    {15, "mqtt_network", "the connection request failed",
     "check the broker host and port, and that the port speaks MQTT"},
    {16, "mqtt_network", "sending on the socket failed", "the link dropped: connect again"},
    {17, "mqtt_timeout", "timeout: the broker did not answer in time",
     "check that the broker is reachable and that the port speaks MQTT (with TLS when tls is "
     "set)"},
    {18, "bad_topic", "the topic is empty", "give a topic"},
    {19, "mqtt_busy", "the client index is in use",
     "release it first (AT+CMQTTDISC, AT+CMQTTREL; uplinkd does before each connect)"},
    {20, "mqtt_error", "the client is not acquired (AT+CMQTTACCQ)", ""},
    {21, "mqtt_error", "the client is not released (AT+CMQTTREL)", ""},
    {22, "mqtt_error", "a length is out of range",
     "topics take 1 to 1024 bytes, payloads up to 10240"},
    {23, "mqtt_error", "the network is already open", ""},
    {24, "mqtt_error", "packet failure (a malformed MQTT packet)", ""},
    {25, "mqtt_dns", "DNS error: the module could not resolve the broker's host name",
     "check the broker host name and the module's data connection"},
    {26, "mqtt_network", "the broker closed the socket",
     "a broker that wants TLS on this port (set tls), a client certificate, or other "
     "credentials closes the connection: check its log"},
    {27, "mqtt_connack_1",
     "the broker refused the connection: unacceptable protocol version (CONNACK 1)",
     "the broker does not take MQTT 3.1.1 (uplinkd sets AT+CMQTTCFG \"version\" 4)"},
    {28, "mqtt_connack_2", "the broker refused the connection: identifier rejected (CONNACK 2)",
     "check the client id: the broker does not allow it"},
    {29, "mqtt_connack_3", "the broker refused the connection: server unavailable (CONNACK 3)",
     "the broker takes no connections now; uplinkd tries again"},
    {30, "mqtt_connack_4",
     "the broker refused the connection: bad user name or password (CONNACK 4)",
     "check the username and password_file of the cloud section (Azure: the SAS token)"},
    {31, "mqtt_connack_5", "the broker refused the connection: not authorized (CONNACK 5)",
     "the broker's policy does not allow this client: check the certificate's policy (AWS), "
     "the SAS token (Azure) or the broker's ACL"},
    {32, "mqtt_tls", "the TLS handshake with the broker failed in the module",
     "the usual causes are a CA in the module (tls.ca_file) that is not the root CA of the "
     "broker's chain, a broker that needs SNI (uplinkd turns \"enableSNI\" on), and a client "
     "certificate the broker wants (tls.cert_file and tls.key_file, provisioned)"},
    {33, "mqtt_tls",
     "certificate not set: the SSL context names a certificate file missing from the module",
     "provision tls.ca_file (and tls.cert_file and tls.key_file if the broker wants them)"},
    {34, "mqtt_tls", "the module could not open the SSL session",
     "check the certificates in the module (provision them again) and restart the module"},
    {35, "mqtt_error", "disconnecting from the broker failed", ""},
}};

std::string withFix(const MqttErrorInfo& e) {
    return e.fix.empty() ? std::string(e.words) : std::string(e.words) + ": " + std::string(e.fix);
}

}  // namespace

Result<int> parseMqttCode(std::string_view line, std::string_view prefix) {
    const auto v = intsAfter(line, prefix, {{0, 255}});
    if (!v) {
        return unexpectedReply(prefix, line);
    }
    return static_cast<int>((*v)[0]);
}

std::optional<bool> parseMqttAcquired(const std::vector<std::string>& lines, int client) {
    for (const auto& line : lines) {
        const auto f = fieldsAfter(line, "+CMQTTACCQ:");
        if (!f || f->size() < 2 || parseInt((*f)[0], 0, 1) != client) {
            continue;
        }
        return !unquote((*f)[1]).empty();
    }
    return std::nullopt;
}

std::optional<bool> parseMqttConnected(const std::vector<std::string>& lines, int client) {
    for (const auto& line : lines) {
        const auto f = fieldsAfter(line, "+CMQTTDISC:");
        if (!f || f->size() != 2 || parseInt((*f)[0], 0, 1) != client) {
            continue;
        }
        const auto state = parseInt((*f)[1], 0, 1);
        if (!state) {
            return std::nullopt;
        }
        return *state == 0;
    }
    return std::nullopt;
}

Result<MqttRxStart> parseMqttRxStart(std::string_view line) {
    // <client>,<topic length>,<payload length>
    const auto v = intsAfter(line, "+CMQTTRXSTART:", {{0, 1}, {0, kMaxLength}, {0, kMaxLength}});
    if (!v) {
        return unexpectedReply("+CMQTTRXSTART", line);
    }
    return MqttRxStart{static_cast<int>((*v)[0]), static_cast<size_t>((*v)[1]),
                       static_cast<size_t>((*v)[2])};
}

Result<MqttRxBlock> parseMqttRxBlock(std::string_view line, std::string_view prefix) {
    // <client>,<length>
    const auto v = intsAfter(line, prefix, {{0, 1}, {0, kMaxLength}});
    if (!v) {
        return unexpectedReply(prefix, line);
    }
    return MqttRxBlock{static_cast<int>((*v)[0]), static_cast<size_t>((*v)[1])};
}

size_t mqttRxBlockLength(std::string_view line) {
    for (const std::string_view prefix : {kMqttRxTopic, kMqttRxPayload}) {
        if (trimLine(line).starts_with(prefix)) {
            const auto b = parseMqttRxBlock(line, prefix);
            return b ? b->length : 0;
        }
    }
    return 0;
}

Result<int> parseMqttRxEnd(std::string_view line) {
    const auto v = intsAfter(line, "+CMQTTRXEND:", {{0, 1}});
    if (!v) {
        return unexpectedReply("+CMQTTRXEND", line);
    }
    return static_cast<int>((*v)[0]);
}

const MqttErrorInfo* mqttErrorInfo(int err) {
    if (err < 0 || err >= static_cast<int>(kMqttErrors.size())) {
        return nullptr;
    }
    return &kMqttErrors[static_cast<size_t>(err)];
}

std::string mqttErrorWords(int err) {
    const auto* e = mqttErrorInfo(err);
    return e ? withFix(*e) : "MQTT error " + std::to_string(err);
}

Error mqttConnectError(int err, std::string_view line, const std::string& server) {
    const auto* e = mqttErrorInfo(err);
    const std::string seen = " (" + printable(line) + ")";
    if (e == nullptr || err == 0) {
        return makeError("mqtt_error",
                         "connecting to " + server + ": MQTT error " + std::to_string(err) + seen);
    }
    return makeError(std::string(e->code), "connecting to " + server + ": " + withFix(*e) + seen);
}

// +CMQTTCONNLOST <cause>.
constexpr modem_common::CodeWords kMqttLostCauses[] = {
    {1, "the broker closed the connection"},
    {2, "the connection was reset"},
    {3, "the module's network closed"},
};

std::string mqttLostWords(int cause) {
    std::string words = modem_common::codeWords(kMqttLostCauses, cause);
    return words.empty() ? "cause " + std::to_string(cause) : words;
}

std::string explainMqttLine(std::string_view raw) {
    const std::string_view line = trimLine(raw);
    if (!line.starts_with("+CMQTT")) {
        return "";
    }
    const std::string seen = " (" + printable(line) + ")";
    if (line.starts_with("+CMQTTNONET")) {
        return "the module's MQTT client lost the network (no data connection); its MQTT service "
               "has to be started again" +
               seen;
    }
    for (const std::string_view prefix : {"+CMQTTSTART:", "+CMQTTSTOP:"}) {
        if (line.starts_with(prefix)) {
            const auto e = parseMqttCode(line, prefix);
            if (!e) {
                return printable(line);
            }
            const std::string what = prefix == "+CMQTTSTART:" ? "started" : "stopped";
            return *e == 0 ? "the MQTT service " + what + seen
                           : "the module's MQTT service could not be " + what + ": " +
                                 mqttErrorWords(*e) + seen;
        }
    }
    if (line.starts_with("+CMQTTCONNLOST:")) {
        const auto r = parseIdResult(line, "+CMQTTCONNLOST:");
        return r ? "the MQTT connection to the broker was lost: " + mqttLostWords(r->err) + seen
                 : printable(line);
    }
    struct Step {
        std::string_view prefix;
        std::string_view what;
    };
    static constexpr Step kSteps[] = {
        {"+CMQTTCONNECT:", "connecting to the broker"},
        {"+CMQTTPUB:", "publishing"},
        {"+CMQTTSUB:", "subscribing"},
        {"+CMQTTUNSUB:", "unsubscribing"},
        {"+CMQTTDISC:", "disconnecting"},
        {"+CMQTTACCQ:", "acquiring the MQTT client"},
        {"+CMQTTREL:", "releasing the MQTT client"},
        {"+CMQTTPING:", "the keep-alive (PINGREQ)"},
    };
    for (const auto& s : kSteps) {
        if (line.starts_with(s.prefix)) {
            const auto r = parseIdResult(line, s.prefix);
            if (!r) {
                return printable(line);
            }
            if (r->err == 0) {
                return std::string(s.what) + ": success" + seen;
            }
            return std::string(s.what) + " failed: " + mqttErrorWords(r->err) + seen;
        }
    }
    if (line.starts_with("+CMQTTRX")) {
        return "part of an incoming MQTT message" + seen;
    }
    return printable(line);
}

// ---- MqttRxAssembler ------------------------------------------------------------------------

MqttRxAssembler::Outcome MqttRxAssembler::drop(std::string why) {
    reset();
    return Result<Message>(fail("bad_reply", "an incoming MQTT message was dropped: " + why));
}

void MqttRxAssembler::reset() {
    current_.reset();
    topic_.clear();
    payload_.clear();
}

MqttRxAssembler::Outcome MqttRxAssembler::start(std::string_view line) {
    const bool cut = current_.has_value();
    reset();
    const auto s = parseMqttRxStart(line);
    if (!s) {
        return drop(s.error().message);
    }
    if (s->client != client_) {
        return drop("it is for MQTT client " + std::to_string(s->client));
    }
    if (s->topic_total == 0 || s->topic_total > 65535 || s->payload_total > kMqttMaxIncoming) {
        return drop("announced " + std::to_string(s->topic_total) + " topic bytes and " +
                    std::to_string(s->payload_total) + " payload bytes (at most 65535 and " +
                    std::to_string(kMqttMaxIncoming) + ")");
    }
    current_ = *s;
    if (cut) {
        return Result<Message>(fail("bad_reply",
                                    "an incoming MQTT message was dropped: a new one began "
                                    "before +CMQTTRXEND"));
    }
    return std::nullopt;
}

MqttRxAssembler::Outcome MqttRxAssembler::block(std::string_view line, std::string_view prefix,
                                                std::string_view bytes, bool is_topic) {
    if (!current_) {
        return Result<Message>(fail(
            "bad_reply", "MQTT data without +CMQTTRXSTART was dropped (" + printable(line) + ")"));
    }
    const auto b = parseMqttRxBlock(line, prefix);
    if (!b) {
        return drop(b.error().message);
    }
    if (b->client != client_ || b->length != bytes.size()) {
        return drop("a block that does not match its message (" + printable(line) + ")");
    }
    if (is_topic && !payload_.empty()) {
        return drop("topic bytes after payload bytes");
    }
    std::string& into = is_topic ? topic_ : payload_;
    const size_t total = is_topic ? current_->topic_total : current_->payload_total;
    if (into.size() + bytes.size() > total) {
        return drop(std::string(is_topic ? "topic" : "payload") + " bytes beyond the announced " +
                    std::to_string(total));
    }
    if (!is_topic && topic_.size() != current_->topic_total) {
        return drop("payload bytes before the whole topic");
    }
    into.append(bytes);
    return std::nullopt;
}

MqttRxAssembler::Outcome MqttRxAssembler::topic(std::string_view line, std::string_view bytes) {
    return block(line, kMqttRxTopic, bytes, true);
}

MqttRxAssembler::Outcome MqttRxAssembler::payload(std::string_view line, std::string_view bytes) {
    return block(line, kMqttRxPayload, bytes, false);
}

MqttRxAssembler::Outcome MqttRxAssembler::end(std::string_view line) {
    if (!current_) {
        return Result<Message>(fail("bad_reply", "+CMQTTRXEND without +CMQTTRXSTART"));
    }
    const auto e = parseMqttRxEnd(line);
    if (!e || *e != client_) {
        return drop("a malformed end (" + printable(line) + ")");
    }
    if (topic_.size() != current_->topic_total || payload_.size() != current_->payload_total) {
        return drop("it ended after " + std::to_string(topic_.size()) + " of " +
                    std::to_string(current_->topic_total) + " topic bytes and " +
                    std::to_string(payload_.size()) + " of " +
                    std::to_string(current_->payload_total) + " payload bytes");
    }
    Message m{std::move(topic_), std::move(payload_)};
    reset();
    return Result<Message>(std::move(m));
}

}  // namespace uplinkd::plugins::simcom_a76xx
