// SPDX-License-Identifier: Apache-2.0
#include "spwf_parsers.hpp"

#include <algorithm>
#include <cctype>

#include "common/generic_at.hpp"

namespace uplinkd::plugins::st_spwf04s {

using modem_common::CodeWords;
using modem_common::codeWords;
using modem_common::parseInt;
using modem_common::printable;
using modem_common::trimLine;
using modem_common::unexpectedReply;

namespace {

constexpr size_t kMaxCount = 1024 * 1024;

std::vector<std::string> splitColons(std::string_view text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t at = text.find(':', start);
        if (at == std::string_view::npos) {
            out.emplace_back(text.substr(start));
            return out;
        }
        out.emplace_back(text.substr(start, at - start));
        start = at + 1;
    }
}

std::optional<std::string_view> after(std::string_view line, std::string_view prefix) {
    line = trimLine(line);
    if (!line.starts_with(prefix)) {
        return std::nullopt;
    }
    return line.substr(prefix.size());
}

/// A WIND of `code` whose params are at least `min_params`.
Result<Wind> windOf(std::string_view line, int code, size_t min_params, std::string_view what) {
    auto w = parseWind(line);
    if (!w || w->code != code || w->params.size() < min_params) {
        return unexpectedReply(what, line);
    }
    return w;
}

// AT-S.ERROR codes [XCUBE, MBED-SPWF, GHI]; 111 is UNCONFIRMED (reference §4.1).
constexpr CodeWords kErrorWords[] = {
    {44,
     "the module is not associated with a Wi-Fi network (network not ready): check ssid and "
     "psk_file and that the access point is in range; uplinkd joins again on the next start"},
    {74,
     "the socket connection timed out in the module: the host did not answer (check the broker "
     "host and port, and that the Wi-Fi network lets the connection out)"},
    {76,
     "the socket or TLS connection failed in the module (code 76; the sources do not give its "
     "exact meaning, the module's own text follows): check the broker host and port and, for "
     "TLS, that tls.ca_file holds the root CA of the broker's chain"},
    {77,
     "pending data: the socket still holds bytes that were not read; uplinkd reads them and "
     "closes it again"},
    {111,
     "request failed: the module could not carry out the request (out of sockets or memory, or "
     "the peer refused); restart the module if it repeats"},
};

// WIND codes [XCUBE wifi_const.h, MBED-SPWF] (reference §4.1).
constexpr CodeWords kWindWords[] = {
    {0, "the module's console is active (it has just started)"},
    {2, "the module was reset: its Wi-Fi connection, sockets and MQTT session are gone"},
    {5,
     "hardware failure in the module's Wi-Fi part: power-cycle the module; if it repeats, the "
     "module or its supply (3.3 V, peak current) is faulty"},
    {8,
     "hard fault: the module's firmware crashed and restarts; if it repeats, update the "
     "firmware or check the supply voltage"},
    {24, "the module joined the Wi-Fi network and has an IP address"},
    {32, "the module's Wi-Fi hardware started (after power-on or a reset)"},
    {40,
     "the access point refused the module (deauthentication): the passphrase in psk_file is "
     "wrong, or the access point does not use WPA2-Personal"},
    {41,
     "joining the Wi-Fi network failed: no access point with this SSID is in range (check "
     "ssid and the access point)"},
    {33,
     "Wi-Fi network lost: the access point went away or dropped the module (signal, or a "
     "changed passphrase); check the access point, its range and psk_file"},
    {55, "data is waiting to be read on a socket"},
    {58, "a socket was closed"},
    {86, "an MQTT message arrived from the broker"},
    {87,
     "the module's MQTT connection closed: the broker ended it or the network was lost "
     "(keep-alive); uplinkd connects again"},
    {88, "WebSocket data arrived"},
    {89, "a WebSocket connection closed"},
};

}  // namespace

Result<Wind> parseWind(std::string_view line) {
    const auto rest = after(line, "+WIND:");
    if (!rest) {
        return unexpectedReply("+WIND", line);
    }
    const auto fields = splitColons(*rest);
    const auto code = parseInt(trimLine(fields[0]), 0, 999);
    if (!code) {
        return unexpectedReply("+WIND", line);
    }
    Wind w;
    w.code = static_cast<int>(*code);
    if (fields.size() > 1) {
        w.text = std::string(trimLine(fields[1]));
    }
    for (size_t i = 2; i < fields.size(); ++i) {
        w.params.push_back(fields[i]);
    }
    return w;
}

