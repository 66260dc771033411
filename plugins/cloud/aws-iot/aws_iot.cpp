// SPDX-License-Identifier: Apache-2.0
#include "aws_iot.hpp"

#include <algorithm>
#include <vector>

#include "uplinkd/cloud_plugin.hpp"
#include "uplinkd/connack.hpp"
#include "uplinkd/mqtt_names.hpp"

namespace uplinkd::plugins::aws_iot {

namespace {

constexpr std::string_view kReservedPrefix = "$aws/";
constexpr std::string_view kBasicIngestPrefix = "$aws/rules/";

std::vector<std::string_view> splitLevels(std::string_view topic) {
    std::vector<std::string_view> levels;
    size_t start = 0;
    while (true) {
        const size_t slash = topic.find('/', start);
        levels.push_back(topic.substr(start, slash - start));
        if (slash == std::string_view::npos) {
            return levels;
        }
        start = slash + 1;
    }
}

/// The number of '/' that count against the level limit: a Basic Ingest prefix
/// "$aws/rules/<rule>/" is not counted.
int countedSlashes(std::string_view topic) {
    if (topic.starts_with(kBasicIngestPrefix)) {
        const size_t rule_end = topic.find('/', kBasicIngestPrefix.size());
        topic =
            rule_end == std::string_view::npos ? std::string_view{} : topic.substr(rule_end + 1);
    }
    return static_cast<int>(std::count(topic.begin(), topic.end(), '/'));
}

/// Checks the limits every broker topic and filter must meet.
std::optional<std::string> limitProblem(std::string_view topic) {
    if (topic.size() > kMaxTopicBytes) {
        return "the topic \"" + std::string(topic.substr(0, 40)) + "...\" is " +
               std::to_string(topic.size()) + " bytes; AWS IoT allows at most " +
               std::to_string(kMaxTopicBytes);
    }
    if (const int slashes = countedSlashes(topic); slashes > kMaxTopicSlashes) {
        return "the topic \"" + std::string(topic) + "\" has " + std::to_string(slashes + 1) +
               " levels; AWS IoT allows at most 8 (7 '/')";
    }
    return std::nullopt;
}

bool isFormat(std::string_view s) {
    return s == "json" || s == "cbor";
}

/// Whether a device may publish to this reserved topic (AWS reserved-topics list).
bool reservedPublishAllowed(std::string_view topic) {
    const auto l = splitLevels(topic);
    if (std::any_of(l.begin(), l.end(), [](std::string_view x) { return x.empty(); })) {
        return false;
    }
    if (l.size() >= 3 && l[1] == "rules") {
        return true;  // Basic Ingest: $aws/rules/<rule>/...
    }
    if (l.size() >= 5 && l[1] == "things") {
        const auto action = l.back();
        if (l[3] == "shadow") {
            const bool op = action == "get" || action == "update" || action == "delete";
            return op && (l.size() == 5 || (l.size() == 7 && l[4] == "name"));
        }
        if (l[3] == "jobs") {
            if (l.size() == 5) {
                return action == "get" || action == "start-next";
            }
            return l.size() == 6 && (action == "get" || action == "update");
        }
        return false;
    }
    if (l.size() == 4 && l[1] == "certificates") {
        return (l[2] == "create" || l[2] == "create-from-csr") && isFormat(l[3]);
    }
    if (l.size() == 5 && l[1] == "provisioning-templates") {
        return l[3] == "provision" && isFormat(l[4]);
    }
    return false;
}

/// The region in "<prefix>-ats.iot.<region>.amazonaws.com", or "<region>".
std::string regionOf(std::string_view host) {
    const size_t iot = host.find(".iot.");
    const size_t aws = host.find(".amazonaws.com");
    if (iot == std::string_view::npos || aws == std::string_view::npos || aws <= iot + 5) {
        return "<region>";
    }
    return std::string(host.substr(iot + 5, aws - iot - 5));
}

/// The profile of one AWS IoT thing: template mapping, AWS limits, refusals. Thread: loop.
class AwsIotProfile final : public CloudProfile {
  public:
    AwsIotProfile(Settings s, std::string prefix, std::string suffix)
        : s_(std::move(s)), prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}

