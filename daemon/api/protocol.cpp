#include "api/protocol.hpp"

#include "tunnel/connect_request.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd::api {

using nlohmann::json;

namespace {

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

Status parsePublish(const json& j, Request& r) {
    auto route = requiredString(j, "route");
    if (!route)
        return route.failure();
    auto topic = requiredString(j, "topic");
    if (!topic)
        return topic.failure();
    r.message.route = *route;
    r.message.topic = *topic;
    const bool has_text = j.contains("payload");
    const bool has_b64 = j.contains("payload_b64");
    if (has_text == has_b64) {
        return bad("give exactly one of \"payload\" (text) and \"payload_b64\" (base64 bytes)");
    }
    if (has_text) {
        if (!j["payload"].is_string()) {
            return bad("\"payload\" must be a string (use \"payload_b64\" for binary data)");
        }
        r.message.payload = j["payload"].get<std::string>();
    } else {
        if (!j["payload_b64"].is_string()) {
            return bad("\"payload_b64\" must be a base64 string");
        }
        auto bytes = base64Decode(j["payload_b64"].get<std::string>());
        if (!bytes) {
            return bad("\"payload_b64\" is not valid base64");
        }
        r.message.payload = std::move(*bytes);
    }
    auto qos = qosField(j);
    if (!qos)
        return qos.failure();
    r.message.qos = *qos;
    auto retain = boolField(j, "retain");
    if (!retain)
        return retain.failure();
    r.message.retain = *retain;
    auto delivered = boolField(j, "report_delivered");
    if (!delivered)
        return delivered.failure();
    r.want_delivered = *delivered;
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
    auto route = requiredString(j, "route");
    if (!route)
        return route.failure();
    auto filter = requiredString(j, "filter");
    if (!filter)
        return filter.failure();
    r.route = *route;
    r.filter = *filter;
    auto qos = qosField(j);
    if (!qos)
        return qos.failure();
    r.qos = *qos;
    return {};
}

Status parseModem(const json& j, Request& r) {
    if (auto it = j.find("uplink"); it != j.end()) {
        if (!it->is_string()) {
            return bad("\"uplink\" must be a string");
        }
        r.uplink = it->get<std::string>();
    }
    if (r.op != Op::ModemAt) {
        return {};
    }
    auto command = requiredString(j, "command");
    if (!command)
        return command.failure();
    r.command = *command;
    if (auto it = j.find("timeout_ms"); it != j.end()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 100 || it->get<int64_t>() > 300000) {
            return bad("\"timeout_ms\" must be an integer from 100 to 300000");
        }
        r.timeout_ms = it->get<int>();
    }
    return {};
}

}  // namespace

Result<Request> parseRequest(std::string_view line, json& id) {
    json j;
    try {
        j = json::parse(line);
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for a number beyond a double ("1e400").
        return fail("bad_json", std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) {
        return fail("bad_json", "a request must be a JSON object");
    }
    Request r;
    if (auto it = j.find("id"); it != j.end()) {
        if (!it->is_number() && !it->is_string()) {
            return bad("\"id\" must be a number or a string");
        }
        id = *it;
        r.id = *it;
    } else {
        return bad("\"id\" is missing (every request needs one)");
    }
    auto op = requiredString(j, "op");
    if (!op)
        return op.failure();
    Status st;
    if (*op == "publish") {
        r.op = Op::Publish;
        st = parsePublish(j, r);
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
    } else {
        return fail("unknown_op", "unknown op \"" + *op +
                                      "\" (publish, subscribe, unsubscribe, status, ping, hello, "
                                      "modem_info, modem_at)");
    }
    if (!st) {
        return st.failure();
    }
    return r;
}

std::string queuedReply(const json& id, uint64_t seq) {
    return json{{"id", id}, {"status", "queued"}, {"seq", seq}}.dump() + "\n";
}

std::string deliveredReply(const json& id, uint64_t seq) {
    return json{{"id", id}, {"status", "delivered"}, {"seq", seq}}.dump() + "\n";
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

bool topicMatches(std::string_view filter, std::string_view topic) {
    // '$'-topics are not matched by a leading wildcard (MQTT 3.1.1 §4.7.2).
    if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    size_t f = 0;
    size_t t = 0;
    while (true) {
        const size_t fe = filter.find('/', f);
        const std::string_view flevel =
            filter.substr(f, fe == std::string_view::npos ? std::string_view::npos : fe - f);
        if (flevel == "#") {
            return true;
        }
        if (t > topic.size()) {
            return false;
        }
        const size_t te = topic.find('/', t);
        const std::string_view tlevel =
            topic.substr(t, te == std::string_view::npos ? std::string_view::npos : te - t);
        if (flevel != "+" && flevel != tlevel) {
            return false;
        }
        const bool fend = fe == std::string_view::npos;
        const bool tend = te == std::string_view::npos;
        if (fend || tend) {
            if (fend && tend)
                return true;
            // "a/#" matches "a": the filter continues with exactly "/#".
            return tend && !fend && filter.substr(fe + 1) == "#";
        }
        f = fe + 1;
        t = te + 1;
    }
}

}  // namespace uplinkd::api
