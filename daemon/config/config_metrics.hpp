// SPDX-License-Identifier: Apache-2.0
// [metrics]: the opt-in Prometheus endpoint. Read by the config loader; `listen` is parsed here
// so that --check-config and the daemon agree on what it means. Thread: any (pure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "uplinkd/config_table.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

struct MetricsSection {
    std::string listen;  ///< empty: no endpoint; "host:port", "[v6]:port" or an absolute path
    uint32_t socket_mode = 0660;  ///< of a UNIX socket
    bool operator==(const MetricsSection&) const = default;
};

/// Where the endpoint listens: a UNIX socket path, or an IP address and port.
struct ListenAddress {
    std::string path;  ///< non-empty: a UNIX socket
    std::string host;  ///< an IPv4 or IPv6 address (no names: nothing to resolve at start)
    uint16_t port = 0;
};

/// "127.0.0.1:9743", "[::1]:9743", "/run/uplinkd/metrics.sock". Errors say what was expected.
Result<ListenAddress> parseListen(std::string_view text);

/// Reads [metrics] (absent: metrics off).
void readMetrics(ConfigTable t, MetricsSection& out);

}  // namespace uplinkd
