// SPDX-License-Identifier: Apache-2.0
// dropPeer: the step of `fault drop-link` that every model takes for each host connection.
#pragma once

#include <memory>

namespace uplinkd::emulator {

/// The far end drops `conn` (a HostSocket or an MqttLink), if there is one; the copy taken
/// here keeps it alive through the close callbacks it fires. Loop thread.
template <typename Connection>
void dropPeer(std::shared_ptr<Connection> conn) {
    if (conn) {
        conn->dropAsRemote();
    }
}

}  // namespace uplinkd::emulator
