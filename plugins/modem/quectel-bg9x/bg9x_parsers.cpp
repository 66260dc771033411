// SPDX-License-Identifier: Apache-2.0
#include "bg9x_parsers.hpp"

#include <charconv>
#include <cstdio>

#include "common/generic_at.hpp"
#include "common/generic_info.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::afterPrefix;
using modem_common::parseInt;
using modem_common::quotedContent;
using modem_common::splitFields;
using modem_common::unexpectedReply;
using modem_common::unquote;

Result<std::vector<int>> parseInts(std::string_view line, std::string_view prefix, size_t count) {
    auto rest = afterPrefix(line, prefix);
    if (!rest) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    const auto fields = splitFields(*rest);
    if (fields.size() != count) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    std::vector<int> out;
    for (const auto f : fields) {
        auto v = parseInt(f, -1, 65535);
        if (!v) {
            return unexpectedReply(std::string(prefix) + " line", line);
        }
        out.push_back(static_cast<int>(*v));
    }
    return out;
}

Result<IdResult> parseIdResult(std::string_view line, std::string_view prefix) {
    auto v = parseInts(line, prefix, 2);
    if (!v) {
        return v.failure();
    }
    if ((*v)[0] < 0 || (*v)[0] >= 16) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    return IdResult{(*v)[0], (*v)[1]};
}

Result<SocketUrc> parseSocketUrc(std::string_view line, std::string_view prefix) {
    auto rest = afterPrefix(line, prefix);
    if (!rest) {
        return unexpectedReply("socket URC", line);
    }
    const auto fields = splitFields(*rest);
    if (fields.size() < 2) {
        return unexpectedReply("socket URC", line);
    }
    const auto kind = quotedContent(fields[0]);
    const auto id = parseInt(fields[1], 0, 16);
    if (!kind || !id) {
        return unexpectedReply("socket URC", line);
    }
    SocketUrc u;
    u.id = static_cast<int>(*id);
    if (*kind == "recv" && u.id < 12) {
        u.kind = SocketUrc::Kind::Recv;
    } else if (*kind == "closed" && fields.size() == 2 && u.id < 12) {
        u.kind = SocketUrc::Kind::Closed;
    } else if (*kind == "pdpdeact" && fields.size() == 2 && u.id >= 1) {
        u.kind = SocketUrc::Kind::PdpDeact;
    } else {
        return unexpectedReply("socket URC", line);
    }
    return u;
}

Result<size_t> parseReadHeader(std::string_view line, std::string_view prefix) {
    auto v = parseInts(line, prefix, 1);
    if (!v || (*v)[0] < 0 || static_cast<size_t>((*v)[0]) > 1500) {
        return unexpectedReply(std::string(prefix) + " header", line);
    }
    return static_cast<size_t>((*v)[0]);
}

Result<Upload> parseQfupl(std::string_view line) {
    auto rest = afterPrefix(line, "+QFUPL:");
    if (!rest) {
        return unexpectedReply("+QFUPL line", line);
    }
    const auto fields = splitFields(*rest);
    if (fields.empty() || fields.size() > 2) {
        return unexpectedReply("+QFUPL line", line);
    }
    const auto size = parseInt(fields[0], 0, 100'000'000);
    if (!size) {
        return unexpectedReply("+QFUPL line", line);
    }
    Upload u;
    u.size = static_cast<size_t>(*size);
    if (fields.size() == 2) {
        std::string_view hex = unquote(fields[1]);
        if (hex.starts_with("0x") || hex.starts_with("0X")) {
            hex.remove_prefix(2);
        }
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
        if (hex.empty() || hex.size() > 4 || ec != std::errc{} || end != hex.data() + hex.size()) {
            return unexpectedReply("+QFUPL checksum", line);
        }
        u.checksum = static_cast<uint16_t>(value);
    }
    return u;
}

