// SPDX-License-Identifier: Apache-2.0
#include "hivemq_cloud.hpp"

#include <algorithm>
#include <vector>

#include "uplinkd/cloud_plugin.hpp"
#include "uplinkd/connack.hpp"
#include "uplinkd/mqtt_names.hpp"
#include "uplinkd/secret_file.hpp"

namespace uplinkd::plugins::hivemq_cloud {

namespace {

/// Why `host` is not a usable cluster host name, or nothing.
std::optional<std::string> clusterProblem(std::string_view host) {
    if (auto problem = mqtt::hostNameProblem(
            host, "; the port follows from websocket",
            "must be the cluster's host name, not an IP address: HiveMQ Cloud finds the cluster by "
            "SNI")) {
        return problem;
    }
    if (host.find('.') == std::string_view::npos) {
        return "write the full host name from the cluster's overview, e.g. \"" + std::string(host) +
               ".s1.eu.hivemq.cloud\"";
    }
    return std::nullopt;
}

/// The profile of one HiveMQ Cloud client: SNI, credentials, topic checks. Thread: loop.
class HiveMqCloudProfile final : public CloudProfile {
  public:
    explicit HiveMqCloudProfile(Settings s) : s_(std::move(s)) {}

    std::string kind() const override { return "hivemq-cloud"; }

    BrokerEndpoint endpoint() const override {
        BrokerEndpoint e;
        e.host = s_.override_host.empty() ? s_.cluster : s_.override_host;
        e.port = s_.override_port.value_or(s_.websocket ? kWebSocketPort : kTlsPort);
        e.tls = true;
        e.sni = e.host;  // always: the cluster is chosen by SNI
        if (s_.websocket) {
            e.websocket_path = kWebSocketPath;
        }
        return e;
    }

    int mqttVersion() const override { return s_.mqtt_version; }
    int keepAliveSeconds() const override { return s_.keepalive_seconds; }

    Result<MqttCredentials> credentials(SystemTime /*now*/) const override {
        return MqttCredentials{s_.client_id, s_.username, s_.password, std::nullopt};
    }

    CloudDiagnosis diagnosis() const override {
        CloudDiagnosis d;
        if (!s_.websocket) {
            BrokerEndpoint ws = endpoint();
            ws.port = s_.override_port ? *s_.override_port : kWebSocketPort;
            ws.websocket_path = kWebSocketPath;
            d.alternatives.push_back({"MQTT over WebSocket on port " +
                                          std::to_string(kWebSocketPort) + " (" + kWebSocketPath +
                                          ")",
                                      ws, "websocket = true"});
        }
        d.round_trip_topic = "uplinkd-doctor/" + s_.client_id;
        if (!s_.password_file.empty()) {
            d.secret_files.emplace_back("password_file", s_.password_file);
        }
        return d;
    }

    std::vector<Finding> checkCredentials(const MqttCredentials& creds,
                                          SystemTime /*now*/) const override {
        // The cluster's access management knows user name and password, nothing else.
        if (creds.username.empty() || creds.password.empty()) {
            return {{CheckLayer::Credentials, "credentials.user", CheckOutcome::Fail,
                     "no user name or no password: HiveMQ Cloud refuses anonymous clients",
                     "set username and password_file in the route's [cloud] section to the "
                     "cluster's access credentials"}};
        }
        return {{CheckLayer::Credentials, "credentials.user", CheckOutcome::Ok,
                 "user name \"" + creds.username + "\" with the password of password_file", ""}};
    }

    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        if (msg.qos < 0 || msg.qos > 2) {
            return fail("qos_not_supported", "QoS must be 0, 1 or 2");
        }
        if (auto problem = mqtt::publishTopicProblem(msg.topic)) {
            return fail("bad_topic", *problem);
        }
        if (msg.topic.front() == '$') {
            return fail("bad_topic", "topics starting with '$' are reserved by the broker");
        }
        return CloudPublish{msg.topic, msg.properties};
    }

    std::vector<CloudSubscription> standingSubscriptions() const override { return {}; }

    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        if (auto problem = mqtt::topicFilterProblem(local_filter)) {
            return fail("bad_topic", *problem);
        }
        return CloudSubscription{local_filter, std::clamp(qos, 0, 2)};
    }

