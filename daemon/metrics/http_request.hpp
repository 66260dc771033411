// SPDX-License-Identifier: Apache-2.0
// The little HTTP the metrics endpoint speaks: one request head in, one response out, then the
// connection closes. Parsing and answering are pure, so they are tested from tables. Thread: any.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace uplinkd::metrics {

/// A request head larger than this is answered 431 and the connection closed.
inline constexpr size_t kMaxRequestHeadBytes = 8192;

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    bool head_only = false;  ///< HEAD: headers with the body's length, no body
};

/// The answer to one request head (request line, headers, blank line). `metrics` is called only
/// for GET or HEAD /metrics and returns the exposition text.
HttpResponse answerRequest(std::string_view head, const std::function<std::string()>& metrics);

/// A response with nothing to parse first (400 on a read error, 431 on an oversized head).
HttpResponse errorResponse(int status);

/// The bytes on the wire: status line, Content-Type, Content-Length, Connection: close.
std::string serialize(const HttpResponse& response);

}  // namespace uplinkd::metrics