Result<ModuleError> parseModuleError(std::string_view line) {
    const auto rest = after(line, "AT-S.ERROR:");
    if (!rest) {
        return unexpectedReply("AT-S.ERROR", line);
    }
    const size_t colon = rest->find(':');
    const auto code = parseInt(trimLine(rest->substr(0, colon)), 0, 99999);
    if (!code) {
        return unexpectedReply("AT-S.ERROR", line);
    }
    ModuleError e;
    e.code = static_cast<int>(*code);
    if (colon != std::string_view::npos) {
        e.text = std::string(trimLine(rest->substr(colon + 1)));
    }
    return e;
}

Result<int> parseSockOn(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
        if (const auto rest = after(l, "AT-S.On:")) {
            const size_t colon = rest->rfind(':');
            if (colon == std::string_view::npos) {
                return unexpectedReply("AT-S.On", l);
            }
            const auto id = parseInt(trimLine(rest->substr(colon + 1)), 0, 7);
            if (!id) {
                return unexpectedReply("AT-S.On", l);
            }
            return static_cast<int>(*id);
        }
    }
    return fail("bad_reply", "AT+S.SOCKON gave no socket id (no AT-S.On line)");
}

std::optional<int> parseMqttOn(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
        if (const auto rest = after(l, "AT-S.On:")) {
            const size_t colon = rest->rfind(':');
            const auto tail = colon == std::string_view::npos ? *rest : rest->substr(colon + 1);
            if (const auto id = parseInt(trimLine(tail), 0, 255)) {
                return static_cast<int>(*id);
            }
        }
    }
    return std::nullopt;
}

size_t readingCount(const std::string& line) {
    const auto rest = after(line, "AT-S.Reading:");
    if (!rest) {
        return 0;
    }
    const auto n = parseInt(trimLine(rest->substr(0, rest->find(':'))), 0, kMaxCount);
    return n ? static_cast<size_t>(*n) : 0;
}

Result<size_t> parseSockQuery(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
        if (const auto rest = after(l, "AT-S.Query:")) {
            const auto n = parseInt(trimLine(*rest), 0, kMaxCount);
            if (!n) {
                return unexpectedReply("AT-S.Query", l);
            }
            return static_cast<size_t>(*n);
        }
    }
    return fail("bad_reply", "AT+S.SOCKQ gave no byte count (no AT-S.Query line)");
}

std::optional<std::pair<std::string, std::string>> parseVar(std::string_view line) {
    const auto rest = after(line, "AT-S.Var:");
    if (!rest) {
        return std::nullopt;
    }
    const size_t eq = rest->find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return std::nullopt;
    }
    return std::pair{std::string(trimLine(rest->substr(0, eq))),
                     std::string(trimLine(rest->substr(eq + 1)))};
}

Result<PendingData> parsePendingData(std::string_view line) {
    auto w = windOf(line, 55, 2, "+WIND:55");
    if (!w) {
        return w.failure();
    }
    const auto id = parseInt(trimLine(w->params[0]), 0, 7);
    const auto n = parseInt(trimLine(w->params[1]), 0, kMaxCount);
    if (!id || !n) {
        return unexpectedReply("+WIND:55", line);
    }
    PendingData d{static_cast<int>(*id), static_cast<size_t>(*n), static_cast<size_t>(*n)};
    if (w->params.size() > 2) {
        if (const auto c = parseInt(trimLine(w->params[2]), 0, kMaxCount)) {
            d.cumulated = static_cast<size_t>(*c);
        }
    }
    return d;
}

Result<SocketClosed> parseSocketClosed(std::string_view line) {
    auto w = windOf(line, 58, 1, "+WIND:58");
    if (!w) {
        return w.failure();
    }
    const auto id = parseInt(trimLine(w->params[0]), 0, 7);
    if (!id) {
        return unexpectedReply("+WIND:58", line);
    }
    SocketClosed c{static_cast<int>(*id), -1};
    if (w->params.size() > 1) {
        if (const auto r = parseInt(trimLine(w->params[1]), 0, 999)) {
            c.reason = static_cast<int>(*r);
        }
    }
    return c;
}

