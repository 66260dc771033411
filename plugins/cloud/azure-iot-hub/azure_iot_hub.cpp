// SPDX-License-Identifier: Apache-2.0
#include "azure_iot_hub.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "azure_diagnosis.hpp"
#include "sas_token.hpp"
#include "uplinkd/cloud_plugin.hpp"
#include "uplinkd/connack.hpp"
#include "uplinkd/mqtt_names.hpp"
#include "uplinkd/secret_file.hpp"

namespace uplinkd::plugins::azure_iot_hub {

namespace {

constexpr std::string_view kWebSocketPath = "/$iothub/websocket";
constexpr std::string_view kIotHubPrefix = "$iothub/";
constexpr std::string_view kTwinGet = "$iothub/twin/GET/?$rid=";
constexpr std::string_view kTwinReported = "$iothub/twin/PATCH/properties/reported/?$rid=";
constexpr std::string_view kMethodResponse = "$iothub/methods/res/";
constexpr std::array<std::string_view, 3> kIotHubFilters = {
    "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#"};
/// System properties a device may set in the property bag (written "$.<name>").
constexpr std::array<std::string_view, 14> kSystemProperties = {
    "mid",     "ctime", "uid",  "cid", "ct",  "ce", "diagid",
    "diagctx", "cdid",  "cmid", "on",  "exp", "to", "sub"};

/// Device and module ids: up to 128 ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '.
std::optional<std::string> identityProblem(std::string_view id) {
    if (id.empty()) {
        return "is empty";
    }
    if (id.size() > 128) {
        return "is " + std::to_string(id.size()) + " characters long; Azure allows at most 128";
    }
    static constexpr std::string_view kExtra = "-.%_*?!(),:=@$'";
    for (char c : id) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
            kExtra.find(c) == std::string_view::npos) {
            return std::string("contains '") + c +
                   "'; Azure ids use ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '";
        }
    }
    return std::nullopt;
}

/// Why `host` is not a usable host name (of the hub, or of a gateway that may be an address),
/// or nothing.
std::optional<std::string> hostProblem(std::string_view host, bool allow_ip) {
    return mqtt::hostNameProblem(host, ", without a port",
                                 allow_ip ? ""
                                          : "must be a host name, not an IP address (the hub is "
                                            "found by SNI and its certificate names the host)");
}

