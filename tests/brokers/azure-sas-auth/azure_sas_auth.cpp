// SPDX-License-Identifier: Apache-2.0
// mosquitto_azure_sas_auth: a Mosquitto 2.0 plugin that checks CONNECT the way Azure IoT Hub does
// (client id = device id, user name "{hub}/{device}/?api-version=...", password a SAS token signed
// with the device key), disconnects a client when its token expires, and limits devices to their
// own topics. For tests only. Thread: the broker's main loop (every callback runs there).
//
// Options (mosquitto.conf):
//   plugin_opt_hub <host>                 required, e.g. "testhub.azure-devices.net"
//   plugin_opt_device_key <base64>        key for any identity without its own key
//   plugin_opt_device.<id> <base64>       key of one identity: "<device>" or "<device>/<module>"
//   plugin_opt_service_username <name>    optional: a "service side" client (plain password) that
//   plugin_opt_service_password <secret>  may publish and subscribe anywhere (C2D, reading D2C)
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <ctime>
#include <map>
#include <string>
#include <string_view>

#include "sas_token.hpp"

namespace {

namespace sas = uplinkd::plugins::azure_iot_hub;

/// A connection admitted with a SAS token, and when the token runs out. Thread: broker loop.
struct Admitted {
    const mosquitto* client = nullptr;
    int64_t expiry_unix = 0;
};

/// The plugin's state: options and the admitted connections. Thread: broker main loop.
struct SasAuth {
    std::string hub;
    std::string default_key;
    std::map<std::string, std::string, std::less<>> keys;  // identity → base64 key
    std::string service_username;
    std::string service_password;
    std::map<std::string, Admitted, std::less<>> admitted;  // client id → token expiry

    bool isService(const mosquitto* client) const {
        const char* user = mosquitto_client_username(client);
        return !service_username.empty() && user != nullptr && service_username == user;
    }

    const std::string* keyFor(std::string_view identity) const {
        if (auto it = keys.find(identity); it != keys.end()) {
            return &it->second;
        }
        return default_key.empty() ? nullptr : &default_key;
    }
};

mosquitto_plugin_id_t* g_id = nullptr;

int refuse(const char* client_id, const std::string& why) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "azure-sas-auth: refused client \"%s\": %s",
                         client_id ? client_id : "", why.c_str());
    return MOSQ_ERR_AUTH;
}

int onBasicAuth(int /*event*/, void* event_data, void* userdata) {
    auto* state = static_cast<SasAuth*>(userdata);
    auto* ev = static_cast<mosquitto_evt_basic_auth*>(event_data);
    const char* client_id = mosquitto_client_id(ev->client);
    if (ev->username == nullptr || ev->password == nullptr) {
        return refuse(client_id, "no user name or no password");
    }
    if (!state->service_username.empty() && state->service_username == ev->username) {
        return state->service_password == ev->password ? MOSQ_ERR_SUCCESS
                                                       : refuse(client_id, "bad service password");
    }
    if (client_id == nullptr || *client_id == '\0') {
        return refuse(client_id, "no client id (it must be the device id)");
    }
    const std::string identity = client_id;  // "<device>" or "<device>/<module>"
    const size_t slash = identity.find('/');
    const std::string device = identity.substr(0, slash);
    const std::string module = slash == std::string::npos ? "" : identity.substr(slash + 1);
    if (device.empty() || (slash != std::string::npos && module.empty()) ||
        module.find('/') != std::string::npos) {
        return refuse(client_id, "the client id is not \"<device>\" or \"<device>/<module>\"");
    }
    const std::string user_prefix = state->hub + "/" + identity + "/?api-version=";
    const std::string_view user = ev->username;
    if (!user.starts_with(user_prefix) || user.size() == user_prefix.size() ||
        user[user_prefix.size()] == '&') {
        return refuse(client_id, "the user name is not \"" + user_prefix + "<version>\"");
    }
    const std::string* key = state->keyFor(identity);
    if (key == nullptr) {
        return refuse(client_id, "no key for this identity");
    }
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto token = sas::parseAndVerifySasToken(ev->password, *key, now);
    if (!token) {
        return refuse(client_id, token.error().code + ": " + token.error().message);
    }
    const std::string resource = sas::sasResourceUri(state->hub, device, module);
    if (!sas::sasResourceCovers(token->resource_uri, resource)) {
        return refuse(client_id, "the token's sr \"" + token->resource_uri +
                                     "\" does not cover \"" + resource + "\"");
    }
    state->admitted[identity] = Admitted{ev->client, token->expiry_unix};
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "azure-sas-auth: accepted \"%s\", token valid for %lld s",
                         client_id, static_cast<long long>(token->expiry_unix - now));
    return MOSQ_ERR_SUCCESS;
}

bool allowedForDevice(std::string_view identity, std::string_view topic, int access) {
    const size_t slash = identity.find('/');
    std::string prefix = "devices/" + std::string(identity.substr(0, slash)) + "/";
    if (slash != std::string_view::npos) {
        prefix += "modules/" + std::string(identity.substr(slash + 1)) + "/";
    }
    const bool module = slash != std::string_view::npos;
    switch (access) {
        case MOSQ_ACL_WRITE:
            return topic.starts_with(prefix + "messages/events/") ||
                   topic.starts_with("$iothub/twin/GET/") ||
                   topic.starts_with("$iothub/twin/PATCH/properties/reported/") ||
                   topic.starts_with("$iothub/methods/res/");
        case MOSQ_ACL_SUBSCRIBE:
            return topic == (module ? prefix + "#" : prefix + "messages/devicebound/#") ||
                   topic == "$iothub/twin/res/#" ||
                   topic == "$iothub/twin/PATCH/properties/desired/#" ||
                   topic == "$iothub/methods/POST/#";
        case MOSQ_ACL_READ:
            return topic.starts_with(module ? prefix : prefix + "messages/devicebound/") ||
                   topic.starts_with("$iothub/");
        case MOSQ_ACL_UNSUBSCRIBE:
            return true;
        default:
            return false;
    }
}

