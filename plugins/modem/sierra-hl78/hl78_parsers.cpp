// SPDX-License-Identifier: Apache-2.0
#include "hl78_parsers.hpp"

#include <algorithm>
#include <array>

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::afterPrefix;
using modem_common::idAndValue;
using modem_common::parseInt;
using modem_common::splitFields;
using modem_common::trimLine;
using modem_common::unexpectedReply;

namespace {

// +KTCP_NOTIF codes [Z-HL78H, Z-HL7800].
constexpr std::array<std::string_view, 16> kNotifWords = {
    "network error (the module has no data connection)",
    "no more sockets available in the module",
    "the module ran out of memory",
    "DNS error: the module could not resolve the host name",
    "the server closed the connection",
    "TCP connection error (refused or unreachable)",
    "generic error",
    "the module failed to accept a client request",
    "KTCPSND got a different number of bytes than announced before the EOF pattern",
    "bad session ID",
    "the session is already running",
    "all sessions are in use",
    "the connection timed out",
    "TLS connection error: the TLS handshake failed in the module",
    "TLS initialisation error: the module could not load its client certificate or key",
    "TLS certificate error: the module does not trust the broker's certificate",
};

// +CME ERROR codes of the K commands, 902-932 [LEG, SW-BX].
constexpr std::array<std::string_view, 31> kCmeWords = {
    "no more sockets available",                                        // 902
    "the module ran out of memory",                                     // 903
    "DNS error: the host name could not be resolved",                   // 904
    "TCP disconnection by the remote host",                             // 905
    "UDP/TCP connection error",                                         // 906
    "generic error",                                                    // 907
    "failed to accept a client request",                                // 908
    "the data mode does not match KTCPSND/KTCPRCV",                     // 909
    "bad session ID",                                                   // 910
    "the session is already running",                                   // 911
    "all sessions are in use",                                          // 912
    "socket connection timeout",                                        // 913
    "control socket connection timeout",                                // 914
    "a parameter was not expected",                                     // 915
    "a parameter is out of range",                                      // 916
    "a parameter is missing",                                           // 917
    "feature not supported",                                            // 918
    "feature not available",                                            // 919
    "protocol not supported",                                           // 920
    "invalid bearer state (is the data connection up?)",                // 921
    "invalid session state",                                            // 922
    "invalid terminate-PRT-data-mode state",                            // 923
    "the session is busy",                                              // 924
    "invalid HTTP header name",                                         // 925
    "invalid HTTP header value",                                        // 926
    "empty HTTP header name",                                           // 927
    "empty HTTP header value",                                          // 928
    "invalid input data format",                                        // 929
    "invalid content (not a certificate or key the module can parse)",  // 930
    "invalid parameter length (a certificate needs proper line ends)",  // 931
    "invalid parameter format",                                         // 932
};

}  // namespace

Result<int> parseKtcpCfg(std::string_view line) {
    const auto id = modem_common::intsAfter(line, "+KTCPCFG:", {{1, 255}});
    if (!id) {
        return unexpectedReply("+KTCPCFG", line);
    }
    return static_cast<int>((*id)[0]);
}

Result<KtcpInd> parseKtcpInd(std::string_view line) {
    return idAndValue<KtcpInd, int>(line, "+KTCP_IND:", 255, 255);
}

Result<KtcpNotif> parseKtcpNotif(std::string_view line) {
    return idAndValue<KtcpNotif, int>(line, "+KTCP_NOTIF:", 255, 255);
}

Result<KtcpData> parseKtcpData(std::string_view line) {
    return idAndValue<KtcpData, size_t>(line, "+KTCP_DATA:", 255, int64_t{1} << 31);
}

Result<KcnxInd> parseKcnxInd(std::string_view line) {
    return idAndValue<KcnxInd, int>(line, "+KCNX_IND:", 255, 255);
}

bool kcnxFinal(int status) {
    return status >= 0 && status <= 3;
}

Result<int> parseKsup(std::string_view line) {
    const auto n = modem_common::intsAfter(line, "+KSUP:", {{0, 255}});
    if (!n) {
        return unexpectedReply("+KSUP", line);
    }
    return static_cast<int>((*n)[0]);
}

// +KSUP <n>: the module's state after a start.
constexpr modem_common::CodeWords kKsupWords[] = {
    {0, "ready"},        {1, "waiting for the SIM PIN/PUK"}, {2, "no SIM card"},
    {3, "SIM lock"},     {4, "unrecoverable error"},         {5, "unknown state"},
    {6, "inactive SIM"},
};

std::string ksupWords(int n) {
    std::string words = modem_common::codeWords(kKsupWords, n);
    return words.empty() ? "state " + std::to_string(n) : words;
}

Result<RegState> parseCeregRead(std::string_view line) {
    return modem_common::parseRegistrationRead(line, "+CEREG:");
}

Result<RegState> parseCeregUrc(std::string_view line) {
    return modem_common::parseRegistrationUrc(line, "+CEREG:");
}

Result<SignalQuality> parseCsq(std::string_view line) {
    return modem_common::parseCsq(line);
}

Identity parseIdentity(const std::vector<std::string>& lines) {
    return modem_common::parseAti(lines);
}

