// SPDX-License-Identifier: Apache-2.0
#include "a76xx_parsers.hpp"

#include <array>
#include <cctype>

#include "a76xx_mqtt_parsers.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::afterPrefix;
using modem_common::fieldsAfter;
using modem_common::intsAfter;
using modem_common::parseInt;
using modem_common::printable;
using modem_common::splitFields;
using modem_common::trimLine;
using modem_common::unexpectedReply;
using modem_common::unquote;

namespace {

constexpr int64_t kMaxLength = int64_t{1} << 24;

// <err> of +NETOPEN / +CIPOPEN / +CIPCLOSE [SC-TCP, SC-MAN].
constexpr std::array<std::string_view, 13> kTcpipWords = {
    "success",
    "network failure",
    "the network is not open (AT+NETOPEN)",
    "wrong parameter",
    "operation not supported",
    "the module failed to create the socket",
    "the module failed to bind the socket",
    "a TCP server is already listening",
    "the module is busy (the link may still be closing)",
    "the socket is already open",
    "timeout: no answer from the server",
    "DNS error: the module could not resolve the host name",
    "unknown error",
};

// CCH <err> [SC-MAN ch.19].
constexpr std::array<std::string_view, 20> kCchWords = {
    "success",
    "alerting state",
    "unknown error",
    "the module is busy",
    "the peer closed the connection",
    "operation timeout",
    "transfer failed",
    "memory error in the module",
    "invalid parameter",
    "network error",
    "the SSL session could not be opened",
    "state error (the session is not in a state for this)",
    "the module could not create the socket",
    "DNS error: the module could not resolve the host name",
    "the module could not connect (refused or unreachable)",
    "TLS handshake error",
    "error closing the socket",
    "no network (the data connection is down)",
    "sending data timed out",
    "certificates not set: the SSL context names a certificate file missing from the module",
};

}  // namespace

Result<int> parseNetOpen(std::string_view line) {
    const auto v = intsAfter(line, "+NETOPEN:", {{0, 255}});
    if (!v) {
        return unexpectedReply("+NETOPEN", line);
    }
    return static_cast<int>((*v)[0]);
}

Result<IdResult> parseIdResult(std::string_view line, std::string_view prefix) {
    return modem_common::idAndValue<IdResult>(line, prefix, 31, 255);
}

Result<CipSend> parseCipSend(std::string_view line) {
    // <link>,<reqSendLength>,<cnfSendLength> (-1: the link is gone)
    const auto v = intsAfter(line, "+CIPSEND:", {{0, 9}, {0, kMaxLength}, {-1, kMaxLength}});
    if (!v) {
        return unexpectedReply("+CIPSEND", line);
    }
    return CipSend{static_cast<int>((*v)[0]), static_cast<size_t>((*v)[1]),
                   static_cast<int>((*v)[2])};
}

Result<int> parseCipRxGetUrc(std::string_view line) {
    // 1,<link>
    const auto v = intsAfter(line, "+CIPRXGET:", {{1, 1}, {0, 9}});
    if (!v) {
        return unexpectedReply("+CIPRXGET", line);
    }
    return static_cast<int>((*v)[1]);
}

Result<CipRxGetRead> parseCipRxGetRead(std::string_view line) {
    // 2,<link>,<read_len>,<rest_len>
    const auto v =
        intsAfter(line, "+CIPRXGET:", {{2, 2}, {0, 9}, {0, kMaxLength}, {0, kMaxLength}});
    if (!v) {
        return unexpectedReply("+CIPRXGET", line);
    }
    return CipRxGetRead{static_cast<int>((*v)[1]), static_cast<size_t>((*v)[2]),
                        static_cast<size_t>((*v)[3])};
}

Result<int> parseCchStatus(std::string_view line, std::string_view prefix) {
    const auto v = intsAfter(line, prefix, {{0, 255}});
    if (!v) {
        return unexpectedReply(prefix, line);
    }
    return static_cast<int>((*v)[0]);
}

Result<int> parseCchRecvEvent(std::string_view line) {
    const auto f = fieldsAfter(line, "+CCHEVENT:");
    if (!f || f->size() != 2 || (*f)[1] != "RECV EVENT") {
        return unexpectedReply("+CCHEVENT", line);
    }
    const auto s = parseInt((*f)[0], 0, 1);
    if (!s) {
        return unexpectedReply("+CCHEVENT", line);
    }
    return static_cast<int>(*s);
}

Result<int> parseCchPeerClosed(std::string_view line) {
    const auto v = intsAfter(line, "+CCH_PEER_CLOSED:", {{0, 1}});
    if (!v) {
        return unexpectedReply("+CCH_PEER_CLOSED", line);
    }
    return static_cast<int>((*v)[0]);
}

