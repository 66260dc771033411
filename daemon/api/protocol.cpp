// SPDX-License-Identifier: Apache-2.0
#include "api/protocol.hpp"

#include "uplinkd/base64.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd::api {

using nlohmann::json;

namespace {

constexpr const char* kLengthField = "payload_length";

Failure bad(const std::string& message) {
    return fail("bad_request", message);
}

Result<std::string> requiredString(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) {
        return bad(std::string("\"") + key + "\" is missing");
    }
    if (!it->is_string()) {
        return bad(std::string("\"") + key + "\" must be a string");
    }
    return it->get<std::string>();
}

/// An optional string field: left as it is when absent.
Status optionalString(const json& j, const char* key, std::string& into) {
    auto it = j.find(key);
    if (it == j.end()) {
        return {};
    }
    if (!it->is_string()) {
        return bad(std::string("\"") + key + "\" must be a string");
    }
    into = it->get<std::string>();
    return {};
}

Result<int> qosField(const json& j) {
    auto it = j.find("qos");
    if (it == j.end()) {
        return 1;
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 2) {
        return bad("\"qos\" must be 0, 1 or 2");
    }
    return it->get<int>();
}

/// Stores a field that parsed in `into`; otherwise returns its error.
template <typename T, typename U>
Status readInto(Result<T> field, U& into) {
    if (!field)
        return field.failure();
    into = std::move(*field);
    return {};
}

Result<bool> boolField(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) {
        return false;
    }
    if (!it->is_boolean()) {
        return bad(std::string("\"") + key + "\" must be true or false");
    }
    return it->get<bool>();
}

/// `counted`: the payload follows the line ("payload_length"), the message's stays empty here.
Status parsePublish(const json& j, Request& r, bool counted) {
    if (Status s = readInto(requiredString(j, "route"), r.message.route); !s)
        return s;
    if (Status s = readInto(requiredString(j, "topic"), r.message.topic); !s)
        return s;
    const bool has_text = j.contains("payload");
    const bool has_b64 = j.contains("payload_b64");
    if (int{has_text} + int{has_b64} + int{counted} != 1) {
        return bad(
            "give exactly one of \"payload\" (text), \"payload_b64\" (base64 bytes) and "
            "\"payload_length\" (raw bytes after the line)");
    }
    // A counted payload stays empty here: the server fills it from the bytes after the line.
    if (has_text) {
        if (!j["payload"].is_string()) {
            return bad("\"payload\" must be a string (use \"payload_b64\" for binary data)");
        }
        r.message.payload = j["payload"].get_ref<const std::string&>();
    } else if (has_b64) {
        if (!j["payload_b64"].is_string()) {
            return bad("\"payload_b64\" must be a base64 string");
        }
        // Decoded from the parsed string in place: a large payload is not copied once more.
        auto bytes = base64Decode(j["payload_b64"].get_ref<const std::string&>());
        if (!bytes) {
            return bad("\"payload_b64\" is not valid base64");
        }
        r.message.payload = std::move(*bytes);
    }
    if (Status s = readInto(qosField(j), r.message.qos); !s)
        return s;
    if (Status s = readInto(boolField(j, "retain"), r.message.retain); !s)
        return s;
    if (Status s = readInto(boolField(j, "report_delivered"), r.want_delivered); !s)
        return s;
    if (auto it = j.find("properties"); it != j.end()) {
        if (!it->is_object()) {
            return bad("\"properties\" must be an object of strings");
        }
        for (const auto& [k, v] : it->items()) {
            if (!v.is_string()) {
                return bad("property \"" + k + "\" must be a string");
            }
            r.message.properties.emplace_back(k, v.get<std::string>());
        }
    }
    return {};
}

Status parseSubscription(const json& j, Request& r) {
    if (Status s = readInto(requiredString(j, "route"), r.route); !s)
        return s;
    if (Status s = readInto(requiredString(j, "filter"), r.filter); !s)
        return s;
    if (Status s = readInto(qosField(j), r.qos); !s)
        return s;
    return {};
}

Status parseModem(const json& j, Request& r) {
    if (Status s = optionalString(j, "uplink", r.uplink); !s)
        return s;
    if (r.op != Op::ModemAt) {
        return {};
    }
    if (Status s = readInto(requiredString(j, "command"), r.command); !s)
        return s;
    if (auto it = j.find("timeout_ms"); it != j.end()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 100 || it->get<int64_t>() > 300000) {
            return bad("\"timeout_ms\" must be an integer from 100 to 300000");
        }
        r.timeout_ms = it->get<int>();
    }
    return {};
}