Result<std::vector<StoredCert>> parseCertStoreList(const std::vector<std::string>& lines) {
    return modem_common::parseKcertStoreListing(lines, modem_common::KeyEntries::NotListed);
}

std::string ktcpNotifWords(int code) {
    if (code < 0 || code >= static_cast<int>(kNotifWords.size())) {
        return "";
    }
    return std::string(kNotifWords[static_cast<size_t>(code)]);
}

std::string kCommandErrorWords(int code) {
    if (code < 902 || code > 932) {
        return "";
    }
    return std::string(kCmeWords[static_cast<size_t>(code - 902)]);
}

Result<KtcpStat> parseKtcpStat(std::string_view line) {
    // <status>,<tcp_notif>,<rem_data>,<rcv_data>
    const auto f = modem_common::fieldsAfter(line, "+KTCPSTAT:");
    const bool four = f && f->size() == 4;
    const auto status = four ? parseInt((*f)[0], 0, 255) : std::nullopt;
    const auto received = four ? parseInt((*f)[3], 0, int64_t{1} << 40) : std::nullopt;
    if (!status || !received) {
        return unexpectedReply("+KTCPSTAT:", line);
    }
    return KtcpStat{static_cast<int>(*status), static_cast<size_t>(*received)};
}

std::vector<ListedSession> parseKtcpStatList(const std::vector<std::string>& lines) {
    std::vector<ListedSession> ids;
    for (const auto& l : lines) {
        const auto rest = afterPrefix(trimLine(l), "+KTCPSTAT:");
        if (!rest) {
            continue;
        }
        const auto f = splitFields(*rest);
        if (f.size() < 5) {
            continue;  // the per-session form has no id
        }
        const auto id = parseInt(f[0], 1, 255);
        const auto status = parseInt(f[1], 0, 255);
        if (id && status) {
            ids.push_back({static_cast<int>(*id), static_cast<int>(*status)});
        }
    }
    return ids;
}

bool noSessionsLeft(std::string_view error_line) {
    const std::string_view line = trimLine(error_line);
    if (const auto code = modem_common::parseCmeErrorCode(line)) {
        return *code == 902 || *code == 912;
    }
    if (const auto n = parseKtcpNotif(line)) {
        return n->code == 1 || n->code == 11;
    }
    return false;
}

std::string explainLine(std::string_view raw) {
    const std::string_view line = trimLine(raw);
    const std::string shown(line.substr(0, 120));
    if (const auto code = modem_common::parseCmeErrorCode(line)) {
        std::string words = kCommandErrorWords(*code);
        if (words.empty()) {
            words = modem_common::cmeGeneralWords(*code);
        }
        if (words.empty()) {
            words = "module error " + std::to_string(*code);
        }
        return words + " (" + shown + ")";
    }
    if (auto text = afterPrefix(line, "+CME ERROR:")) {
        return std::string(*text) + " (" + shown + ")";
    }
    if (line.starts_with("+KTCP_NOTIF:")) {
        const auto n = parseKtcpNotif(line);
        if (!n) {
            return shown;
        }
        std::string words = ktcpNotifWords(n->code);
        if (words.empty()) {
            words = "socket error " + std::to_string(n->code);
        }
        if (n->code == 15) {
            words +=
                ": the module's root CA store does not hold the CA that signed the broker's "
                "certificate (or the name does not match): check tls.ca_file (the root CA, not "
                "an intermediate) and provision it to the module";
        } else if (n->code == 13) {
            words +=
                " (the broker may want a client certificate, or TLS versions or ciphers the "
                "module lacks; tls = \"local\" lets uplinkd do TLS instead)";
        } else if (n->code == 14) {
            words += " (provision tls.cert_file and tls.key_file again)";
        }
        return words + " (" + shown + ")";
    }
    if (line.starts_with("+KCNX_IND:")) {
        const auto k = parseKcnxInd(line);
        if (!k) {
            return shown;
        }
        switch (k->status) {
            case 0:
                return "the network dropped the data connection (" + shown + ")";
            case 2:
                return "the data connection (PDP context) could not be activated: check apn, "
                       "apn_user and apn_password_file (" +
                       shown + ")";
            case 3:
                return "the data connection was closed (" + shown + ")";
            default:
                return shown;
        }
    }
    if (line.starts_with("+KSUP:")) {
        const auto k = parseKsup(line);
        return k ? "the module restarted (" + ksupWords(*k) + ")" : shown;
    }
    if (line == "ERROR") {
        return "the module refused the command (ERROR)";
    }
    return shown;
}

size_t safeSendLength(std::span<const uint8_t> data, size_t max, std::string_view pattern) {
    size_t end = std::min(max, data.size());
    if (end == 0 || pattern.empty()) {
        return end;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data.data()), end);
    for (;;) {
        std::string joined(bytes.substr(0, end));
        joined += pattern;
        const size_t first = joined.find(pattern);
        if (first == end) {
            return end;  // the module finds the pattern right after the payload
        }
        // An early match: cut just after its first byte (or before it, when it starts at the
        // last byte), which breaks it; the loop checks that the cut makes no new one.
        const size_t cut = first + 1 < end ? first + 1 : first;
        if (cut == 0) {
            return end;  // a pattern made of one repeated byte: nothing better exists
        }
        end = cut;
    }
}

}  // namespace uplinkd::plugins::sierra_hl78