Result<std::pair<size_t, size_t>> parseCchRecvLen(std::string_view line) {
    const auto f = fieldsAfter(line, "+CCHRECV:");
    if (!f || f->size() != 3 || (*f)[0] != "LEN") {
        return unexpectedReply("+CCHRECV", line);
    }
    const auto c0 = parseInt((*f)[1], 0, kMaxLength);
    const auto c1 = parseInt((*f)[2], 0, kMaxLength);
    if (!c0 || !c1) {
        return unexpectedReply("+CCHRECV", line);
    }
    return std::pair{static_cast<size_t>(*c0), static_cast<size_t>(*c1)};
}

Result<CchData> parseCchRecvData(std::string_view line) {
    const auto f = fieldsAfter(line, "+CCHRECV:");
    if (!f || f->size() != 3 || (*f)[0] != "DATA") {
        return unexpectedReply("+CCHRECV", line);
    }
    const auto s = parseInt((*f)[1], 0, 1);
    const auto len = parseInt((*f)[2], 0, kMaxLength);
    if (!s || !len) {
        return unexpectedReply("+CCHRECV", line);
    }
    return CchData{static_cast<int>(*s), static_cast<size_t>(*len)};
}

std::vector<std::string> parseCertList(const std::vector<std::string>& lines) {
    std::vector<std::string> names;
    for (const auto& line : lines) {
        if (auto rest = afterPrefix(trimLine(line), "+CCERTLIST:")) {
            const auto name = unquote(*rest);
            if (!name.empty()) {
                names.emplace_back(name);
            }
        }
    }
    return names;
}

Result<RegState> parseRegistrationRead(std::string_view line) {
    for (const std::string_view prefix : {"+CEREG:", "+CGREG:", "+CREG:"}) {
        if (trimLine(line).starts_with(prefix)) {
            return modem_common::parseRegistrationRead(line, prefix);
        }
    }
    return unexpectedReply("registration", line);
}

Result<SignalQuality> parseCsq(std::string_view line) {
    return modem_common::parseCsq(line);
}

std::string tcpipErrorWords(int err) {
    if (err < 0 || err >= static_cast<int>(kTcpipWords.size())) {
        return "";
    }
    return std::string(kTcpipWords[static_cast<size_t>(err)]);
}

std::string cchErrorWords(int err) {
    if (err < 0 || err >= static_cast<int>(kCchWords.size())) {
        return "";
    }
    return std::string(kCchWords[static_cast<size_t>(err)]);
}

std::string ipErrorWords(std::string_view text) {
    text = trimLine(text);
    struct Known {
        std::string_view text;
        std::string_view words;
    };
    static constexpr Known kKnown[] = {
        {"Network is already opened", "the network is already open"},
        {"Network not opened", "the network is not open (AT+NETOPEN)"},
        {"No data", "no data to read"},
        {"Connection time out", "the connection timed out"},
        {"Wrong parameter", "wrong parameter"},
        {"Operation not supported", "operation not supported"},
        {"DNS query failed", "DNS error: the module could not resolve the host name"},
    };
    for (const auto& k : kKnown) {
        if (text.size() == k.text.size()) {
            bool same = true;
            for (size_t i = 0; i < text.size() && same; ++i) {
                same = std::tolower(static_cast<unsigned char>(text[i])) ==
                       std::tolower(static_cast<unsigned char>(k.text[i]));
            }
            if (same) {
                return std::string(k.words);
            }
        }
    }
    return "the module's TCP/IP stack reported \"" + printable(text) + "\"";
}

namespace {

std::string cchResultWords(const IdResult& r) {
    std::string words = cchErrorWords(r.err);
    if (words.empty()) {
        words = "SSL error " + std::to_string(r.err);
    }
    if (r.err == 15) {
        words +=
            ": the usual causes are a broker that needs SNI (the module sends it only when "
            "\"enableSNI\" is set for the SSL context) or a CA in the module (from tls.ca_file) "
            "that is not the root CA that signed the broker's certificate; a broker that wants "
            "a client certificate (tls.cert_file, tls.key_file) is another";
    } else if (r.err == 19) {
        words +=
            " (provision tls.ca_file, and tls.cert_file/tls.key_file if the broker wants "
            "them)";
    }
    return words;
}

}  // namespace

