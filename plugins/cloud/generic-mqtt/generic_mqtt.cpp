// SPDX-License-Identifier: Apache-2.0
#include "generic_mqtt.hpp"

#include "uplinkd/cloud_plugin.hpp"
#include "uplinkd/connack.hpp"
#include "uplinkd/mqtt_names.hpp"
#include "uplinkd/secret_file.hpp"

namespace uplinkd::plugins::generic_mqtt {

namespace {

class GenericMqttProfile final : public CloudProfile {
  public:
    explicit GenericMqttProfile(Settings s) : s_(std::move(s)) {}

    std::string kind() const override { return "generic-mqtt"; }
    BrokerEndpoint endpoint() const override { return s_.endpoint; }
    int mqttVersion() const override { return s_.mqtt_version; }
    int keepAliveSeconds() const override { return s_.keepalive_seconds; }

    Result<MqttCredentials> credentials(SystemTime /*now*/) const override {
        return MqttCredentials{s_.client_id, s_.username, s_.password, std::nullopt};
    }

    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        if (auto problem = mqtt::publishTopicProblem(msg.topic)) {
            return fail("bad_topic", *problem);
        }
        return CloudPublish{s_.topic_prefix + msg.topic, msg.properties};
    }

    std::vector<CloudSubscription> standingSubscriptions() const override { return {}; }

    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        if (auto problem = mqtt::topicFilterProblem(local_filter)) {
            return fail("bad_topic", *problem);
        }
        return CloudSubscription{s_.topic_prefix + local_filter, qos};
    }

    IncomingMessage mapIncoming(const std::string& broker_topic) const override {
        IncomingMessage in;
        in.broker_topic = broker_topic;
        const auto& prefix = s_.topic_prefix;
        in.topic =
            broker_topic.starts_with(prefix) ? broker_topic.substr(prefix.size()) : broker_topic;
        return in;
    }

    std::string explainConnack(int code) const override {
        std::string text = "the broker refused the connection: " + connackMeaning(code);
        if (code == 4 || code == 0x86) {
            text += " (check username and password_file)";
        } else if (code == 5 || code == 0x87) {
            text +=
                " (a wrong user name or password, or the broker's access control does not "
                "allow this client; Mosquitto answers this for a bad password)";
        } else if (code == 2 || code == 0x85) {
            text += " (check client_id; it may be in use or too long)";
        }
        return text;
    }

    std::string explainSilentClose() const override {
        return "the broker closed the connection without answering CONNECT (is this port really "
               "MQTT, and does the broker accept this client?)";
    }

    CloudDiagnosis diagnosis() const override {
        CloudDiagnosis d;
        // Any broker that lets a client subscribe to what it publishes: a topic of its own.
        d.round_trip_topic = s_.topic_prefix + "uplinkd-doctor/" + s_.client_id;
        if (!s_.password_file.empty()) {
            d.secret_files.emplace_back("password_file", s_.password_file);
        }
        return d;
    }

    std::vector<Finding> checkCredentials(const MqttCredentials& creds,
                                          SystemTime /*now*/) const override {
        Finding f{CheckLayer::Credentials, "credentials.client_id", CheckOutcome::Ok,
                  "client id \"" + creds.client_id + "\" (" +
                      std::to_string(creds.client_id.size()) + " bytes)",
                  ""};
        if (s_.mqtt_version == 4 && creds.client_id.size() > 23) {
            f.outcome = CheckOutcome::Warn;
            f.found += ": MQTT 3.1.1 lets a broker refuse client ids longer than 23 bytes";
            f.fix =
                "if the broker refuses the CONNECT with code 2, shorten client_id in the "
                "route's [cloud] section";
        }
        std::vector<Finding> out{f};
        out.push_back({CheckLayer::Credentials, "credentials.user", CheckOutcome::Ok,
                       creds.username.empty()
                           ? std::string("no user name (an anonymous or certificate login)")
                           : "user name \"" + creds.username + "\"" +
                                 (creds.password.empty() ? " without a password"
                                                         : " with the password of password_file"),
                       ""});
        return out;
    }

  private:
    Settings s_;
};

}  // namespace

Result<CloudProfilePtr> create(ConfigTable& cloud) {
    const size_t errors_before = cloud.diagnostics().items().size();
    Settings s;
    s.endpoint.host = cloud.string("host", true).value_or("");
    s.endpoint.tls = cloud.boolean("tls").value_or(true);
    s.endpoint.port = static_cast<uint16_t>(
        cloud.integer("port", 1, 65535).value_or(s.endpoint.tls ? 8883 : 1883));
    s.endpoint.websocket_path = cloud.string("websocket_path").value_or("");
    if (!s.endpoint.websocket_path.empty() && s.endpoint.websocket_path.front() != '/') {
        cloud.error("websocket_path", "must start with '/'");
    }
    s.client_id = cloud.string("client_id", true).value_or("");
    s.username = cloud.string("username").value_or("");
    s.password = readSecretFile(cloud, "password_file").value_or("");
    if (!s.password.empty()) {
        s.password_file = cloud.string("password_file").value_or("");
    }
    if (!s.password.empty() && s.username.empty()) {
        cloud.error("password_file", "a password needs a username");
    }
    s.mqtt_version = readMqttVersion(cloud);
    s.keepalive_seconds = readKeepalive(cloud, 5, 65535, 60);
    s.topic_prefix = cloud.string("topic_prefix").value_or("");
    if (!s.topic_prefix.empty()) {
        if (auto problem = mqtt::publishTopicProblem(s.topic_prefix)) {
            cloud.error("topic_prefix", *problem);
        }
    }
    return finishCloudProfile<GenericMqttProfile>(cloud, errors_before, "generic-mqtt",
                                                  std::move(s));
}

const PluginDescriptor* descriptor() {
    return cloudPluginDescriptor<&create>("generic-mqtt",
                                          "any MQTT 3.1.1 or 5 broker (user name and password or "
                                          "client certificate)");
}

}  // namespace uplinkd::plugins::generic_mqtt