/// Walks a line that json::parse refused, to say which field holds the problem (a number out of
/// range, a string that is not UTF-8) and to recover the request's id when it came before it.
/// Builds nothing. Never throws: nlohmann's SAX parser reports errors to parse_error().
class ErrorLocator final : public json::json_sax_t {
  public:
    bool null() override { return value(nullptr); }
    bool boolean(bool v) override { return value(v); }
    bool number_integer(number_integer_t v) override { return value(v); }
    bool number_unsigned(number_unsigned_t v) override { return value(v); }
    bool number_float(number_float_t v, const string_t&) override { return value(v); }
    bool string(string_t& v) override { return value(v); }
    bool binary(binary_t&) override { return value(nullptr); }
    bool start_object(std::size_t) override { return push(""); }
    bool key(string_t& k) override {
        if (!path_.empty() && deeper_ == 0) {
            path_.back() = k;
        }
        id_next_ = path_.size() == 1 && k == "id";
        return true;
    }
    bool end_object() override { return pop(); }
    bool start_array(std::size_t) override { return push("[]"); }
    bool end_array() override { return pop(); }
    bool parse_error(std::size_t, const std::string& token, const json::exception& e) override {
        error_id_ = e.id;
        token_ = token;
        what_ = e.what();
        return false;
    }

    /// "qos", "properties.k", "a[]" or "" (outside any object).
    std::string field() const {
        std::string out;
        for (const auto& p : path_) {
            if (p == "[]") {
                out += p;
            } else {
                out += (out.empty() ? "" : ".") + p;
            }
            if (out.size() > 120) {
                return out.substr(0, 120) + "...";
            }
        }
        return deeper_ > 0 ? out + "..." : out;
    }
    int errorId() const { return error_id_; }
    const std::string& token() const { return token_; }
    const std::string& what() const { return what_; }
    const json& id() const { return id_; }

  private:
    template <typename T>
    bool value(T v) {
        if (id_next_) {
            id_ = v;
            id_next_ = false;
        }
        return true;
    }
    bool push(const char* level) {
        // Only the outer levels are named: a million nested arrays cost a counter, not a path.
        if (path_.size() < kMaxNamedDepth) {
            path_.emplace_back(level);
        } else {
            ++deeper_;
        }
        id_next_ = false;
        return true;
    }
    bool pop() {
        if (deeper_ > 0) {
            --deeper_;
        } else if (!path_.empty()) {
            path_.pop_back();
        }
        id_next_ = false;
        return true;
    }

    static constexpr size_t kMaxNamedDepth = 32;
    std::vector<std::string> path_;
    size_t deeper_ = 0;  ///< levels below the named ones
    bool id_next_ = false;
    json id_;
    int error_id_ = 0;
    std::string token_;
    std::string what_;
};

/// The error for a line json::parse refused, naming the field when there is one.
Error explainParseFailure(std::string_view line, json& id) {
    ErrorLocator where;
    (void)json::sax_parse(line, &where);
    const json& seen = where.id();
    if (seen.is_string() || seen.is_number()) {
        id = seen;
    }
    const std::string field = where.field();
    const std::string at = field.empty() ? "" : "\"" + field + "\": ";
    if (where.errorId() == 406) {  // out_of_range: number overflow
        return makeError("bad_request", at + "the number " + where.token() +
                                            " is out of range (JSON numbers here must fit a "
                                            "64-bit integer or double)");
    }
    return makeError("bad_json", "not valid JSON: " + at + where.what());
}

Status parseDeadLetter(const json& j, Request& r) {
    auto action = requiredString(j, "action");
    if (!action)
        return action.failure();
    if (*action != "list" && *action != "retry" && *action != "drop") {
        return bad("\"action\" must be \"list\", \"retry\" or \"drop\"");
    }
    r.action = *action;
    if (Status s = optionalString(j, "route", r.route); !s)
        return s;
    if (auto it = j.find("seq"); it != j.end()) {
        if (!it->is_number_unsigned() || it->get<uint64_t>() == 0) {
            return bad("\"seq\" must be a positive integer (the seq that deadletter list shows)");
        }
        r.seq = it->get<uint64_t>();
    }
    if (Status s = readInto(boolField(j, "all"), r.all); !s)
        return s;
    if (r.action != "list" && (r.seq != 0) == r.all) {
        return bad("deadletter " + r.action + ": give exactly one of \"seq\" and \"all\": true");
    }
    return {};
}

/// Reads "payload_length" into `framing`: the bytes after the line are skipped unless the
/// request turns out valid.
Status lengthField(const json& j, uint64_t max_payload, Framing& framing) {
    auto it = j.find(kLengthField);
    if (it == j.end()) {
        return {};
    }
    if (!it->is_number_unsigned()) {
        framing.next = Framing::Next::Unknown;
        return bad(
            "\"payload_length\" must be a whole number of bytes (0 or more); the payload after "
            "the line cannot be told from the next request, closing the connection");
    }
    framing.length = it->get<uint64_t>();
    framing.next = Framing::Next::Skip;
    if (framing.length > max_payload) {
        return fail("payload_too_large", "\"payload_length\" " + std::to_string(framing.length) +
                                             " is over the limit of " +
                                             std::to_string(max_payload) +
                                             " bytes (api.max_message_bytes); the payload was "
                                             "skipped");
    }
    return {};
}

}  // namespace

