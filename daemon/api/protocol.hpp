// SPDX-License-Identifier: Apache-2.0
// The local API's wire format (docs/api.md): one JSON object per line, each request with an
// "id", answers tagged with the same id. Parsing and formatting only. Pure. Thread: any.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "uplinkd/message.hpp"
#include "uplinkd/mqtt_names.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::api {

inline constexpr int kProtocolVersion = 1;

enum class Op {
    Publish,
    Subscribe,
    Unsubscribe,
    Status,
    Ping,
    Hello,
    ModemInfo,
    ModemAt,
    DeadLetter,
    Doctor
};

struct Request {
    Op op = Op::Ping;
    nlohmann::json id;  ///< echoed back as given (number or string)
    Message message;    ///< publish: route, topic, payload, qos, retain, properties
    bool want_delivered = false;
    std::string route;   ///< subscribe / unsubscribe / status, doctor (optional)
    std::string filter;  ///< subscribe / unsubscribe
    int qos = 1;
    std::string uplink;      ///< modem_info / modem_at (optional: the only modem uplink)
    std::string command;     ///< modem_at: one AT command line
    int timeout_ms = 10000;  ///< modem_at
    std::string action;      ///< deadletter: "list", "retry" or "drop"
    uint64_t seq = 0;        ///< deadletter retry/drop: one message (0: none given)
    bool all = false;        ///< deadletter retry/drop: every one (of `route` when given)
};

/// Parses one line. On error, `id` receives the request's id when it could be read (so that the
/// error can be tagged), else stays null.
Result<Request> parseRequest(std::string_view line, nlohmann::json& id);

/// What follows a request line on the wire (docs/api.md, "Large payloads"): nothing, or the
/// `"payload_length"` raw bytes of a byte-counted publish, read by count.
struct Framing {
    enum class Next {
        Line,    ///< the next request line
        Body,    ///< `length` payload bytes for this (valid) publish
        Skip,    ///< `length` bytes to read and drop: the request was refused
        Unknown  ///< the line announced a payload whose length cannot be read: cannot go on
    };
    Next next = Next::Line;
    uint64_t length = 0;
};

/// parseRequest for a server that takes byte-counted payloads up to `max_payload` bytes:
/// `framing` says what follows the line, also when the request is refused.
Result<Request> parseRequest(std::string_view line, nlohmann::json& id, uint64_t max_payload,
                             Framing& framing);

/// {"id":…,"status":"queued","seq":N}
std::string queuedReply(const nlohmann::json& id, uint64_t seq);
/// {"id":…,"status":"delivered","seq":N}
std::string deliveredReply(const nlohmann::json& id, uint64_t seq);
/// {"id":…,"status":"error","code":"…","message":"…"}
std::string errorReply(const nlohmann::json& id, const Error& error);
/// {"id":…,"status":"ok", …fields}
std::string okReply(const nlohmann::json& id, nlohmann::json fields = nlohmann::json::object());
/// {"event":"message","route":…,"topic":…,"payload"|"payload_b64":…,"qos":…,"properties":{…}}
std::string messageEvent(const IncomingMessage& msg, const std::string& subscription);

/// True when `topic` matches the MQTT topic filter `filter` ('+' one level, '#' the rest).
using mqtt::topicMatches;
/// True when the payload can be shown as a JSON string (valid UTF-8 without NUL).
bool isPrintableUtf8(std::string_view bytes);

}  // namespace uplinkd::api