uint16_t xorChecksum(std::string_view data, bool swapped) {
    uint16_t sum = 0;
    for (size_t i = 0; i < data.size(); i += 2) {
        const auto a = static_cast<uint8_t>(data[i]);
        const auto b = i + 1 < data.size() ? static_cast<uint8_t>(data[i + 1]) : uint8_t{0};
        sum ^= swapped ? static_cast<uint16_t>(b << 8 | a) : static_cast<uint16_t>(a << 8 | b);
    }
    return sum;
}

std::vector<StoredFile> parseFileList(const std::vector<std::string>& lines) {
    std::vector<StoredFile> files;
    for (const auto& line : lines) {
        auto rest = afterPrefix(line, "+QFLST:");
        if (!rest) {
            continue;
        }
        const auto fields = splitFields(*rest);
        if (fields.size() < 2) {
            continue;
        }
        const auto name = quotedContent(fields[0]);
        const auto size = parseInt(fields[1], 0, 100'000'000);
        if (!name || name->empty() || !size) {
            continue;
        }
        files.push_back({std::string(*name), static_cast<size_t>(*size)});
    }
    return files;
}

Result<std::time_t> parseCclk(std::string_view line) {
    // "yy/MM/dd,hh:mm:ss±zz" in quotes.
    auto rest = afterPrefix(line, "+CCLK:");
    const auto text = rest ? quotedContent(modem_common::trimLine(*rest)) : std::nullopt;
    const auto t = text ? modem_common::parseClockText(*text, modem_common::ClockZone::Required)
                        : std::nullopt;
    if (!t) {
        return unexpectedReply("+CCLK answer", line);
    }
    return static_cast<std::time_t>(*t);
}

std::string clockProblem(std::time_t module_now, const std::vector<Validity>& certs) {
    for (const auto& v : certs) {
        if (module_now < v.from || module_now > v.to) {
            return "the module's clock is " + formatUtc(module_now) + ", the certificate (" +
                   v.what + ") is valid from " + formatUtc(v.from) + " to " + formatUtc(v.to) +
                   ", so the module refuses the TLS connection; the module sets its clock from "
                   "the network (NITZ) once it is registered, and not every network sends the "
                   "time: wait for the network time, or set the module's clock (AT+CCLK)";
        }
    }
    return {};
}

Result<NetworkInfo> parseQnwinfo(std::string_view line) {
    auto rest = afterPrefix(line, "+QNWINFO:");
    if (!rest) {
        return unexpectedReply("+QNWINFO answer", line);
    }
    const auto fields = splitFields(*rest);
    if (fields.size() < 3) {
        return unexpectedReply("+QNWINFO answer", line);
    }
    NetworkInfo n;
    n.act = std::string(unquote(fields[0]));
    n.oper = std::string(unquote(fields[1]));
    n.band = std::string(unquote(fields[2]));
    if (n.act.empty() || !modem_common::safeForQuotedArgument(n.act + n.oper + n.band)) {
        return unexpectedReply("+QNWINFO answer", line);
    }
    return n;
}

std::string accessTechnologyWords(std::string_view act) {
    struct Entry {
        std::string_view act;
        std::string_view words;
    };
    static constexpr Entry kTable[] = {
        {"CAT-M1", "LTE-M"},   {"CAT-M", "LTE-M"},   {"eMTC", "LTE-M"},
        {"CAT-NB1", "NB-IoT"}, {"CAT-NB", "NB-IoT"}, {"NBIoT", "NB-IoT"},
        {"NB-IoT", "NB-IoT"},  {"GSM", "GSM"},       {"GPRS", "GSM"},
        {"EDGE", "GSM"},       {"EGPRS", "GSM"},     {"FDD LTE", "LTE"},
        {"TDD LTE", "LTE"},    {"LTE", "LTE"},       {"WCDMA", "UMTS"},
        {"HSPA+", "UMTS"},     {"HSDPA", "UMTS"},    {"No Service", "no service"},
    };
    for (const auto& e : kTable) {
        if (e.act == act) {
            return std::string(e.words);
        }
    }
    return std::string(act);
}

// +CEREG <AcT> of the BG9x families.
constexpr modem_common::CodeWords kCeregActWords[] = {
    {0, "GSM"},
    {7, "LTE"},
    {8, "LTE-M"},
    {9, "NB-IoT"},
};

