// SPDX-License-Identifier: Apache-2.0
// Fuzz target: bytes from a local client, as the socket API reads them. The LineFramer splits
// them (in chunks chosen by the first byte, with a small line limit so that overlong lines
// occur) and each line goes through parseRequest and into the reply the server would send.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/line_framer.hpp"
#include "api/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const size_t chunk = 1 + data[0] % 64;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    uplinkd::api::LineFramer framer(512);
    auto on_line = [](std::string_view line) {
        nlohmann::json id;
        auto req = uplinkd::api::parseRequest(line, id);
        const std::string reply =
            req ? uplinkd::api::okReply(req->id) : uplinkd::api::errorReply(id, req.error());
        if (reply.empty() || reply.back() != '\n') {
            __builtin_trap();  // every reply is one line
        }
    };
    auto on_overflow = [] {};
    while (!in.empty()) {
        const size_t n = std::min(chunk, in.size());
        framer.feed(in.substr(0, n), on_line, on_overflow);
        in.remove_prefix(n);
        if (framer.pending() > 512) {
            __builtin_trap();  // the limit holds
        }
    }
    return 0;
}
