// SPDX-License-Identifier: Apache-2.0
#include "trace_log.hpp"

#include <cstdio>

namespace uplinkd::emulator {

bool TraceLog::open(const std::string& path) {
    out_.open(path, std::ios::app);
    return out_.is_open();
}

void TraceLog::line(char dir, std::string_view text) {
    if (!out_.is_open()) {
        return;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "%8lld.%03lld %c ", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000), dir);
    out_ << stamp << printable(text) << '\n';
    out_.flush();
}

std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (u < 0x20 || u >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", u);
            out += buf;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace uplinkd::emulator
