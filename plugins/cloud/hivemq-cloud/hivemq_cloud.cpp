#include "hivemq_cloud.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "uplinkd/connack.hpp"
#include "uplinkd/secret_file.hpp"

namespace uplinkd::plugins::hivemq_cloud {

namespace {

bool validUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            len = 1;
            cp = c;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) {
            return false;
        }
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        const bool overlong =
            (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

/// Why a topic cannot be published, or nothing.
std::optional<std::string> topicProblem(std::string_view topic) {
    if (topic.empty()) {
        return "the topic is empty";
    }
    if (topic.find_first_of("+#") != std::string_view::npos) {
        return "a topic to publish on must not contain '+' or '#'";
    }
    if (topic.front() == '$') {
        return "topics starting with '$' are reserved by the broker";
    }
    if (topic.size() > 65535 || topic.find('\0') != std::string_view::npos || !validUtf8(topic)) {
        return "the topic is not valid UTF-8 text of at most 65535 bytes";
    }
    return std::nullopt;
}

/// Why a topic filter is not well formed, or nothing.
std::optional<std::string> filterProblem(std::string_view filter) {
    if (filter.empty()) {
        return "the topic filter is empty";
    }
    if (filter.size() > 65535 || filter.find('\0') != std::string_view::npos ||
        !validUtf8(filter)) {
        return "the topic filter is not valid UTF-8 text of at most 65535 bytes";
    }
    size_t start = 0;
    while (true) {
        const size_t slash = filter.find('/', start);
        const std::string_view level = filter.substr(start, slash - start);
        const bool last = slash == std::string_view::npos;
        if (level.find('#') != std::string_view::npos && (level != "#" || !last)) {
            return "'#' must be a whole level and the last one";
        }
        if (level.find('+') != std::string_view::npos && level != "+") {
            return "'+' must be a whole level";
        }
        if (last) {
            return std::nullopt;
        }
        start = slash + 1;
    }
}

/// Why `host` is not a usable cluster host name, or nothing.
std::optional<std::string> clusterProblem(std::string_view host) {
    if (host.empty()) {
        return "is empty";
    }
    if (host.find("://") != std::string_view::npos) {
        return "write the host name only, without a scheme such as \"mqtts://\"";
    }
    if (host.find(':') != std::string_view::npos) {
        return "write the host name only; the port follows from websocket";
    }
    bool numeric = true;
    for (char c : host) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) == 0 && c != '-' && c != '.') {
            return std::string("contains '") + c + "', which cannot be in a host name";
        }
        numeric = numeric && (std::isdigit(u) != 0 || c == '.');
    }
    if (numeric) {
        return "must be the cluster's host name, not an IP address: HiveMQ Cloud finds the "
               "cluster by SNI";
    }
    if (host.find('.') == std::string_view::npos) {
        return "write the full host name from the cluster's overview, e.g. \"" + std::string(host) +
               ".s1.eu.hivemq.cloud\"";
    }
    return std::nullopt;
}

/// Reads endpoint_override = "host[:port]" (test brokers, private endpoints) into `s`.
void readEndpointOverride(ConfigTable& cloud, Settings& s) {
    auto value = cloud.string("endpoint_override");
    if (!value) {
        return;
    }
    std::string_view text = *value;
    std::string_view host = text;
    if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        const std::string_view digits = text.substr(colon + 1);
        int64_t port = 0;
        const bool numeric = !digits.empty() && digits.size() <= 5 &&
                             std::all_of(digits.begin(), digits.end(), [](char c) {
                                 return std::isdigit(static_cast<unsigned char>(c)) != 0;
                             });
        if (numeric) {
            port = std::stoll(std::string(digits));
        }
        if (!numeric || port < 1 || port > 65535) {
            cloud.error("endpoint_override",
                        "expected \"host\" or \"host:port\" with a port from 1 to 65535");
            return;
        }
        s.override_port = static_cast<uint16_t>(port);
    }
    if (host.find("://") != std::string_view::npos) {
        cloud.error("endpoint_override",
                    "write \"host\" or \"host:port\", without a scheme such as \"mqtts://\"");
        return;
    }
    if (host.empty() || host.find(':') != std::string_view::npos ||
        !std::all_of(host.begin(), host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
        })) {
        cloud.error("endpoint_override",
                    "expected \"host\" or \"host:port\" with a host name or IPv4 address");
        return;
    }
    s.override_host = std::string(host);
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

    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        if (msg.qos < 0 || msg.qos > 2) {
            return fail("qos_not_supported", "QoS must be 0, 1 or 2");
        }
        if (auto problem = topicProblem(msg.topic)) {
            return fail("bad_topic", *problem);
        }
        return CloudPublish{msg.topic, msg.properties};
    }

    std::vector<CloudSubscription> standingSubscriptions() const override { return {}; }

    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        if (auto problem = filterProblem(local_filter)) {
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
    if (auto user = cloud.string("username", true)) {
        if (user->empty()) {
            cloud.error("username", "is empty; HiveMQ Cloud needs access credentials");
        } else if (!validUtf8(*user) || user->size() > 65535) {
            cloud.error("username", "must be UTF-8 text of at most 65535 bytes");
        }
        s.username = *user;
    }
    s.password = readSecretFile(cloud, "password_file", true).value_or("");
    if (auto id = cloud.string("client_id", true)) {
        if (id->empty()) {
            cloud.error("client_id", "is empty");
        } else if (!validUtf8(*id) || id->size() > 65535) {
            cloud.error("client_id", "must be UTF-8 text of at most 65535 bytes");
        }
        s.client_id = *id;
    }
    s.websocket = cloud.boolean("websocket").value_or(false);
    readEndpointOverride(cloud, s);
    const auto version = cloud.choice("mqtt_version", {"3.1.1", "5"}).value_or("3.1.1");
    s.mqtt_version = version == "5" ? 5 : 4;
    s.keepalive_seconds =
        static_cast<int>(cloud.integer("keepalive_seconds", 5, 65535).value_or(60));
    cloud.finish();
    if (cloud.diagnostics().items().size() != errors_before) {
        return fail("config", "invalid hivemq-cloud settings in " + cloud.path());
    }
    return CloudProfilePtr(std::make_unique<HiveMqCloudProfile>(std::move(s)));
}

const PluginDescriptor* descriptor() {
    static const CloudPluginApi api{&create};
    static const PluginDescriptor d{kPluginAbiVersion, PluginKind::Cloud, "hivemq-cloud",
                                    "HiveMQ Cloud cluster (user name and password; SNI always "
                                    "sent)",
                                    &api};
    return &d;
}

}  // namespace uplinkd::plugins::hivemq_cloud