std::string ceregActWords(int act) {
    return modem_common::codeWords(kCeregActWords, act);
}

void applyQccid(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        if (auto rest = afterPrefix(line, "+QCCID:")) {
            info.iccid = std::string(unquote(modem_common::trimLine(*rest)));
            return;
        }
    }
    modem_common::applyIccid(answer, info);
}

void applyCeregWithAct(const Result<AtResponse>& answer, ModemInfo& info) {
    modem_common::applyCereg(answer, info);
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        // <n>,<stat>,<tac>,<ci>,<AcT>[,...]
        const auto fields = modem_common::fieldsAfter(line, "+CEREG:");
        if (fields && fields->size() >= 5) {
            if (auto act = parseInt((*fields)[4], 0, 15)) {
                const std::string words = ceregActWords(static_cast<int>(*act));
                if (!words.empty() && info.access_technology.empty()) {
                    info.access_technology = words;
                }
            }
        }
    }
}

void applyCops(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        // <mode>[,<format>,"<oper>"[,<AcT>]]
        const auto fields = modem_common::fieldsAfter(line, "+COPS:");
        if (fields && fields->size() >= 3) {
            const auto name = unquote((*fields)[2]);
            if (!name.empty() && modem_common::safeForQuotedArgument(name)) {
                info.operator_name = std::string(name);
            }
        }
        if (fields && fields->size() >= 4 && info.access_technology.empty()) {
            if (auto act = parseInt((*fields)[3], 0, 15)) {
                info.access_technology = ceregActWords(static_cast<int>(*act));
            }
        }
    }
}

void applyQnwinfo(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        auto n = parseQnwinfo(line);
        if (!n) {
            continue;
        }
        info.access_technology = accessTechnologyWords(n->act);
        if (info.operator_name.empty()) {
            info.operator_name = n->oper;
        }
        info.band = n->band;
    }
}

void applyFileList(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    info.store_read = true;
    for (const auto& f : parseFileList(answer->lines)) {
        ModemInfo::StoreEntry e;
        e.slot = f.name;
        if (f.name.ends_with("uplinkd_ca.pem")) {
            e.kind = "root CA";
        } else if (f.name.ends_with("uplinkd_cert.pem")) {
            e.kind = "client certificate";
        } else if (f.name.ends_with("uplinkd_key.pem")) {
            e.kind = "private key";
        } else {
            e.kind = "file";
        }
        e.note = std::to_string(f.size) + " bytes (the module cannot show a file's content)";
        e.size = static_cast<int64_t>(f.size);
        info.store.push_back(std::move(e));
    }
}

void applyClock(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        if (auto t = parseCclk(line)) {
            info.clock_unix = static_cast<int64_t>(*t);
            return;
        }
    }
}

void applySniSetting(const Result<AtResponse>& answer, ModemInfo& info) {
    if (answer) {
        info.tls_sni = "sent (uplinkd sets \"sni\" 1 in the module's SSL context)";
    } else if (answer.error().code == "at_error") {
        info.tls_sni =
            "not sent: this firmware has no \"sni\" setting (AT+QSSLCFG=\"sni\" "
            "answers " +
            answer.error().message + ")";
    }
}

// ---- MQTT -------------------------------------------------------------------------------------

Result<ConnResult> parseQmtconn(std::string_view line) {
    auto rest = afterPrefix(line, "+QMTCONN:");
    if (!rest) {
        return unexpectedReply("+QMTCONN line", line);
    }
    const size_t n = splitFields(*rest).size();
    if (n != 2 && n != 3) {
        return unexpectedReply("+QMTCONN line", line);
    }
    auto v = parseInts(line, "+QMTCONN:", n);
    if (!v || (*v)[0] < 0 || (*v)[0] > 5) {
        return unexpectedReply("+QMTCONN line", line);
    }
    ConnResult c{(*v)[0], (*v)[1], std::nullopt};
    if (n == 3) {
        c.ret_code = (*v)[2];
    }
    return c;
}

