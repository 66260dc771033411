// SPDX-License-Identifier: Apache-2.0
// ApiClient: a blocking client of the local API socket, for uplinkctl and tests. One request at
// a time or pipelined; reads reply lines as JSON. Thread: the caller's.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "uplinkd/result.hpp"

namespace uplinkd {

class ApiClient {
  public:
    ApiClient() = default;
    ~ApiClient();
    ApiClient(const ApiClient&) = delete;
    ApiClient& operator=(const ApiClient&) = delete;

    Status connect(const std::string& socket_path);
    /// Sends one request line (a newline is appended).
    Status send(const nlohmann::json& request);
    /// Sends raw bytes as they are (tests of malformed input).
    Status sendRaw(const std::string& bytes);
    /// Sends a request whose payload follows its line, byte-counted (docs/api.md, "Large
    /// payloads"): the line with "payload_length", then the bytes as they are.
    Status sendWithPayload(nlohmann::json request, std::string_view payload);
    /// The same with the payload of the file at `path`, streamed (never held whole). An error
    /// after the line was sent leaves the connection unusable: close it.
    Status sendWithFile(nlohmann::json request, const std::string& path);
    /// Reads the next line as JSON; error "timeout" when none arrives in time.
    Result<nlohmann::json> receive(std::chrono::milliseconds timeout);
    void close();

  private:
    Status sendBytes(const char* data, size_t size);

    int fd_ = -1;
    std::string buf_;
};

}  // namespace uplinkd
