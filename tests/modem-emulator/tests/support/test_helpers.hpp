// Small helpers shared by the emulator tests: payloads and reading numbers after a token.
#pragma once

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/emulator_process.hpp"
#include "support/pty_client.hpp"

namespace emutest {

/// Bytes a naive line parser trips on: CR/LF, "OK", "ERROR", URC look-alikes, all byte values.
inline std::string trickyPayload() {
    std::string p = "\r\nOK\r\n\r\nERROR\r\n+KTCP_DATA: 1,5\r\n+CIPRXGET: 1,0\r\n> ";
    for (int i = 0; i < 256; ++i) {
        if (i != 0x1a) {  // keep Ctrl-Z out so the same payload fits every model
            p.push_back(static_cast<char>(i));
        }
    }
    p += "\r\nCONNECT\r\n";
    return p;
}

/// Reads up to `token`, then the rest of that line; returns the numbers in it
/// ("+CIPRXGET: 2,0," then "10,5\r\n" gives {10, 5}).
inline std::optional<std::vector<long>> numbersAfter(PtyClient& tty, const std::string& token,
                                                     std::chrono::milliseconds timeout = 5s) {
    if (!tty.readUntil(token, timeout)) {
        return std::nullopt;
    }
    auto line = tty.readUntil("\r\n", timeout);
    if (!line) {
        return std::nullopt;
    }
    std::vector<long> out;
    std::string cur;
    for (char c : *line) {
        if ((c >= '0' && c <= '9') || (c == '-' && cur.empty())) {
            cur.push_back(c);
        } else {
            if (!cur.empty() && cur != "-") {
                out.push_back(std::stol(cur));
            }
            cur.clear();
        }
    }
    return out;
}

/// Prints the emulator's AT trace (for a failed test).
inline void dumpTrace(const EmulatorProcess& emu) {
    std::ifstream in(emu.logPath());
    std::stringstream text;
    text << in.rdbuf();
    std::cerr << "---- emulator trace " << emu.logPath() << " ----\n" << text.str() << "----\n";
}

}  // namespace emutest
