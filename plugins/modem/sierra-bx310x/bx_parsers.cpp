// SPDX-License-Identifier: Apache-2.0
#include "bx_parsers.hpp"

#include "common/generic_at.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::afterPrefix;
using modem_common::parseInt;
using modem_common::splitFields;
using modem_common::trimLine;
using modem_common::unexpectedReply;
using modem_common::unquote;

namespace {

/// A quoted field ("..." with no quote inside), without its quotes.
std::optional<std::string> quotedField(std::string_view f) {
    const auto inner = modem_common::quotedContent(f);
    if (!inner || inner->find('"') != std::string_view::npos) {
        return std::nullopt;
    }
    return std::string(*inner);
}

}  // namespace

Result<StaStatus> parseStaStatus(std::string_view line) {
    const auto rest = afterPrefix(trimLine(line), "+SRWSTASTATUS:");
    if (!rest) {
        return unexpectedReply("+SRWSTASTATUS", line);
    }
    const auto f = splitFields(*rest);
    const auto state = f.empty() ? std::nullopt : parseInt(f[0], 0, 1);
    if (!state) {
        return unexpectedReply("+SRWSTASTATUS", line);
    }
    StaStatus s;
    s.associated = *state == 1;
    if (!s.associated) {
        if (f.size() >= 2) {
            const auto reason = parseInt(f[1], 0, 65535);
            if (!reason) {
                return unexpectedReply("+SRWSTASTATUS", line);
            }
            s.reason = static_cast<int>(*reason);
        }
        return s;
    }
    if (f.size() < 2) {
        return s;  // associated, details not given
    }
    const auto ssid = quotedField(f[1]);
    if (!ssid) {
        return unexpectedReply("+SRWSTASTATUS", line);
    }
    s.ssid = *ssid;
    if (f.size() >= 3) {
        s.mac = std::string(unquote(f[2]));
    }
    if (f.size() >= 4) {
        if (const auto ch = parseInt(f[3], 0, 255)) {
            s.channel = static_cast<int>(*ch);
        }
    }
    if (f.size() >= 6) {
        if (const auto rssi = parseInt(f[5], -127, -1)) {
            s.rssi_dbm = static_cast<int>(*rssi);
        }
    }
    return s;
}

Result<StaIp> parseStaIp(std::string_view line) {
    const auto rest = afterPrefix(trimLine(line), "+SRWSTAIP:");
    if (!rest) {
        return unexpectedReply("+SRWSTAIP", line);
    }
    const auto f = splitFields(*rest);
    if (f.empty()) {
        return unexpectedReply("+SRWSTAIP", line);
    }
    StaIp ip;
    std::string* out[] = {&ip.ip, &ip.mask, &ip.gateway};
    for (size_t i = 0; i < f.size() && i < 3; ++i) {
        const auto v = quotedField(f[i]);
        if (!v || v->size() > 45) {
            return unexpectedReply("+SRWSTAIP", line);
        }
        *out[i] = *v;
    }
    if (ip.ip.empty()) {
        return unexpectedReply("+SRWSTAIP", line);
    }
    return ip;
}

Result<int> parseKmqttCfg(std::string_view line) {
    const auto rest = afterPrefix(trimLine(line), "+KMQTTCFG:");
    const auto id = rest ? parseInt(*rest, 0, 255) : std::nullopt;
    if (!id) {
        return unexpectedReply("+KMQTTCFG", line);
    }
    return static_cast<int>(*id);
}

Result<KmqttInd> parseKmqttInd(std::string_view line) {
    return modem_common::idAndValue<KmqttInd>(line, "+KMQTT_IND:", 255, 255);
}

bool isIncoming(std::string_view line) {
    const std::string_view l = trimLine(line);
    return l.starts_with("+KMQTT_DATA:") || l.starts_with("+KMQTTSUB:");
}

Result<Incoming> parseIncoming(std::string_view raw) {
    // Only CR/LF around the line go: spaces and quotes inside the data are data.
    std::string_view line = raw;
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
        line.remove_suffix(1);
    }
    std::string_view rest;
    if (auto r = afterPrefix(line, "+KMQTT_DATA:")) {
        const size_t comma = r->find(',');
        if (comma == std::string_view::npos || !parseInt(trimLine(r->substr(0, comma)), 0, 255)) {
            return unexpectedReply("+KMQTT_DATA", raw);
        }
        rest = r->substr(comma + 1);
    } else if (auto r2 = afterPrefix(line, "+KMQTTSUB:")) {
        rest = *r2;
    } else {
        return unexpectedReply("incoming message", raw);
    }
    while (!rest.empty() && rest.front() == ' ') {
        rest.remove_prefix(1);
    }
    // "<topic>","<data>": the topic holds no quote; the data runs to the last quote.
    if (rest.size() < 2 || rest.front() != '"') {
        return unexpectedReply("incoming message", raw);
    }
    const size_t topic_end = rest.find('"', 1);
    if (topic_end == std::string_view::npos) {
        return unexpectedReply("incoming message", raw);
    }
    Incoming in;
    in.topic = std::string(rest.substr(1, topic_end - 1));
    std::string_view after = rest.substr(topic_end + 1);
    if (after.size() < 3 || after[0] != ',' || after[1] != '"' || after.back() != '"') {
        return unexpectedReply("incoming message", raw);
    }
    in.payload = std::string(after.substr(2, after.size() - 3));
    if (in.topic.empty()) {
        return unexpectedReply("incoming message", raw);
    }
    return in;
}

Result<std::vector<StoredCert>> parseCertStoreList(const std::vector<std::string>& lines) {
    return modem_common::parseKcertStoreListing(lines, modem_common::KeyEntries::Listed);
}

Result<int64_t> parseCclk(std::string_view line) {
    // "yy/MM/dd,hh:mm:ss[+-zz]", in quotes or not.
    const auto rest = afterPrefix(trimLine(line), "+CCLK:");
    const auto t = rest ? modem_common::parseClockText(unquote(trimLine(*rest)),
                                                       modem_common::ClockZone::Optional)
                        : std::nullopt;
    if (!t) {
        return unexpectedReply("+CCLK", line);
    }
    return *t;
}

}  // namespace uplinkd::plugins::sierra_bx310x
