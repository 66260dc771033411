// SPDX-License-Identifier: Apache-2.0
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

/// Waits until the module reports registration (stat 1): enables +CEREG URCs, then reads the
/// state; if it is not 1 yet, waits for the URC. Works with echo on or off.
inline bool waitRegistered(PtyClient& tty, std::chrono::milliseconds timeout = 10s) {
    auto set = tty.command("AT+CEREG=1");
    if (!set || set->find("\r\nOK\r\n") == std::string::npos) {
        return false;
    }
    auto now = tty.command("AT+CEREG?");
    if (!now) {
        return false;
    }
    if (now->find("+CEREG: 1,1") != std::string::npos) {
        return true;
    }
    return tty.readUntil("\r\n+CEREG: 1\r\n", timeout).has_value();
}

/// A downlink payload made of every family's framing tokens, in the order a naive reader would
/// trip on them, plus all byte values.
inline std::string framingTokenPayload() {
    std::string p = "--EOF--Pattern--\r\n+KTCP_NOTIF: 1,4\r\n\r\nOK\r\n\r\nERROR\r\n";
    p += "\r\n+CME ERROR: 912\r\n+KTCP_DATA: 1,99\r\n\r\nCONNECT\r\n> \r\n>";
    p += "+++\r\nRDY\r\n\r\nAPP RDY\r\n*ATREADY: 1\r\n+KSUP: 0\r\nPB DONE\r\n";
    p += "+CIPRXGET: 1,0\r\n+IPCLOSE: 0,1\r\n+CCHRECV: DATA,0,5\r\n+CCHRECV: 0,0\r\n";
    p += "+CCH_PEER_CLOSED: 0\r\n+CCHEVENT: 0,RECV EVENT\r\n+IPD10\r\nRECV FROM:1.2.3.4:5\r\n";
    p += "--EOF--Pat";  // a pattern cut in two
    p += "tern--";
    for (int i = 0; i < 256; ++i) {
        p.push_back(static_cast<char>(i));
    }
    p += "--EOF--Pattern--\r\nOK\r\n";  // ends like the module's own trailer
    return p;
}

/// Prints the emulator's AT trace (for a failed test).
inline void dumpTrace(const EmulatorProcess& emu) {
    std::ifstream in(emu.logPath());
    std::stringstream text;
    text << in.rdbuf();
    std::cerr << "---- emulator trace " << emu.logPath() << " ----\n" << text.str() << "----\n";
}

}  // namespace emutest
