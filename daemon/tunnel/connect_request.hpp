// SPDX-License-Identifier: Apache-2.0
// Parsing of the HTTP CONNECT request that Paho sends to the loopback tunnel. Pure. Thread: any.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "uplinkd/base64.hpp"  // the credentials are base64 (clients encode them with it)
#include "uplinkd/result.hpp"

namespace uplinkd {

struct ConnectRequest {
    std::string target;  ///< "host:port" from the request line
    std::string user;    ///< proxy user name (the route)
    std::string secret;  ///< proxy password (the per-start secret)
};

/// Parses a complete request head (up to and including the blank line). Missing or malformed
/// credentials are an error with code "tunnel_auth"; anything else malformed is "tunnel_request".
Result<ConnectRequest> parseConnectRequest(std::string_view head);

}  // namespace uplinkd
