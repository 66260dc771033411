// SPDX-License-Identifier: Apache-2.0
// ConnectErrorCodes and MqttConnectCodes: a model's tables of the codes it reports for each way
// a host connection or a broker connection can end, and their lookups. Pure, no I/O.
#pragma once

#include "host_socket.hpp"
#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// A model's code for each ConnectError; `other` for a refused connection and any other failure.
struct ConnectErrorCodes {
    int dns;
    int timeout;
    int tls_init;
    int tls_verify;
    int tls_handshake;
    int other;
};

/// The code `codes` gives for `e` (`e` is a failure, not ConnectError::None).
constexpr int codeFor(ConnectError e, const ConnectErrorCodes& codes) {
    switch (e) {
        case ConnectError::Dns:
            return codes.dns;
        case ConnectError::Timeout:
            return codes.timeout;
        case ConnectError::TlsInit:
            return codes.tls_init;
        case ConnectError::TlsVerify:
            return codes.tls_verify;
        case ConnectError::TlsHandshake:
            return codes.tls_handshake;
        default:
            return codes.other;
    }
}

/// A model's code for each MqttConnectResult.
struct MqttConnectCodes {
    int ok;
    int dns;
    int refused;
    int timeout;
    int tls_init;
    int tls_verify;
    int tls_handshake;
    int closed_without_connack;
    int connack_base;   ///< CONNACK return code 1-5 gives connack_base + the code
    int connack_other;  ///< any other CONNACK return code
    int failed;
};

/// The code `codes` gives for the outcome `r` (with CONNACK return code `connack_code`).
constexpr int codeFor(MqttConnectResult r, int connack_code, const MqttConnectCodes& codes) {
    switch (r) {
        case MqttConnectResult::Ok:
            return codes.ok;
        case MqttConnectResult::Dns:
            return codes.dns;
        case MqttConnectResult::Refused:
            return codes.refused;
        case MqttConnectResult::Timeout:
            return codes.timeout;
        case MqttConnectResult::TlsInit:
            return codes.tls_init;
        case MqttConnectResult::TlsVerify:
            return codes.tls_verify;
        case MqttConnectResult::TlsHandshake:
            return codes.tls_handshake;
        case MqttConnectResult::ClosedWithoutConnack:
            return codes.closed_without_connack;
        case MqttConnectResult::ConnackRefused:
            return connack_code >= 1 && connack_code <= 5 ? codes.connack_base + connack_code
                                                          : codes.connack_other;
        case MqttConnectResult::Failed:
            break;
    }
    return codes.failed;
}

}  // namespace uplinkd::emulator