    std::string kind() const override { return "aws-iot"; }

    BrokerEndpoint endpoint() const override {
        BrokerEndpoint e;
        e.host = s_.override_host.empty() ? s_.endpoint : s_.override_host;
        e.port = s_.override_port.value_or(s_.port);
        e.tls = true;
        e.sni = e.host;  // the certificate must name the host that is dialled
        if (s_.port == 443) {
            e.alpn = {kAlpnMqttCa};
        }
        return e;
    }

    int mqttVersion() const override { return s_.mqtt_version; }
    int keepAliveSeconds() const override { return s_.keepalive_seconds; }

    Result<MqttCredentials> credentials(SystemTime /*now*/) const override {
        // Certificate authentication: AWS IoT ignores user name and password.
        return MqttCredentials{s_.thing_name, "", "", std::nullopt};
    }

    CloudDiagnosis diagnosis() const override {
        CloudDiagnosis d;
        // AWS IoT does not tie the certificate's subject to the thing (a console certificate's
        // CN is "AWS IoT Certificate"): no expected CN.
        if (endpoint().port != 443) {
            BrokerEndpoint alt = endpoint();
            alt.port = 443;
            alt.alpn = {kAlpnMqttCa};
            d.alternatives.push_back(
                {std::string("port 443 with ALPN ") + kAlpnMqttCa, alt, "port = 443"});
        }
        d.round_trip_topic = brokerTopic("uplinkd-doctor/" + s_.thing_name);
        return d;
    }

    std::vector<Finding> checkCredentials(const MqttCredentials& creds,
                                          SystemTime /*now*/) const override {
        return {{CheckLayer::Credentials, "credentials.client_id", CheckOutcome::Ok,
                 "client id \"" + creds.client_id +
                     "\", the thing name (policies with ${iot:Connection.Thing.ThingName} need "
                     "this); the certificate authenticates",
                 ""}};
    }

    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        if (msg.qos < 0 || msg.qos > 1) {
            return fail("qos_not_supported",
                        "AWS IoT Core supports QoS 0 and 1 only (it never acknowledges QoS 2)");
        }
        if (auto problem = mqtt::publishTopicProblem(msg.topic)) {
            return fail("bad_topic", *problem);
        }
        if (msg.payload.size() > kMaxPayloadBytes) {
            return fail("payload_too_large", "the payload is " +
                                                 std::to_string(msg.payload.size()) +
                                                 " bytes; AWS IoT Core accepts at most " +
                                                 std::to_string(kMaxPayloadBytes) + " (128 KiB)");
        }
        const std::string topic = brokerTopic(msg.topic);
        if (topic.starts_with(kReservedPrefix)) {
            if (!reservedPublishAllowed(topic)) {
                return fail("bad_topic",
                            "\"" + topic +
                                "\" is a reserved AWS topic a device cannot publish to; allowed "
                                "are $aws/things/<thing>/shadow[/name/<shadow>]/get|update|delete, "
                                "$aws/things/<thing>/jobs/get|start-next|<job>/get|<job>/update, "
                                "$aws/rules/<rule>/..., $aws/certificates/create[-from-csr]/"
                                "json|cbor and $aws/provisioning-templates/<template>/provision/"
                                "json|cbor");
            }
            if (msg.retain) {
                return fail("retain_not_supported",
                            "AWS IoT does not keep retained messages on reserved $aws/ topics");
            }
        } else if (topic.front() == '$') {
            return fail("bad_topic",
                        "topics starting with '$' are reserved; AWS IoT accepts only some $aws/ "
                        "topics");
        }
        if (auto problem = limitProblem(topic)) {
            return fail("bad_topic", *problem);
        }
        return CloudPublish{topic, msg.properties};
    }

