// SPDX-License-Identifier: Apache-2.0
// Fuzz target: lines a module sends (URCs, information lines, listings), as each modem driver's
// pure parsers see them. Every line goes to every line parser of the five drivers; all of them
// together go to the listing parsers and to the `apply*` steps that fill `modem info`. A module
// is untrusted: nothing it writes may crash the daemon, whatever the numbers in it say.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "a76xx_mqtt_parsers.hpp"
#include "a76xx_parsers.hpp"
#include "bg9x_parsers.hpp"
#include "bx_parsers.hpp"
#include "hl78_parsers.hpp"
#include "spwf_parsers.hpp"

namespace {

using namespace uplinkd;

/// Each driver's parsers of one line. Results are dropped: a parser may refuse any input, it
/// may only not crash or hang.
void quectel(std::string_view line, const std::string& owned) {
    namespace q = plugins::quectel_bg9x;
    (void)q::parseInts(line, "+QMTPUB:", 3);
    (void)q::parseIdResult(line, "+QIOPEN:");
    (void)q::parseSocketUrc(line, "+QIURC:");
    (void)q::parseQfupl(line);
    (void)q::parseQnwinfo(line);
    (void)q::accessTechnologyWords(line);
    (void)q::parseQmtconn(line);
    (void)q::parseAck(line, "+QMTSUB:");
    if (auto in = q::parseQmtrecv(line); in && in->missing > 0) {
        (void)q::completePayload(*in, owned);  // the line itself as the bytes that followed
    }
}

void sierraBx(std::string_view line) {
    namespace b = plugins::sierra_bx310x;
    (void)b::parseStaStatus(line);
    (void)b::parseStaIp(line);
    (void)b::parseKmqttCfg(line);
    (void)b::parseKmqttInd(line);
    if (b::isIncoming(line)) {
        (void)b::parseIncoming(line);
    }
}

void sierraHl78(std::string_view line) {
    namespace h = plugins::sierra_hl78;
    (void)h::parseKtcpCfg(line);
    (void)h::parseKtcpInd(line);
    if (auto n = h::parseKtcpNotif(line)) {
        (void)h::ktcpNotifWords(n->code);
    }
    (void)h::parseKtcpData(line);
    if (auto k = h::parseKcnxInd(line)) {
        (void)h::kcnxFinal(k->status);
    }
    (void)h::parseKtcpStat(line);
    (void)h::noSessionsLeft(line);
    if (auto k = h::parseKsup(line)) {
        (void)h::ksupWords(*k);
    }
    (void)h::parseCeregRead(line);
    (void)h::parseCeregUrc(line);
    (void)h::parseCsq(line);
    (void)h::explainLine(line);
    const auto* bytes = reinterpret_cast<const uint8_t*>(line.data());
    (void)h::safeSendLength(std::span(bytes, line.size()), 1460, "--EOF--Pattern--");
}

void simcom(std::string_view line) {
    namespace s = plugins::simcom_a76xx;
    (void)s::parseNetOpen(line);
    (void)s::parseIdResult(line, "+CIPOPEN:");
    (void)s::parseCipSend(line);
    (void)s::parseCipRxGetUrc(line);
    (void)s::parseCipRxGetRead(line);
    (void)s::parseCchStatus(line, "+CCHOPEN:");
    (void)s::parseCchRecvEvent(line);
    (void)s::parseCchPeerClosed(line);
    (void)s::parseCchRecvData(line);
    (void)s::parseRegistrationRead(line);
    (void)s::parseCsq(line);
    (void)s::parseCops(line);
    (void)s::ipErrorWords(line);
    (void)s::explainLine(line);
    if (auto code = s::parseMqttCode(line, "+CMQTTSTART:")) {
        (void)s::mqttErrorWords(*code);
        (void)s::mqttLostWords(*code);
        (void)s::mqttConnectError(*code, line, "broker.example:8883");
    }
    (void)s::parseMqttRxStart(line);
    (void)s::parseMqttRxBlock(line, "+CMQTTRXPAYLOAD:");
    (void)s::mqttRxBlockLength(line);
    (void)s::parseMqttRxEnd(line);
    (void)s::explainMqttLine(line);
}

void spwf(std::string_view line, const std::string& owned) {
    namespace w = plugins::st_spwf04s;
    if (auto wind = w::parseWind(line)) {
        (void)w::windWords(wind->code);
    }
    if (auto e = w::parseModuleError(line)) {
        (void)w::errorCodeWords(e->code);
    }
    (void)w::readingCount(owned);
    (void)w::parsePendingData(line);
    if (auto closed = w::parseSocketClosed(line)) {
        (void)w::socketCloseReasonWords(closed->reason);
    }
    (void)w::parseMqttMessage(line);
    (void)w::mqttMessageCount(owned);
    (void)w::parseMqttClosed(line);
    (void)w::explainLine(line);
}

/// The parsers of a whole reply (listings, identity), and what `modem info` takes from one.
void replies(const std::vector<std::string>& lines) {
    (void)plugins::quectel_bg9x::parseFileList(lines);
    (void)plugins::sierra_bx310x::parseCertStoreList(lines);
    (void)plugins::sierra_hl78::parseKtcpStatList(lines);
    (void)plugins::sierra_hl78::parseIdentity(lines);
    (void)plugins::sierra_hl78::parseCertStoreList(lines);
    (void)plugins::simcom_a76xx::parseOpenLinks(lines);
    (void)plugins::simcom_a76xx::parseCertList(lines);
    (void)plugins::simcom_a76xx::parseMqttAcquired(lines, 0);
    (void)plugins::simcom_a76xx::parseMqttConnected(lines, 0);
    (void)plugins::st_spwf04s::parseSockOn(lines);
    (void)plugins::st_spwf04s::parseMqttOn(lines);
    (void)plugins::st_spwf04s::parseStoreListing(lines);

    Result<AtResponse> answer = AtResponse{lines, "OK", ""};
    ModemInfo info;
    namespace q = plugins::quectel_bg9x;
    q::applyQccid(answer, info);
    q::applyCeregWithAct(answer, info);
    q::applyCops(answer, info);
    q::applyQnwinfo(answer, info);
    q::applyFileList(answer, info);
    q::applyClock(answer, info);
    q::applySniSetting(answer, info);
    plugins::simcom_a76xx::applyCops(answer, info);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= input.size() && lines.size() < 64) {
        size_t end = input.find('\n', start);
        if (end == std::string_view::npos) {
            end = input.size();
        }
        std::string line(input.substr(start, end - start));
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        lines.push_back(std::move(line));
        start = end + 1;
    }
    for (const auto& line : lines) {
        quectel(line, line);
        sierraBx(line);
        sierraHl78(line);
        simcom(line);
        spwf(line, line);
    }
    replies(lines);
    return 0;
}
