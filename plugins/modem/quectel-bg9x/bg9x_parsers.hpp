// SPDX-License-Identifier: Apache-2.0
// Pure parsers for Quectel BG9x answers and URCs: socket results and URCs (+QIOPEN, +QIURC,
// +QIRD, +QSSLOPEN, +QSSLURC, +QSSLRECV), the file store (+QFUPL, +QFLST), the clock (+CCLK),
// network info (+QNWINFO, +COPS, +QCCID) and the MQTT client (+QMTOPEN, +QMTCONN, +QMTPUB,
// +QMTSUB, +QMTUNS, +QMTRECV, +QMTSTAT), and the `modem info` appliers built on them.
// Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/at_channel.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/result.hpp"
#include "uplinkd/time_text.hpp"  // formatUtc: times in the clock messages

namespace uplinkd::plugins::quectel_bg9x {

/// The comma-separated integers after `prefix` ("+QMTPUB: 0,5,0" → {0,5,0}); exactly `count`
/// of them (each within [-1, 65535]) or an error.
Result<std::vector<int>> parseInts(std::string_view line, std::string_view prefix, size_t count);

/// "<prefix> <id>,<err>" results: +QIOPEN, +QSSLOPEN, +QMTOPEN, +QMTSTAT, +QMTDISC, +QMTCLOSE.
struct IdResult {
    int id = 0;
    int err = 0;
};
Result<IdResult> parseIdResult(std::string_view line, std::string_view prefix);

/// A socket URC: `+QIURC: "recv",<id>` / `"closed",<id>` / `"pdpdeact",<ctx>`, and the same
/// forms of `+QSSLURC:`.
struct SocketUrc {
    enum class Kind { Recv, Closed, PdpDeact } kind = Kind::Recv;
    int id = 0;  ///< the socket, or the PDP context for PdpDeact
};
Result<SocketUrc> parseSocketUrc(std::string_view line, std::string_view prefix);

/// "+QIRD: <n>" / "+QSSLRECV: <n>": the byte count that follows (0..1500). The three-field
/// query form ("+QIRD: <total>,<read>,<unread>") is refused.
Result<size_t> parseReadHeader(std::string_view line, std::string_view prefix);

/// "+QFUPL: <size>,<checksum hex>".
struct Upload {
    size_t size = 0;
    std::optional<uint16_t> checksum;  ///< nothing when the module did not give one
};
Result<Upload> parseQfupl(std::string_view line);
/// The 16-bit XOR of `data` taken in pairs (first byte high); an odd last byte is the high byte
/// of a last pair (UNCONFIRMED algorithm). `swapped`: the low byte first.
uint16_t xorChecksum(std::string_view data, bool swapped = false);

/// The files of an AT+QFLST answer ("+QFLST: \"UFS:<name>\",<size>" lines); others skipped.
struct StoredFile {
    std::string name;  ///< "UFS:uplinkd_ca.pem"
    size_t size = 0;
};
std::vector<StoredFile> parseFileList(const std::vector<std::string>& lines);

/// "+CCLK: \"yy/MM/dd,hh:mm:ss±zz\"" → the time in UTC (zz: quarter hours from UTC).
Result<std::time_t> parseCclk(std::string_view line);

/// When a certificate may be used.
struct Validity {
    std::string what;  ///< "the root CA from tls.ca_file"
    std::time_t from = 0;
    std::time_t to = 0;
};
/// Plain words when the module's clock is outside a certificate's validity (its date, the
/// validity, and that the module sets its clock from the network); empty when it is inside all.
std::string clockProblem(std::time_t module_now, const std::vector<Validity>& certs);

/// "+QNWINFO: \"<act>\",\"<oper>\",\"<band>\",<channel>".
struct NetworkInfo {
    std::string act;   ///< as the module wrote it: "CAT-M1", "eMTC", "NBIoT", "GSM", ...
    std::string oper;  ///< "26201"
    std::string band;  ///< "LTE BAND 20"
};
Result<NetworkInfo> parseQnwinfo(std::string_view line);
/// "LTE-M", "NB-IoT", "GSM", "LTE", ... for an AT+QNWINFO <act>; the text itself when unknown.
std::string accessTechnologyWords(std::string_view act);
/// For a +CEREG <AcT> (Quectel numbering: 0 GSM, 7 LTE, 8 LTE-M, 9 NB-IoT; UNCONFIRMED).
std::string ceregActWords(int act);

// `modem info` appliers (see modem_common::InfoQuery).
void applyQccid(const Result<AtResponse>& answer, ModemInfo& info);         // AT+QCCID
void applyCeregWithAct(const Result<AtResponse>& answer, ModemInfo& info);  // AT+CEREG?
void applyCops(const Result<AtResponse>& answer, ModemInfo& info);          // AT+COPS?
void applyQnwinfo(const Result<AtResponse>& answer, ModemInfo& info);       // AT+QNWINFO
void applyFileList(const Result<AtResponse>& answer, ModemInfo& info);      // AT+QFLST="*"
void applyClock(const Result<AtResponse>& answer, ModemInfo& info);         // AT+CCLK?
/// AT+QSSLCFG="sni",<ctx>: a firmware without the setting answers ERROR (it cannot send SNI).
void applySniSetting(const Result<AtResponse>& answer, ModemInfo& info);

// ---- MQTT -------------------------------------------------------------------------------------

/// "+QMTCONN: <client>,<result>[,<ret_code>]".
struct ConnResult {
    int client = 0;
    int result = 0;
    std::optional<int> ret_code;
};
Result<ConnResult> parseQmtconn(std::string_view line);

/// "+QMTPUB: <client>,<msgID>,<result>[,<count>]", "+QMTSUB: <client>,<msgID>,<result>[,<value>]"
/// and "+QMTUNS: <client>,<msgID>,<result>" (`prefix` says which).
struct AckResult {
    int client = 0;
    int msg_id = 0;
    int result = 0;
    std::optional<int> value;  ///< retransmissions, or the granted QoS of a subscription
};
Result<AckResult> parseAck(std::string_view line, std::string_view prefix);

/// "+QMTRECV: <client>,<msgID>,\"<topic>\"[,<payload_len>],\"<payload>\"". The payload runs from
/// the quote after the topic (or the length) to the line's last quote; with a length, the
/// payload is taken by that count. A payload that held a line break ends the line early:
/// `missing` then says how many bytes (the rest of the payload and the closing quote, minus the
/// one line-end byte the channel took) follow the line.
struct Incoming {
    int client = 0;
    int msg_id = 0;
    std::string topic;
    std::optional<size_t> length;
    std::string payload;  ///< what the line holds of it
    size_t missing = 0;
};
Result<Incoming> parseQmtrecv(std::string_view line);
/// The whole payload of `in` (with `missing` > 0) from the bytes that followed its line: the
/// line break the channel took is put back (CR LF when the bytes end past the closing quote,
/// else LF). Errors when the bytes do not close the quoted payload.
Result<std::string> completePayload(const Incoming& in, std::string_view rest);

}  // namespace uplinkd::plugins::quectel_bg9x
