// SPDX-License-Identifier: Apache-2.0
#include "azure_diagnosis.hpp"

#include <cctype>
#include <ctime>

#include "sas_token.hpp"
#include "uplinkd/time_text.hpp"

namespace uplinkd::plugins::azure_iot_hub {

namespace {

/// The host part of a resource URI ("h/devices/d" → "h").
std::string_view hostOf(std::string_view uri) {
    const size_t slash = uri.find('/');
    return slash == std::string_view::npos ? uri : uri.substr(0, slash);
}

bool sameHost(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

Finding credential(const char* id, CheckOutcome outcome, std::string found, std::string fix = "") {
    return Finding{CheckLayer::Credentials, id, outcome, std::move(found), std::move(fix)};
}

}  // namespace

CloudDiagnosis diagnose(const Settings& s, const BrokerEndpoint& configured) {
    CloudDiagnosis d;
    if (s.auth == AuthMode::X509) {
        // CA-signed X.509 identities: the leaf's CN must be the device id (device/module for a
        // module identity).
        d.expected_subject_cn = s.module_id.empty() ? s.device_id : s.device_id + "/" + s.module_id;
        d.subject_cn_required = true;
    }
    if (!s.websocket) {
        BrokerEndpoint ws = configured;
        ws.port = 443;
        ws.websocket_path = "/$iothub/websocket";
        d.alternatives.push_back(
            {"MQTT over WebSocket on port 443 (/$iothub/websocket)", ws, "websocket = true"});
    }
    // Device-to-cloud messages cannot be subscribed to: no round trip.
    if (!s.sas_key_file.empty()) {
        d.secret_files.emplace_back("sas_key_file", s.sas_key_file);
    }
    if (!s.sas_token_file.empty()) {
        d.secret_files.emplace_back("sas_token_file", s.sas_token_file);
    }
    return d;
}

std::vector<Finding> checkSasCredentials(const Settings& s, const MqttCredentials& creds,
                                         SystemTime now) {
    std::vector<Finding> out;
    const std::string identity =
        s.module_id.empty() ? s.device_id : s.device_id + "/" + s.module_id;
    const std::string expected_user = s.hub + "/" + identity + "/?api-version=" + s.api_version;
    if (creds.client_id != identity || creds.username != expected_user) {
        out.push_back(credential("credentials.identity", CheckOutcome::Fail,
                                 "client id \"" + creds.client_id + "\" and user name \"" +
                                     creds.username + "\" do not name " + identity + " on " + s.hub,
                                 "correct hub, device_id and module_id in the route's [cloud] "
                                 "section"));
        return out;
    }
    out.push_back(
        credential("credentials.identity", CheckOutcome::Ok,
                   "client id \"" + creds.client_id + "\", user name \"" + creds.username + "\""));
    if (s.auth == AuthMode::X509) {
        return out;  // the client certificate authenticates (files.subject_cn checks its CN)
    }
    const std::string source = s.sas_token_file.empty() ? "sas_key_file" : "sas_token_file";
    const std::string fix_token =
        s.sas_token_file.empty()
            ? std::string("put the identity's own primary key in the file named by sas_key_file")
            : "make a new token for " + identity + " on " + s.hub +
                  " in the file named by sas_token_file, or let uplinkd sign its own: replace "
                  "sas_token_file with sas_key_file (the device key)";
    auto token = parseSasToken(creds.password);
    if (!token) {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Fail,
                                 "the SAS token is malformed: " + token.error().message,
                                 fix_token));
        return out;
    }
    const int64_t now_unix =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const int64_t left = token->expiry_unix - now_unix;
    std::string found = "SAS token (from " + source + ") for sr \"" + token->resource_uri +
                        "\", se " + std::to_string(token->expiry_unix) + " (" +
                        formatUtc(token->expiry_unix) + ")";
    found += left > 0 ? ", valid for " + durationText(left)
                      : ", expired " + durationText(-left) + " ago";
    if (!token->policy_name.empty()) {
        found += ", signed with the shared access policy \"" + token->policy_name + "\"";
    }
    const std::string expected_sr = sasResourceUri(s.hub, s.device_id, s.module_id);
    if (!sameHost(hostOf(token->resource_uri), s.hub)) {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Fail,
                                 found + ": it is for hub \"" +
                                     std::string(hostOf(token->resource_uri)) + "\", not " + s.hub,
                                 fix_token));
    } else if (!sasResourceCovers(token->resource_uri, expected_sr)) {
        out.push_back(credential(
            "credentials.sas_token", CheckOutcome::Fail,
            found + ": it is for another identity than \"" + expected_sr + "\"", fix_token));
    } else if (token->sr_as_sent.find('/') != std::string::npos) {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Fail,
                                 found + ": sr is not URL-encoded (\"" + token->sr_as_sent +
                                     "\"); the hub checks the signature over the encoded form",
                                 fix_token));
    } else if (left <= 0) {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Fail,
                                 found + ": the hub refuses it (CONNACK 5)", fix_token));
    } else if (!s.sas_token_file.empty() && left < 24 * 3600) {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Warn,
                                 found + ": uplinkd cannot renew a token it did not sign",
                                 fix_token));
    } else {
        out.push_back(credential("credentials.sas_token", CheckOutcome::Ok, found));
    }
    return out;
}

}  // namespace uplinkd::plugins::azure_iot_hub
