// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/connack.hpp"

#include "uplinkd/code_text.hpp"

namespace uplinkd {

namespace {

/// MQTT 3.1.1 return codes (0-5) and MQTT 5 reason codes (0x80 and up).
constexpr CodeText<int> kConnackMeanings[] = {
    {0, "accepted"},
    {1, "the broker does not accept this MQTT protocol version"},
    {2, "the broker rejected the client id"},
    {3, "the broker is unavailable"},
    {4, "bad user name or password"},
    {5, "not authorized"},
    {0x80, "unspecified error"},
    {0x81, "malformed packet"},
    {0x82, "protocol error"},
    {0x83, "implementation-specific error"},
    {0x84, "unsupported protocol version"},
    {0x85, "client identifier not valid"},
    {0x86, "bad user name or password"},
    {0x87, "not authorized"},
    {0x88, "server unavailable"},
    {0x89, "server busy"},
    {0x8A, "banned"},
    {0x8B, "server shutting down"},
    {0x8C, "bad authentication method"},
    {0x8D, "keep-alive timeout"},
    {0x8E, "session taken over by another connection with the same client id"},
    {0x8F, "topic filter invalid"},
    {0x90, "topic name invalid"},
    {0x93, "receive maximum exceeded"},
    {0x95, "packet too large"},
    {0x97, "quota exceeded"},
    {0x99, "payload format invalid"},
    {0x9A, "retain not supported"},
    {0x9B, "QoS not supported"},
    {0x9C, "use another server"},
    {0x9D, "server moved"},
    {0x9F, "connection rate exceeded"},
};

}  // namespace

std::string connackMeaning(int code) {
    const char* meaning = codeText(code, kConnackMeanings);
    return meaning != nullptr ? meaning : "reason code " + std::to_string(code);
}

}  // namespace uplinkd
