// SPDX-License-Identifier: Apache-2.0
// HaproxyGate: HAProxy in TCP mode in front of a test broker, with content rules that refuse
// some connections the way a cloud front end does.
#pragma once

#include <cstdint>
#include <string>

#include "support/server_process.hpp"

namespace emutest {

/// HAProxy on an ephemeral port of 127.0.0.1 that forwards to 127.0.0.1:`backend_port` what
/// `rules` (frontend lines) let through; SIGTERM on destruction. Test thread only.
class HaproxyGate : public ServerProcess {
  public:
    HaproxyGate(uint16_t backend_port, const std::string& rules);

    /// Rules that close every connection whose first packet is an MQTT 3.1 CONNECT (protocol
    /// name "MQIsdp"), like a broker that only speaks MQTT 3.1.1 and later.
    static std::string refuseMqtt31();
};

}  // namespace emutest