    IncomingMessage mapIncoming(const std::string& broker_topic) const override {
        IncomingMessage in;
        in.broker_topic = broker_topic;
        in.topic = broker_topic;
        return in;
    }

    std::string explainConnack(int code) const override {
        std::string text = "HiveMQ Cloud refused the connection (" + connackMeaning(code) + ")";
        const std::string sni =
            "the TLS connection may have carried no SNI (server name): HiveMQ Cloud picks the "
            "cluster by SNI and refuses clients without it; uplinkd sends \"" +
            endpoint().sni +
            "\" when it does TLS itself, but a modem that does the TLS must be told to send SNI "
            "(it is often off by default)";
        const std::string credentials =
            "the credentials may be wrong: username and the password in password_file must be "
            "one of the cluster's access credentials (Access Management), with permission for "
            "these topics";
        switch (code) {
            case 5:
            case 0x87:
                return text + ". On HiveMQ Cloud this very often means one of two things: (1) " +
                       sni + "; (2) " + credentials;
            case 4:
            case 0x86:
                return text + ": " + credentials + " (if they are right, check that SNI is sent: " +
                       "without it the cluster refuses even good credentials)";
            case 2:
            case 0x85:
                return text + ": the client id \"" + s_.client_id + "\" was not accepted";
            case 0x8E:
                return text + ": another client connected with the same client id \"" +
                       s_.client_id + "\"";
            case 0x97:
            case 0x9F:
                return text + ": the cluster's plan limits (connections, traffic) are reached";
            default:
                return text;
        }
    }

    std::string explainSilentClose() const override {
        return std::string(
                   "HiveMQ Cloud closed the connection without a CONNACK: check that the "
                   "transport matches the port (8883 is MQTT over TLS, 8884 MQTT over "
                   "WebSocket at /mqtt; websocket = ") +
               (s_.websocket ? "true" : "false") +
               " here) and that the TLS connection sends SNI \"" + endpoint().sni + "\"";
    }

  private:
    Settings s_;
};

/// A required MQTT string of the CONNECT packet (user name, client id): not empty (else
/// `when_empty` is reported), UTF-8, at most 65535 bytes. Absent: "".
std::string requiredMqttString(ConfigTable& cloud, std::string_view key,
                               const std::string& when_empty) {
    auto value = cloud.string(key, true);
    if (!value) {
        return {};
    }
    if (value->empty()) {
        cloud.error(key, when_empty);
    } else if (!mqtt::validUtf8(*value) || value->size() > mqtt::kMaxStringBytes) {
        cloud.error(key, "must be UTF-8 text of at most 65535 bytes");
    }
    return *value;
}

}  // namespace

Result<CloudProfilePtr> create(ConfigTable& cloud) {
    const size_t errors_before = cloud.diagnostics().items().size();
    Settings s;
    if (auto cluster = cloud.string("cluster", true)) {
        if (auto problem = clusterProblem(*cluster)) {
            cloud.error("cluster", *problem);
        }
        s.cluster = *cluster;
    }
    s.username =
        requiredMqttString(cloud, "username", "is empty; HiveMQ Cloud needs access credentials");
    s.password = readSecretFile(cloud, "password_file", true).value_or("");
    if (!s.password.empty()) {
        s.password_file = cloud.string("password_file").value_or("");
    }
    s.client_id = requiredMqttString(cloud, "client_id", "is empty");
    s.websocket = cloud.boolean("websocket").value_or(false);
    if (auto endpoint_override = mqtt::readHostPort(cloud, "endpoint_override")) {
        s.override_host = std::move(endpoint_override->host);
        s.override_port = endpoint_override->port;
    }
    s.mqtt_version = readMqttVersion(cloud);
    s.keepalive_seconds = readKeepalive(cloud, 5, 65535, 60);
    return finishCloudProfile<HiveMqCloudProfile>(cloud, errors_before, "hivemq-cloud",
                                                  std::move(s));
}

const PluginDescriptor* descriptor() {
    return cloudPluginDescriptor<&create>(
        "hivemq-cloud",
        "HiveMQ Cloud cluster (user name and password; SNI always "
        "sent)");
}

}  // namespace uplinkd::plugins::hivemq_cloud