Result<MqttMessageHeader> parseMqttMessage(std::string_view line) {
    auto w = parseWind(line);
    if (!w || w->code != 86 || w->params.size() < 3) {
        return unexpectedReply("+WIND:86", line);
    }
    const auto client = parseInt(trimLine(w->params.front()), 0, 255);
    const auto len = parseInt(trimLine(w->params.back()), 0, kMaxCount);
    if (!client || !len) {
        return unexpectedReply("+WIND:86", line);
    }
    MqttMessageHeader h;
    h.client = static_cast<int>(*client);
    h.length = static_cast<size_t>(*len);
    for (size_t i = 1; i + 1 < w->params.size(); ++i) {
        h.topic += (i > 1 ? ":" : "") + w->params[i];
    }
    if (h.topic.empty()) {
        return unexpectedReply("+WIND:86", line);
    }
    return h;
}

size_t mqttMessageCount(const std::string& line) {
    const auto h = parseMqttMessage(line);
    return h ? h->length : 0;
}

Result<int> parseMqttClosed(std::string_view line) {
    auto w = windOf(line, 87, 0, "+WIND:87");
    if (!w) {
        return w.failure();
    }
    if (w->params.empty()) {
        return 0;
    }
    const auto id = parseInt(trimLine(w->params[0]), 0, 255);
    return id ? static_cast<int>(*id) : 0;
}

std::vector<StoredCredential> parseStoreListing(const std::vector<std::string>& lines) {
    std::vector<StoredCredential> out;
    for (const auto& line : lines) {
        std::vector<std::string> words;
        std::string word;
        for (const char ch : line + " ") {
            const auto u = static_cast<unsigned char>(ch);
            if (std::isalnum(u) != 0) {
                word += static_cast<char>(std::tolower(u));
            } else if (!word.empty()) {
                words.push_back(std::move(word));
                word.clear();
            }
        }
        for (const char* type : {"ca", "cert", "key"}) {
            if (std::find(words.begin(), words.end(), type) != words.end()) {
                out.push_back({type, line});
                break;
            }
        }
    }
    return out;
}

std::string errorCodeWords(int code) {
    return codeWords(kErrorWords, code);
}

std::string windWords(int code) {
    return codeWords(kWindWords, code);
}

std::string socketCloseReasonWords(int reason) {
    // The reason values are not documented in the sources (UNCONFIRMED, README): the number is
    // always shown.
    switch (reason) {
        case -1:
            return "the connection was closed";
        case 0:
            return "the peer closed the connection (reason 0)";
        default:
            return "the connection was closed by the module or the network (reason " +
                   std::to_string(reason) +
                   "): a TLS failure, a timeout or a lost Wi-Fi link; check the broker's "
                   "certificate chain (the root CA provisioned with tls.ca_file) and the Wi-Fi "
                   "signal";
    }
}

std::string explainLine(std::string_view line) {
    const std::string_view l = trimLine(line);
    const std::string shown = printable(l);
    if (auto e = parseModuleError(l)) {
        std::string words = errorCodeWords(e->code);
        if (words.empty()) {
            words = "the module refused the command (error " + std::to_string(e->code) +
                    (e->text.empty() ? std::string() : ": " + printable(e->text)) + ")";
        }
        return words + " (" + shown + ")";
    }
    if (auto w = parseWind(l)) {
        if (w->code == 58) {
            const auto c = parseSocketClosed(l);
            return "socket " + (c ? std::to_string(c->socket) : std::string("?")) + ": " +
                   socketCloseReasonWords(c ? c->reason : -1) + " (" + shown + ")";
        }
        std::string words = windWords(w->code);
        if (words.empty()) {
            words = "module event " + std::to_string(w->code);
        }
        return words + " (" + shown + ")";
    }
    if (l == "ERROR") {
        return "the module refused the command (ERROR)";
    }
    return "the module answered \"" + shown + "\"";
}

}  // namespace uplinkd::plugins::st_spwf04s