Result<AckResult> parseAck(std::string_view line, std::string_view prefix) {
    auto rest = afterPrefix(line, prefix);
    if (!rest) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    const size_t n = splitFields(*rest).size();
    if (n != 3 && n != 4) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    auto v = parseInts(line, prefix, n);
    if (!v || (*v)[0] < 0 || (*v)[0] > 5 || (*v)[1] < 0) {
        return unexpectedReply(std::string(prefix) + " line", line);
    }
    AckResult a{(*v)[0], (*v)[1], (*v)[2], std::nullopt};
    if (n == 4) {
        a.value = (*v)[3];
    }
    return a;
}

Result<Incoming> parseQmtrecv(std::string_view line) {
    auto bad = [&] { return unexpectedReply("+QMTRECV line", line); };
    auto rest = afterPrefix(line, "+QMTRECV:");
    if (!rest) {
        return bad();
    }
    std::string_view s = *rest;
    Incoming in;
    // <client>,<msgID>,
    for (int* field : {&in.client, &in.msg_id}) {
        const size_t comma = s.find(',');
        if (comma == std::string_view::npos) {
            return bad();
        }
        auto v = parseInt(modem_common::trimLine(s.substr(0, comma)), 0, 65535);
        if (!v) {
            return bad();
        }
        *field = static_cast<int>(*v);
        s.remove_prefix(comma + 1);
    }
    if (in.client > 5) {
        return bad();
    }
    // "<topic>",
    if (s.empty() || s.front() != '"') {
        return bad();
    }
    const size_t topic_end = s.find('"', 1);
    if (topic_end == std::string_view::npos || topic_end == 1) {
        return bad();
    }
    in.topic = std::string(s.substr(1, topic_end - 1));
    s.remove_prefix(topic_end + 1);
    if (s.empty() || s.front() != ',') {
        return bad();
    }
    s.remove_prefix(1);
    // [<payload_len>,]"<payload>"
    if (!s.empty() && s.front() != '"') {
        const size_t comma = s.find(',');
        if (comma == std::string_view::npos) {
            return bad();
        }
        auto len = parseInt(s.substr(0, comma), 0, 1'000'000);
        if (!len) {
            return bad();
        }
        in.length = static_cast<size_t>(*len);
        s.remove_prefix(comma + 1);
    }
    if (s.empty() || s.front() != '"') {
        return bad();
    }
    s.remove_prefix(1);  // the opening quote
    if (in.length) {
        const size_t n = *in.length;
        if (s.size() == n + 1 && s.back() == '"') {
            in.payload = std::string(s.substr(0, n));
            return in;
        }
        if (s.size() < n + 1) {
            // A line break inside the payload ended the line: the channel took one byte of it.
            if (s.size() + 1 > n) {
                return bad();
            }
            in.payload = std::string(s);
            in.missing = n - s.size();
            return in;
        }
        return bad();
    }
    if (s.empty() || s.back() != '"') {
        return bad();
    }
    in.payload = std::string(s.substr(0, s.size() - 1));
    return in;
}

Result<std::string> completePayload(const Incoming& in, std::string_view rest) {
    const size_t n = in.length.value_or(0);
    if (rest.size() != in.missing || rest.empty()) {
        return fail("bad_reply", "+QMTRECV: the payload's bytes did not follow its line");
    }
    if (rest.back() == '"') {
        // One line-end byte was taken: n = |payload| + 1 + |rest| - 1.
        std::string p = in.payload + "\n" + std::string(rest.substr(0, rest.size() - 1));
        if (p.size() == n) {
            return p;
        }
    } else if (rest.size() >= 2 && rest[rest.size() - 2] == '"') {
        // CR LF was taken; the last byte read is the line end after the closing quote.
        std::string p = in.payload + "\r\n" + std::string(rest.substr(0, rest.size() - 2));
        if (p.size() == n) {
            return p;
        }
    }
    return fail("bad_reply", "+QMTRECV: the payload of " + std::to_string(n) +
                                 " bytes is not closed by a quote where its length says");
}

}  // namespace uplinkd::plugins::quectel_bg9x