std::string lowerAscii(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

/// "2021-04-12" or "2020-10-01-preview".
bool plausibleApiVersion(std::string_view v) {
    if (v.size() < 10) {
        return false;
    }
    for (size_t i = 0; i < 10; ++i) {
        const bool dash = i == 4 || i == 7;
        if (dash ? v[i] != '-' : std::isdigit(static_cast<unsigned char>(v[i])) == 0) {
            return false;
        }
    }
    if (v.size() == 10) {
        return true;
    }
    if (v[10] != '-' || v.size() == 11) {
        return false;
    }
    return std::all_of(v.begin() + 11, v.end(),
                       [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; });
}

/// The profile of one Azure IoT Hub identity: SAS signing, property bags, limits. Thread: loop.
class AzureIotHubProfile final : public CloudProfile {
  public:
    explicit AzureIotHubProfile(Settings s) : s_(std::move(s)) {
        identity_prefix_ = "devices/" + s_.device_id + "/";
        if (!s_.module_id.empty()) {
            identity_prefix_ += "modules/" + s_.module_id + "/";
        }
        events_topic_ = identity_prefix_ + "messages/events/";
        c2d_prefix_ = identity_prefix_ + "messages/devicebound/";
        c2d_filter_ = s_.module_id.empty() ? c2d_prefix_ + "#" : identity_prefix_ + "#";
    }

    std::string kind() const override { return "azure-iot-hub"; }

    BrokerEndpoint endpoint() const override {
        BrokerEndpoint e;
        e.host = s_.gateway_host.empty() ? s_.hub : s_.gateway_host;
        e.port = s_.port.value_or(s_.websocket ? 443 : 8883);
        e.tls = s_.tls;
        e.sni = e.host;
        if (s_.websocket) {
            e.websocket_path = std::string(kWebSocketPath);
        }
        return e;
    }

    int mqttVersion() const override { return 4; }
    int keepAliveSeconds() const override { return s_.keepalive_seconds; }

    Result<MqttCredentials> credentials(SystemTime now) const override {
        MqttCredentials c;
        c.client_id = s_.device_id;
        std::string identity = s_.device_id;
        if (!s_.module_id.empty()) {
            c.client_id += "/" + s_.module_id;
            identity += "/" + s_.module_id;
        }
        c.username = s_.hub + "/" + identity + "/?api-version=" + s_.api_version;
        if (s_.auth == AuthMode::X509) {
            return c;
        }
        if (!s_.sas_token.empty()) {
            // Made elsewhere: sent as it is; it cannot be renewed, so no valid_until (a renewal
            // would only reconnect with the same token). The doctor says when it expires.
            c.password = s_.sas_token;
            return c;
        }
        const int64_t now_unix =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        if (now_unix < kEarliestPlausibleUnix) {
            return fail("clock_wrong",
                        "the system clock is wrong (it is before 2024): a SAS token signed now "
                        "would already be expired at the hub; set the clock (enable NTP)");
        }
        const int64_t expiry = now_unix + s_.sas_token_lifetime_seconds;
        auto token =
            makeSasToken(sasResourceUri(s_.hub, s_.device_id, s_.module_id), s_.sas_key, expiry);
        if (!token) {
            return token.failure("cannot sign the SAS token");
        }
        c.password = std::move(*token);
        c.valid_until = SystemTime(std::chrono::seconds(expiry));
        return c;
    }

    Result<CloudPublish> mapOutgoing(const Message& msg) const override {
        if (msg.qos < 0 || msg.qos > 1) {
            return fail("qos_not_supported",
                        "Azure IoT Hub accepts QoS 0 and 1 only (it closes the connection on a "
                        "QoS 2 publish)");
        }
        if (msg.retain) {
            return fail("retain_not_supported",
                        "Azure IoT Hub does not keep retained messages; publish without retain");
        }
        if (auto problem = mqtt::publishTopicProblem(msg.topic)) {
            return fail("bad_topic", *problem);
        }
        if (msg.topic.starts_with(kIotHubPrefix)) {
            return mapIotHubPublish(msg);
        }
        if (msg.topic.front() == '$') {
            return fail("bad_topic",
                        "topics starting with '$' are reserved; Azure IoT Hub accepts only "
                        "$iothub/twin/... and $iothub/methods/res/... of them");
        }
        std::string topic = events_topic_;
        topic += kTopicProperty;
        topic += '=';
        topic += urlEncode(msg.topic);
        for (const auto& [key, value] : msg.properties) {
            if (key.empty()) {
                return fail("bad_property", "a property has an empty name");
            }
            if (key == kTopicProperty) {
                return fail("bad_property",
                            "the property name \"topic\" is reserved: uplinkd sends the local "
                            "topic under it");
            }
            topic += '&';
            if (key.starts_with("$.")) {
                const std::string_view name = std::string_view(key).substr(2);
                if (std::find(kSystemProperties.begin(), kSystemProperties.end(), name) ==
                    kSystemProperties.end()) {
                    return fail("bad_property",
                                "\"" + key +
                                    "\" is not an Azure IoT Hub system property (known: $.mid, "
                                    "$.cid, $.ct, $.ce, $.uid, $.ctime, $.exp, ...)");
                }
                topic += "$.";
                topic += urlEncode(name);
            } else {
                topic += urlEncode(key);
            }
            topic += '=';
            topic += urlEncode(value);
        }
        if (topic.size() > 65535) {
            return fail("bad_property",
                        "the topic and properties make a topic longer than MQTT allows (65535 "
                        "bytes)");
        }
        const size_t size = msg.payload.size() + topic.size() - events_topic_.size();
        if (size > kMaxD2cBytes) {
            return fail("payload_too_large",
                        "the message is " + std::to_string(size) +
                            " bytes with its properties; Azure IoT Hub accepts at most " +
                            std::to_string(kMaxD2cBytes) + " (256 KiB)");
        }
        return CloudPublish{std::move(topic), {}};
    }

    std::vector<CloudSubscription> standingSubscriptions() const override {
        return {CloudSubscription{c2d_filter_, 1}};
    }

    Result<CloudSubscription> mapSubscribe(const std::string& local_filter,
                                           int qos) const override {
        if (auto problem = mqtt::topicFilterProblem(local_filter)) {
            return fail("bad_topic", *problem);
        }
        const int granted = std::clamp(qos, 0, 1);
        if (local_filter.starts_with(kIotHubPrefix)) {
            if (std::find(kIotHubFilters.begin(), kIotHubFilters.end(), local_filter) ==
                kIotHubFilters.end()) {
                return fail("bad_topic",
                            "Azure IoT Hub allows only these $iothub subscriptions: "
                            "$iothub/twin/res/#, $iothub/twin/PATCH/properties/desired/#, "
                            "$iothub/methods/POST/#");
            }
            return CloudSubscription{local_filter, granted};
        }
        if (local_filter.front() == '$') {
            return fail("bad_topic", "topics starting with '$' are reserved by Azure IoT Hub");
        }
        // Cloud-to-device messages all arrive on the one standing subscription; their local
        // topic comes from the property bag, so any local filter is served by it.
        return CloudSubscription{c2d_filter_, granted};
    }

    IncomingMessage mapIncoming(const std::string& broker_topic) const override {
        IncomingMessage in;
        in.broker_topic = broker_topic;
        if (!broker_topic.starts_with(c2d_prefix_)) {
            in.topic = broker_topic;  // $iothub/... and anything else: unchanged
            return in;
        }
        in.topic = kC2dLocalTopic;
        std::string_view bag = std::string_view(broker_topic).substr(c2d_prefix_.size());
        bool topic_taken = false;
        while (!bag.empty()) {
            const size_t amp = bag.find('&');
            const std::string_view pair = bag.substr(0, amp);
            bag = amp == std::string_view::npos ? std::string_view{} : bag.substr(amp + 1);
            if (pair.empty()) {
                continue;
            }
            const size_t eq = pair.find('=');
            const std::string_view raw_key = pair.substr(0, eq);
            const std::string_view raw_value =
                eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
            auto key = urlDecode(raw_key);
            auto value = urlDecode(raw_value);
            std::string k = key ? std::move(*key) : std::string(raw_key);
            std::string v = value ? std::move(*value) : std::string(raw_value);
            if (!topic_taken && k == kTopicProperty && !mqtt::publishTopicProblem(v) &&
                v.front() != '$') {
                in.topic = std::move(v);
                topic_taken = true;
                continue;
            }
            in.properties.emplace_back(std::move(k), std::move(v));
        }
        return in;
    }

    std::string explainConnack(int code) const override {
        std::string text = "Azure IoT Hub refused the connection (" + connackMeaning(code) + ")";
        if (code != 5 && code != 0x87) {
            return text +
                   "; the hub normally answers 5 to every refusal, so this may not be an "
                   "Azure IoT Hub at all (check hub and gateway_host)";
        }
        const std::string identity = s_.module_id.empty()
                                         ? "device \"" + s_.device_id + "\""
                                         : "module \"" + s_.device_id + "/" + s_.module_id + "\"";
        text +=
            ". The hub gives the same answer for every cause; the usual ones, most likely "
            "first: ";
        if (s_.auth == AuthMode::Sas) {
            text += "(1) the SAS token is expired or wrongly signed: sas_key_file must hold the " +
                    identity +
                    "'s own primary or secondary key (not a hub policy key or a connection "
                    "string); "
                    "(2) the device id or hub in the user name does not match an identity "
                    "registered in " +
                    s_.hub +
                    " (ids are case-sensitive); "
                    "(3) the device is disabled in the hub; "
                    "(4) the gateway's clock is wrong: tokens are signed for the local time and "
                    "the hub refuses them when it is more than about 5 minutes off (enable "
                    "NTP)";
        } else {
            text += "(1) the client certificate does not match the " + identity +
                    ": its thumbprint must be registered (self-signed) or its CN must equal "
                    "the device id and its CA must be uploaded and verified (CA-signed); "
                    "(2) the device id or hub in the user name does not match an identity "
                    "registered in " +
                    s_.hub +
                    " (ids are case-sensitive); "
                    "(3) the device is disabled in the hub, or is set up for SAS instead of "
                    "X.509; "
                    "(4) the gateway's clock is wrong (enable NTP)";
        }
        return text;
    }

    CloudDiagnosis diagnosis() const override { return diagnose(s_, endpoint()); }

    std::vector<Finding> checkCredentials(const MqttCredentials& creds,
                                          SystemTime now) const override {
        return checkSasCredentials(s_, creds, now);
    }

    std::string explainSilentClose() const override {
        return "Azure IoT Hub closed the connection without answering CONNECT. It normally "
               "answers refusals with CONNACK 5, so this points at the transport: port 8883 "
               "speaks MQTT directly and port 443 only MQTT over WebSocket (websocket = " +
               std::string(s_.websocket ? "true" : "false") +
               " here), and a firewall or proxy may cut MQTT traffic";
    }

  private:
    Result<CloudPublish> mapIotHubPublish(const Message& msg) const {
        if (!msg.properties.empty()) {
            return fail("bad_property", "messages to $iothub/ topics cannot carry properties");
        }
        size_t limit = 0;
        if (msg.topic.starts_with(kTwinGet)) {
            limit = kMaxTwinPatchBytes;
        } else if (msg.topic.starts_with(kTwinReported)) {
            limit = kMaxTwinPatchBytes;
        } else if (msg.topic.starts_with(kMethodResponse)) {
            limit = kMaxMethodResponseBytes;
        } else {
            return fail("bad_topic",
                        "a device may publish only to $iothub/twin/GET/?$rid=..., "
                        "$iothub/twin/PATCH/properties/reported/?$rid=... and "
                        "$iothub/methods/res/{status}/?$rid=...");
        }
        if (msg.payload.size() > limit) {
            return fail("payload_too_large", "the message is " +
                                                 std::to_string(msg.payload.size()) +
                                                 " bytes; Azure IoT Hub accepts at most " +
                                                 std::to_string(limit) + " on this topic");
        }
        return CloudPublish{msg.topic, {}};
    }

    Settings s_;
    std::string identity_prefix_;
    std::string events_topic_;
    std::string c2d_prefix_;
    std::string c2d_filter_;
};

void readIdentity(ConfigTable& cloud, Settings& s) {
    if (auto device = cloud.string("device_id", true)) {
        if (auto problem = identityProblem(*device)) {
            cloud.error("device_id", *problem);
        }
        s.device_id = *device;
    }
    if (auto module = cloud.string("module_id")) {
        if (auto problem = identityProblem(*module)) {
            cloud.error("module_id", *problem);
        }
        s.module_id = *module;
    }
}

void readHub(ConfigTable& cloud, Settings& s) {
    auto hub = cloud.string("hub", true);
    if (!hub) {
        return;
    }
    if (hub->starts_with("HostName=")) {
        cloud.error("hub",
                    "this is a connection string: put its HostName in hub, its DeviceId in "
                    "device_id and its SharedAccessKey in the file named by sas_key_file");
    } else if (auto problem = hostProblem(*hub, false)) {
        cloud.error("hub", *problem);
    } else if (hub->find('.') == std::string::npos) {
        cloud.error("hub", "write the full host name, e.g. \"" + *hub + ".azure-devices.net\"");
    } else {
        s.hub = lowerAscii(*hub);
    }
}

/// sas_token_file: a token made elsewhere. Only its form is checked here; whether it is for
/// this identity and still valid is the doctor's (credentials.sas_token).
void readSasToken(ConfigTable& cloud, Settings& s) {
    auto content = readSecretFile(cloud, "sas_token_file", true);
    if (!content) {
        return;
    }
    std::string token = trimmed(*content);
    if (auto parsed = parseSasToken(token); !parsed) {
        cloud.error("sas_token_file", "the file does not hold a SAS token (" +
                                          parsed.error().message +
                                          "); it must hold \"SharedAccessSignature sr=...\"");
        return;
    }
    s.sas_token = std::move(token);
    s.sas_token_file = cloud.string("sas_token_file").value_or("");
}

void readSasKey(ConfigTable& cloud, Settings& s) {
    if (cloud.has("sas_token_file")) {
        if (cloud.has("sas_key_file")) {
            (void)cloud.string("sas_key_file");
            cloud.error("sas_key_file", "give sas_key_file or sas_token_file, not both");
        }
        readSasToken(cloud, s);
        return;
    }
    auto content = readSecretFile(cloud, "sas_key_file", true);
    if (!content) {
        return;
    }
    s.sas_key_file = cloud.string("sas_key_file").value_or("");
    std::string key = trimmed(*content);
    if (key.starts_with("HostName=")) {
        cloud.error("sas_key_file",
                    "the file holds a connection string; it must hold only the key (the value "
                    "after SharedAccessKey=)");
        return;
    }
    if (key.starts_with("SharedAccessSignature")) {
        cloud.error("sas_key_file",
                    "the file holds a SAS token; uplinkd needs the device key to sign its own "
                    "tokens");
        return;
    }
    auto decoded = base64Decode(key);
    if (!decoded) {
        cloud.error("sas_key_file", "the file does not hold a base64 key (" +
                                        decoded.error().message +
                                        "); copy the device's primary key from the hub");
        return;
    }
    if (decoded->empty()) {
        cloud.error("sas_key_file", "the key in the file is empty");
        return;
    }
    s.sas_key = std::move(key);
}

}  // namespace