    std::vector<CloudSubscription> standingSubscriptions() const override { return {}; }

    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        if (auto problem = mqtt::topicFilterProblem(local_filter)) {
            return fail("bad_topic", *problem);
        }
        const std::string filter = brokerTopic(local_filter);
        if (auto problem = mqtt::topicFilterProblem(filter)) {
            return fail("bad_topic", "with topic_template \"" + s_.topic_template +
                                         "\" the filter becomes \"" + filter + "\": " + *problem);
        }
        if (filter.front() == '$' && !filter.starts_with(kReservedPrefix)) {
            return fail("bad_topic",
                        "AWS IoT has no such '$' topics, and subscribing outside the policy makes "
                        "it disconnect the client");
        }
        if (auto problem = limitProblem(filter)) {
            return fail("bad_topic", *problem);
        }
        // AWS IoT grants at most QoS 1 (and sends no SUBACK at all when asked for 2).
        return CloudSubscription{filter, std::clamp(qos, 0, 1)};
    }

    IncomingMessage mapIncoming(const std::string& broker_topic) const override {
        IncomingMessage in;
        in.broker_topic = broker_topic;
        const bool templated = broker_topic.size() > prefix_.size() + suffix_.size() &&
                               broker_topic.starts_with(prefix_) && broker_topic.ends_with(suffix_);
        in.topic = templated
                       ? broker_topic.substr(prefix_.size(),
                                             broker_topic.size() - prefix_.size() - suffix_.size())
                       : broker_topic;
        return in;
    }

    std::string explainConnack(int code) const override {
        std::string text = "AWS IoT refused the connection (" + connackMeaning(code) + ")";
        switch (code) {
            case 5:
            case 0x87:
                return text + ": the policy attached to the client certificate does not allow " +
                       "iot:Connect for client id \"" + s_.thing_name + "\" (resource " +
                       "arn:aws:iot:" + regionOf(s_.endpoint) + ":<account>:client/" +
                       s_.thing_name + "), or the certificate is not active";
            case 2:
            case 0x85:
                return text + ": the client id \"" + s_.thing_name +
                       "\" is not acceptable (at most 128 bytes, not starting with '$')";
            case 0x8A:
            case 0x97:
            case 0x9F:
                return text +
                       ": AWS IoT is throttling this client (at most one CONNECT per "
                       "second per client id; check that no other device uses \"" +
                       s_.thing_name + "\")";
            default:
                return text;
        }
    }

    std::string explainSilentClose() const override {
        return "AWS IoT closed the connection without a CONNACK; this is how it refuses a "
               "client. Usual causes: (1) the client certificate is not registered with AWS IoT "
               "in this account and region (" +
               regionOf(s_.endpoint) +
               "), or is registered but not activated (status must be ACTIVE); (2) the policy "
               "attached to the certificate does not allow iot:Connect for client id \"" +
               s_.thing_name + "\" (resource arn:aws:iot:" + regionOf(s_.endpoint) +
               ":<account>:client/" + s_.thing_name +
               "); (3) another connection uses the same client id. Also check that endpoint is "
               "the -ats data endpoint of the account";
    }

  private:
    std::string brokerTopic(const std::string& local) const {
        if (local.starts_with('$')) {
            return local;  // reserved topics are sent as written, never templated
        }
        return prefix_ + local + suffix_;
    }

    Settings s_;
    std::string prefix_;  ///< topic_template before {topic}, with {thing} filled in
    std::string suffix_;  ///< topic_template after {topic}, with {thing} filled in
};

