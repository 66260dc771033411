// SPDX-License-Identifier: Apache-2.0
// azure-iot-hub for the doctor: what the hub expects of the device (CN = device id for X.509,
// WebSocket on 443 as the way around a closed 8883) and the SAS token a CONNECT would carry,
// decoded and checked against hub and identity without ever showing the signature. Pure.
// Thread: any.
#pragma once

#include <vector>

#include "azure_iot_hub.hpp"

namespace uplinkd::plugins::azure_iot_hub {

/// The diagnosis of the identity in `s`, whose configured endpoint is `configured`.
CloudDiagnosis diagnose(const Settings& s, const BrokerEndpoint& configured);

/// Findings (layer credentials) about `creds` as made at `now` for the identity in `s`.
std::vector<Finding> checkSasCredentials(const Settings& s, const MqttCredentials& creds,
                                         SystemTime now);

}  // namespace uplinkd::plugins::azure_iot_hub