Result<CloudProfilePtr> create(ConfigTable& cloud) {
    const size_t errors_before = cloud.diagnostics().items().size();
    Settings s;
    readHub(cloud, s);
    readIdentity(cloud, s);
    s.auth = cloud.choice("auth", {"sas", "x509"}).value_or("sas") == "x509" ? AuthMode::X509
                                                                             : AuthMode::Sas;
    if (s.auth == AuthMode::Sas) {
        readSasKey(cloud, s);
        s.sas_token_lifetime_seconds =
            cloud.integer("sas_token_lifetime_seconds", 10, 7 * 24 * 3600).value_or(3600);
    } else {
        // Read (to mark them known) and refuse the SAS-only keys.
        if (cloud.has("sas_key_file")) {
            (void)cloud.string("sas_key_file");
            cloud.error("sas_key_file", "only used with auth = \"sas\"");
        }
        if (cloud.has("sas_token_lifetime_seconds")) {
            (void)cloud.integer("sas_token_lifetime_seconds", INT64_MIN, INT64_MAX);
            cloud.error("sas_token_lifetime_seconds", "only used with auth = \"sas\"");
        }
        if (cloud.has("sas_token_file")) {
            (void)cloud.string("sas_token_file");
            cloud.error("sas_token_file", "only used with auth = \"sas\"");
        }
    }
    if (auto api = cloud.string("api_version")) {
        if (!plausibleApiVersion(*api)) {
            cloud.error("api_version", "expected a date such as \"2021-04-12\"");
        } else {
            s.api_version = *api;
        }
    }
    s.websocket = cloud.boolean("websocket").value_or(false);
    if (auto version = cloud.string("mqtt_version"); version && *version != "3.1.1") {
        cloud.error("mqtt_version",
                    "Azure IoT Hub speaks MQTT \"3.1.1\" (its MQTT 5 support is a preview that "
                    "uplinkd does not use)");
    }
    s.keepalive_seconds = readKeepalive(cloud, 30, 1177, s.keepalive_seconds);
    if (auto gateway = cloud.string("gateway_host")) {
        if (auto problem = hostProblem(*gateway, true)) {
            cloud.error("gateway_host", *problem);
        }
        s.gateway_host = *gateway;
    }
    if (auto port = cloud.integer("port", 1, 65535)) {
        s.port = static_cast<uint16_t>(*port);
    }
    s.tls = cloud.boolean("tls").value_or(true);
    return finishCloudProfile<AzureIotHubProfile>(cloud, errors_before, "azure-iot-hub",
                                                  std::move(s));
}

const PluginDescriptor* descriptor() {
    return cloudPluginDescriptor<&create>("azure-iot-hub",
                                          "Azure IoT Hub device or module (SAS tokens signed and "
                                          "renewed from the device key, or X.509)");
}

}  // namespace uplinkd::plugins::azure_iot_hub
