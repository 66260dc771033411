// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/connack.hpp"

namespace uplinkd {

std::string connackMeaning(int code) {
    switch (code) {
        case 0:
            return "accepted";
        case 1:
            return "the broker does not accept this MQTT protocol version";
        case 2:
            return "the broker rejected the client id";
        case 3:
            return "the broker is unavailable";
        case 4:
            return "bad user name or password";
        case 5:
            return "not authorized";
        case 0x80:
            return "unspecified error";
        case 0x81:
            return "malformed packet";
        case 0x82:
            return "protocol error";
        case 0x83:
            return "implementation-specific error";
        case 0x84:
            return "unsupported protocol version";
        case 0x85:
            return "client identifier not valid";
        case 0x86:
            return "bad user name or password";
        case 0x87:
            return "not authorized";
        case 0x88:
            return "server unavailable";
        case 0x89:
            return "server busy";
        case 0x8A:
            return "banned";
        case 0x8B:
            return "server shutting down";
        case 0x8C:
            return "bad authentication method";
        case 0x8D:
            return "keep-alive timeout";
        case 0x8E:
            return "session taken over by another connection with the same client id";
        case 0x8F:
            return "topic filter invalid";
        case 0x90:
            return "topic name invalid";
        case 0x93:
            return "receive maximum exceeded";
        case 0x95:
            return "packet too large";
        case 0x97:
            return "quota exceeded";
        case 0x99:
            return "payload format invalid";
        case 0x9A:
            return "retain not supported";
        case 0x9B:
            return "QoS not supported";
        case 0x9C:
            return "use another server";
        case 0x9D:
            return "server moved";
        case 0x9F:
            return "connection rate exceeded";
        default:
            return "reason code " + std::to_string(code);
    }
}

}  // namespace uplinkd