/// Splits the template around {topic} and fills in {thing}; reports problems on the key.
void parseTemplate(ConfigTable& cloud, const Settings& s, std::string& prefix,
                   std::string& suffix) {
    const std::string& t = s.topic_template;
    std::string expanded;
    int topics = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '}') {
            cloud.error("topic_template", "a '}' without '{'");
            return;
        }
        if (t[i] != '{') {
            (topics == 0 ? prefix : suffix).push_back(t[i]);
            continue;
        }
        const size_t close = t.find('}', i);
        if (close == std::string::npos) {
            cloud.error("topic_template", "a '{' without '}'");
            return;
        }
        const std::string name = t.substr(i + 1, close - i - 1);
        if (name == "thing") {
            (topics == 0 ? prefix : suffix) += s.thing_name;
        } else if (name == "topic") {
            ++topics;
        } else {
            cloud.error("topic_template",
                        "unknown placeholder {" + name + "}; use {thing} and {topic}");
            return;
        }
        i = close;
    }
    if (topics != 1) {
        cloud.error("topic_template", "must contain {topic} exactly once");
        return;
    }
    const std::string fixed = prefix + suffix;
    if (fixed.find_first_of("+#") != std::string::npos) {
        cloud.error("topic_template", "must not contain '+' or '#'");
        return;
    }
    if (prefix.starts_with('$')) {
        const size_t rule_end = prefix.find('/', kBasicIngestPrefix.size());
        if (!prefix.starts_with(kBasicIngestPrefix) || rule_end == std::string::npos ||
            rule_end == kBasicIngestPrefix.size()) {
            cloud.error("topic_template",
                        "a template starting with '$' must start with \"$aws/rules/<rule>/\" "
                        "(Basic Ingest)");
            return;
        }
    }
    if (countedSlashes(prefix + "x" + suffix) > kMaxTopicSlashes) {
        cloud.error("topic_template",
                    "leaves no room for the topic: AWS IoT allows at most 8 "
                    "levels (7 '/')");
    }
}

}  // namespace

Result<CloudProfilePtr> create(ConfigTable& cloud) {
    const size_t errors_before = cloud.diagnostics().items().size();
    Settings s;
    if (auto endpoint = cloud.string("endpoint", true)) {
        if (auto problem = mqtt::hostNameProblem(
                *endpoint, "; the port goes in port",
                "must be the host name (from `aws iot describe-endpoint --endpoint-type "
                "iot:Data-ATS`), not an IP address: AWS IoT needs it for SNI")) {
            cloud.error("endpoint", *problem);
        }
        s.endpoint = *endpoint;
    }
    if (auto thing = cloud.string("thing_name", true)) {
        if (thing->empty()) {
            cloud.error("thing_name", "is empty");
        } else if (thing->size() > kMaxClientIdBytes) {
            cloud.error("thing_name", "is " + std::to_string(thing->size()) +
                                          " bytes; the AWS IoT client id allows at most 128");
        } else if (thing->front() == '$') {
            cloud.error("thing_name", "must not start with '$' (AWS IoT client id rule)");
        } else if (thing->find_first_of("+#/") != std::string::npos || !mqtt::validUtf8(*thing)) {
            cloud.error("thing_name",
                        "must not contain '+', '#' or '/' (it is used in topics); AWS thing names "
                        "use letters, digits, ':', '_' and '-'");
        }
        s.thing_name = *thing;
    }
    if (auto port = cloud.integer("port", 1, 65535)) {
        if (*port != 8883 && *port != 443) {
            cloud.error("port",
                        "AWS IoT takes MQTT with a client certificate on 8883, or on 443 "
                        "(with ALPN x-amzn-mqtt-ca)");
        } else {
            s.port = static_cast<uint16_t>(*port);
        }
    }
    if (auto endpoint_override = mqtt::readHostPort(cloud, "endpoint_override")) {
        s.override_host = std::move(endpoint_override->host);
        s.override_port = endpoint_override->port;
    }
    s.topic_template = cloud.string("topic_template").value_or(s.topic_template);
    std::string prefix;
    std::string suffix;
    parseTemplate(cloud, s, prefix, suffix);
    s.mqtt_version = readMqttVersion(cloud);
    s.keepalive_seconds = readKeepalive(cloud, 30, 1200, s.keepalive_seconds);
    return finishCloudProfile<AwsIotProfile>(cloud, errors_before, "aws-iot", std::move(s),
                                             std::move(prefix), std::move(suffix));
}

const PluginDescriptor* descriptor() {
    return cloudPluginDescriptor<&create>(
        "aws-iot",
        "AWS IoT Core thing (X.509 client certificate; port 8883, or "
        "443 with ALPN)");
}

}  // namespace uplinkd::plugins::aws_iot