int onAclCheck(int /*event*/, void* event_data, void* userdata) {
    auto* state = static_cast<SasAuth*>(userdata);
    auto* ev = static_cast<mosquitto_evt_acl_check*>(event_data);
    if (state->isService(ev->client)) {
        return MOSQ_ERR_SUCCESS;
    }
    const char* client_id = mosquitto_client_id(ev->client);
    if (client_id == nullptr || ev->topic == nullptr) {
        return MOSQ_ERR_ACL_DENIED;
    }
    if (ev->access == MOSQ_ACL_WRITE && ev->qos > 1) {
        return MOSQ_ERR_ACL_DENIED;  // the hub closes the connection on QoS 2
    }
    return allowedForDevice(client_id, ev->topic, ev->access) ? MOSQ_ERR_SUCCESS
                                                              : MOSQ_ERR_ACL_DENIED;
}

int onTick(int /*event*/, void* /*event_data*/, void* userdata) {
    auto* state = static_cast<SasAuth*>(userdata);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    for (auto it = state->admitted.begin(); it != state->admitted.end();) {
        if (it->second.expiry_unix <= now) {
            mosquitto_log_printf(MOSQ_LOG_NOTICE,
                                 "azure-sas-auth: token of \"%s\" expired; disconnecting",
                                 it->first.c_str());
            mosquitto_kick_client_by_clientid(it->first.c_str(), false);
            it = state->admitted.erase(it);
        } else {
            ++it;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

int onDisconnect(int /*event*/, void* event_data, void* userdata) {
    auto* state = static_cast<SasAuth*>(userdata);
    auto* ev = static_cast<mosquitto_evt_disconnect*>(event_data);
    const char* client_id = mosquitto_client_id(ev->client);
    if (client_id == nullptr) {
        return MOSQ_ERR_SUCCESS;
    }
    // Only forget the entry of this very connection (a newer one may have taken the id over).
    if (auto it = state->admitted.find(std::string_view(client_id));
        it != state->admitted.end() && it->second.client == ev->client) {
        state->admitted.erase(it);
    }
    return MOSQ_ERR_SUCCESS;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int mosquitto_plugin_version(int count,
                                                                    const int* versions) {
    for (int i = 0; i < count; ++i) {
        if (versions[i] == 5) {
            return 5;
        }
    }
    return -1;
}

__attribute__((visibility("default"))) int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier,
                                                                 void** userdata,
                                                                 mosquitto_opt* options,
                                                                 int option_count) {
    auto* state = new SasAuth();
    for (int i = 0; i < option_count; ++i) {
        const std::string_view key = options[i].key;
        const char* value = options[i].value ? options[i].value : "";
        if (key == "hub") {
            state->hub = value;
        } else if (key == "device_key") {
            state->default_key = value;
        } else if (key.starts_with("device.")) {
            state->keys[std::string(key.substr(7))] = value;
        } else if (key == "service_username") {
            state->service_username = value;
        } else if (key == "service_password") {
            state->service_password = value;
        } else {
            mosquitto_log_printf(MOSQ_LOG_ERR, "azure-sas-auth: unknown option plugin_opt_%s",
                                 options[i].key);
            delete state;
            return MOSQ_ERR_INVAL;
        }
    }
    if (state->hub.empty()) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "azure-sas-auth: plugin_opt_hub is required");
        delete state;
        return MOSQ_ERR_INVAL;
    }
    for (const auto& [identity, key] : state->keys) {
        if (!sas::base64Decode(key)) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "azure-sas-auth: the key of \"%s\" is not base64",
                                 identity.c_str());
            delete state;
            return MOSQ_ERR_INVAL;
        }
    }
    g_id = identifier;
    *userdata = state;
    int rc =
        mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, onBasicAuth, nullptr, state);
    if (rc == MOSQ_ERR_SUCCESS) {
        rc =
            mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, onAclCheck, nullptr, state);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, onTick, nullptr, state);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, onDisconnect, nullptr,
                                         state);
    }
    return rc;
}

__attribute__((visibility("default"))) int mosquitto_plugin_cleanup(void* userdata,
                                                                    mosquitto_opt* /*options*/,
                                                                    int /*option_count*/) {
    if (g_id != nullptr) {
        mosquitto_callback_unregister(g_id, MOSQ_EVT_BASIC_AUTH, onBasicAuth, nullptr);
        mosquitto_callback_unregister(g_id, MOSQ_EVT_ACL_CHECK, onAclCheck, nullptr);
        mosquitto_callback_unregister(g_id, MOSQ_EVT_TICK, onTick, nullptr);
        mosquitto_callback_unregister(g_id, MOSQ_EVT_DISCONNECT, onDisconnect, nullptr);
    }
    delete static_cast<SasAuth*>(userdata);
    g_id = nullptr;
    return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