std::string explainLine(std::string_view raw) {
    const std::string_view line = trimLine(raw);
    const std::string seen = " (" + printable(line) + ")";
    if (const auto code = modem_common::parseCmeErrorCode(line)) {
        std::string words = modem_common::cmeGeneralWords(*code);
        if (words.empty()) {
            words = "module error " + std::to_string(*code);
        }
        return words + seen;
    }
    if (auto text = afterPrefix(line, "+CME ERROR:")) {
        return printable(*text) + seen;
    }
    if (auto text = afterPrefix(line, "+IP ERROR:")) {
        return ipErrorWords(*text) + seen;
    }
    for (const std::string_view prefix : {"+CIPOPEN:", "+CIPCLOSE:"}) {
        if (line.starts_with(prefix)) {
            const auto r = parseIdResult(line, prefix);
            if (!r) {
                return printable(line);
            }
            const std::string words = tcpipErrorWords(r->err);
            return (words.empty() ? "TCP/IP error " + std::to_string(r->err) : words) + seen;
        }
    }
    if (line.starts_with("+NETOPEN:")) {
        const auto e = parseNetOpen(line);
        if (!e) {
            return printable(line);
        }
        const std::string words = tcpipErrorWords(*e);
        return "the data connection could not be opened: " +
               (words.empty() ? "error " + std::to_string(*e) : words) +
               "; check apn, apn_user and apn_password_file" + seen;
    }
    if (line.starts_with("+CIPSEND:")) {
        const auto s = parseCipSend(line);
        if (s && s->confirmed < 0) {
            return "the link is disconnected" + seen;
        }
        if (s && s->confirmed == 0) {
            return "the module's send buffer is full" + seen;
        }
        return printable(line);
    }
    if (line.starts_with("+IPCLOSE:")) {
        const auto r = parseIdResult(line, "+IPCLOSE:");
        if (!r) {
            return printable(line);
        }
        switch (r->err) {
            case 0:
                return "the link was closed by the module's own side" + seen;
            case 1:
                return "the server closed the connection" + seen;
            default:
                return "the module closed the link: sending timed out" + seen;
        }
    }
    for (const std::string_view prefix :
         {"+CCHOPEN:", "+CCHSEND:", "+CCHCLOSE:", "+CCHRECV:", "+CCH_RECV_CLOSED:"}) {
        if (line.starts_with(prefix)) {
            const auto r = parseIdResult(line, prefix);
            return r ? cchResultWords(*r) + seen : printable(line);
        }
    }
    for (const std::string_view prefix : {"+CCHSTART:", "+CCHSTOP:"}) {
        if (line.starts_with(prefix)) {
            const auto e = parseCchStatus(line, prefix);
            if (!e) {
                return printable(line);
            }
            const std::string words = cchErrorWords(*e);
            return (words.empty() ? "SSL service error " + std::to_string(*e) : words) + seen;
        }
    }
    if (line.starts_with("+CCH: CCHSTOP")) {
        return "the module stopped its SSL service after a network error" + seen;
    }
    if (line.starts_with("+CIPEVENT:")) {
        return "the module lost the data connection (PDP context)" + seen;
    }
    if (line.starts_with("+CMQTT")) {
        return explainMqttLine(line);
    }
    if (line == "ERROR") {
        return "the module refused the command (ERROR)";
    }
    return printable(line);
}

Result<OperatorInfo> parseCops(std::string_view line) {
    const auto rest = afterPrefix(trimLine(line), "+COPS:");
    if (!rest) {
        return unexpectedReply("+COPS", line);
    }
    const auto f = splitFields(*rest);
    if (f.empty() || !parseInt(f[0], 0, 4)) {
        return unexpectedReply("+COPS", line);
    }
    OperatorInfo info;
    if (f.size() >= 3) {
        info.name = printable(unquote(f[2]), 64);
    }
    if (f.size() >= 4) {
        const auto act = parseInt(f[3], 0, 99);
        if (!act) {
            return unexpectedReply("+COPS", line);
        }
        info.access_technology = accessTechnologyWords(static_cast<int>(*act));
    }
    return info;
}

std::string accessTechnologyWords(int act) {
    // 3GPP TS 27.007 §7.3 <AcT>.
    static constexpr std::array<std::string_view, 10> kWords = {
        "GSM",   "GSM Compact", "UMTS", "EDGE",       "HSDPA",
        "HSUPA", "HSDPA+HSUPA", "LTE",  "EC-GSM-IoT", "NB-IoT"};
    if (act < 0 || act >= static_cast<int>(kWords.size())) {
        return "AcT " + std::to_string(act);
    }
    return std::string(kWords[static_cast<size_t>(act)]);
}

void applyCops(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        if (const auto op = parseCops(line)) {
            info.operator_name = op->name;
            info.access_technology = op->access_technology;
        }
    }
}

std::vector<int> parseOpenLinks(const std::vector<std::string>& lines) {
    std::vector<int> links;
    for (const auto& l : lines) {
        const auto rest = modem_common::afterPrefix(modem_common::trimLine(l), "+CIPOPEN:");
        if (!rest) {
            continue;
        }
        const auto f = modem_common::splitFields(*rest);
        if (f.size() < 2) {
            continue;  // free
        }
        if (const auto id = modem_common::parseInt(f[0], 0, 9)) {
            links.push_back(static_cast<int>(*id));
        }
    }
    return links;
}

}  // namespace uplinkd::plugins::simcom_a76xx
