// SPDX-License-Identifier: Apache-2.0
// The broker the simcom-a76xx MQTT client's unit tests connect to. Thread: the test's.
#pragma once

#include "uplinkd/modem_mqtt.hpp"

namespace uplinkd::plugins::simcom_a76xx {

/// broker.example.com with TLS on 8883 (SNI: the host) or plain on 1883, client "dev-1".
inline ModemMqttConnect brokerParams(bool tls) {
    ModemMqttConnect p;
    p.host = "broker.example.com";
    p.port = tls ? 8883 : 1883;
    p.tls = tls;
    p.server_name = tls ? "broker.example.com" : "";
    p.client_id = "dev-1";
    p.keep_alive_s = 60;
    p.clean_session = true;
    p.timeout_s = 30;
    return p;
}

}  // namespace uplinkd::plugins::simcom_a76xx