Result<Request> parseRequest(std::string_view line, json& id) {
    Framing framing;
    auto r = parseRequest(line, id, UINT64_MAX, framing);
    if (r && framing.next == Framing::Next::Body) {
        return bad("\"payload_length\" needs the payload after the line (the socket API)");
    }
    return r;
}

Result<Request> parseRequest(std::string_view line, json& id, uint64_t max_payload,
                             Framing& framing) {
    framing = Framing{};
    // No exceptions: nlohmann reports every refusal (syntax, invalid UTF-8, a number out of
    // range) as a discarded value, explained by a second, non-building pass.
    // nlohmann stops at a NUL byte as if the input ended there: refuse it instead of ignoring
    // whatever follows (raw NUL is never valid JSON text).
    if (const size_t nul = line.find('\0'); nul != std::string_view::npos) {
        return fail("bad_json",
                    "not valid JSON: a NUL byte at offset " + std::to_string(nul) + " of the line");
    }
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        Error e = explainParseFailure(line, id);
        if (line.find(std::string("\"") + kLengthField + "\"") != std::string_view::npos) {
            // A payload may follow, of a length that cannot be read.
            framing.next = Framing::Next::Unknown;
            e.message +=
                "; a payload may follow the line and cannot be told from the next "
                "request, closing the connection";
        }
        return fail(e);
    }
    if (!j.is_object()) {
        return fail("bad_json", "a request must be a JSON object");
    }
    Request r;
    const auto id_field = j.find("id");
    const bool id_usable = id_field != j.end() && (id_field->is_number() || id_field->is_string());
    if (id_usable) {
        id = *id_field;  // before anything can fail: every error is tagged
    }
    // Also before anything can fail: a refused request's payload is skipped by its count.
    if (Status s = lengthField(j, max_payload, framing); !s) {
        return s.failure();
    }
    const bool counted = framing.next == Framing::Next::Skip;
    if (id_field == j.end()) {
        return bad("\"id\" is missing (every request needs one)");
    }
    if (!id_usable) {
        return bad("\"id\" must be a number or a string");
    }
    r.id = id;
    auto op = requiredString(j, "op");
    if (!op)
        return op.failure();
    Status st;
    if (counted && *op != "publish") {
        return bad("\"payload_length\" is only for publish; the payload was skipped");
    }
    if (*op == "publish") {
        r.op = Op::Publish;
        st = parsePublish(j, r, counted);
    } else if (*op == "subscribe" || *op == "unsubscribe") {
        r.op = *op == "subscribe" ? Op::Subscribe : Op::Unsubscribe;
        st = parseSubscription(j, r);
    } else if (*op == "status") {
        r.op = Op::Status;
        if (auto it = j.find("route"); it != j.end() && it->is_string()) {
            r.route = it->get<std::string>();
        }
    } else if (*op == "ping") {
        r.op = Op::Ping;
    } else if (*op == "hello") {
        r.op = Op::Hello;
    } else if (*op == "modem_info" || *op == "modem_at") {
        r.op = *op == "modem_info" ? Op::ModemInfo : Op::ModemAt;
        st = parseModem(j, r);
    } else if (*op == "deadletter") {
        r.op = Op::DeadLetter;
        st = parseDeadLetter(j, r);
    } else if (*op == "doctor") {
        r.op = Op::Doctor;
        st = optionalString(j, "route", r.route);
    } else {
        return fail("unknown_op", "unknown op \"" + *op +
                                      "\" (publish, subscribe, unsubscribe, status, ping, hello, "
                                      "modem_info, modem_at, deadletter, doctor)");
    }
    if (!st) {
        return st.failure();
    }
    if (counted) {
        framing.next = Framing::Next::Body;
    }
    return r;
}

std::string queuedReply(const json& id, uint64_t seq) {
    return json{{"id", id}, {"status", "queued"}, {"seq", seq}}.dump(
               -1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

std::string deliveredReply(const json& id, uint64_t seq) {
    return json{{"id", id}, {"status", "delivered"}, {"seq", seq}}.dump(
               -1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

std::string errorReply(const json& id, const Error& error) {
    return json{{"id", id}, {"status", "error"}, {"code", error.code}, {"message", error.message}}
               .dump(-1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

std::string okReply(const json& id, json fields) {
    fields["id"] = id;
    fields["status"] = "ok";
    return fields.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool isPrintableUtf8(std::string_view s) {
    return mqtt::isUtf8Text(s);
}

std::string messageEvent(const IncomingMessage& msg, const std::string& subscription) {
    json j{{"event", "message"}, {"route", msg.route}, {"subscription", subscription},
           {"topic", msg.topic}, {"qos", msg.qos},     {"retain", msg.retain}};
    if (isPrintableUtf8(msg.payload)) {
        j["payload"] = msg.payload;
    } else {
        j["payload_b64"] = base64Encode(msg.payload);
    }
    json props = json::object();
    for (const auto& [k, v] : msg.properties) {
        props[k] = v;
    }
    j["properties"] = props;
    if (msg.broker_topic != msg.topic) {
        j["broker_topic"] = msg.broker_topic;
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace uplinkd::api
