// SPDX-License-Identifier: Apache-2.0
// Pure parsers for SIMCom A76xx / SIM7600 answers and URCs (NETOPEN, CIPOPEN, CIPSEND,
// CIPRXGET, IPCLOSE, the CCH* SSL socket set, CCERTLIST, COPS), the tables that turn the TCP/IP and
// CCH error codes and "+IP ERROR: <text>" into plain words, and explainLine() for any error
// line. Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/generic_at.hpp"
#include "uplinkd/at_channel.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::RegState;
using modem_common::SignalQuality;

/// "+NETOPEN: <err>" (result URC; the read AT+NETOPEN? answers 1 when open) → the number.
Result<int> parseNetOpen(std::string_view line);

/// "<prefix> <id>,<err>" results: +CIPOPEN, +CIPCLOSE, +CCHOPEN, +CCHSEND, +CCHCLOSE,
/// +CCHRECV (end of a read), +CCH_RECV_CLOSED, +IPCLOSE (err is the close reason there).
struct IdResult {
    int id = 0;
    int err = 0;
};
Result<IdResult> parseIdResult(std::string_view line, std::string_view prefix);

/// The open links of an AT+CIPOPEN? listing: "+CIPOPEN: <link>,\"TCP\",..." lines (a bare
/// "+CIPOPEN: <link>" is a free one).
std::vector<int> parseOpenLinks(const std::vector<std::string>& lines);

struct CipSend {
    int link = 0;
    size_t requested = 0;
    int confirmed = 0;  ///< -1: the link is disconnected; 0: the send buffer is full
};
/// "+CIPSEND: <link>,<reqSendLength>,<cnfSendLength>".
Result<CipSend> parseCipSend(std::string_view line);

/// "+CIPRXGET: 1,<link>" (data waiting) → the link.
Result<int> parseCipRxGetUrc(std::string_view line);

struct CipRxGetRead {
    int link = 0;
    size_t read = 0;  ///< raw bytes that follow the line
    size_t rest = 0;  ///< bytes still buffered in the module
};
/// "+CIPRXGET: 2,<link>,<read_len>,<rest_len>".
Result<CipRxGetRead> parseCipRxGetRead(std::string_view line);

/// "+CCHSTART: <err>" / "+CCHSTOP: <err>" (`prefix` says which).
Result<int> parseCchStatus(std::string_view line, std::string_view prefix);
/// "+CCHEVENT: <session>,RECV EVENT" → the session.
Result<int> parseCchRecvEvent(std::string_view line);
/// "+CCH_PEER_CLOSED: <session>" → the session.
Result<int> parseCchPeerClosed(std::string_view line);
/// "+CCHRECV: LEN,<cache0>,<cache1>" → bytes cached for sessions 0 and 1.
Result<std::pair<size_t, size_t>> parseCchRecvLen(std::string_view line);

struct CchData {
    int session = 0;
    size_t length = 0;
};
/// "+CCHRECV: DATA,<session>,<len>" (then len raw bytes).
Result<CchData> parseCchRecvData(std::string_view line);

/// The names listed by AT+CCERTLIST ("+CCERTLIST: \"<name>\"" lines).
std::vector<std::string> parseCertList(const std::vector<std::string>& lines);

/// "+CREG/+CGREG/+CEREG: <n>,<stat>..." read answers, and +CSQ (the generic parsers).
Result<RegState> parseRegistrationRead(std::string_view line);
Result<SignalQuality> parseCsq(std::string_view line);

/// "+COPS: <mode>[,<format>,\"<oper>\"[,<AcT>]]" (3GPP TS 27.007 §7.3): the operator as the
/// module names it (empty when not registered) and the access technology in words.
struct OperatorInfo {
    std::string name;
    std::string access_technology;
};
Result<OperatorInfo> parseCops(std::string_view line);
/// 27.007 <AcT> in words: 7 "LTE", 9 "NB-IoT", 0 "GSM", ...
std::string accessTechnologyWords(int act);
/// `modem info` applier for AT+COPS?: operator_name and access_technology.
void applyCops(const Result<AtResponse>& answer, ModemInfo& info);

/// Plain words for the <err> of +NETOPEN / +CIPOPEN / +CIPCLOSE (0-12); empty for others.
std::string tcpipErrorWords(int err);
/// Plain words for the CCH <err> (0-19); empty for others.
std::string cchErrorWords(int err);
/// Plain words for "+IP ERROR: <text>" texts.
std::string ipErrorWords(std::string_view text);
/// Plain words for any A76xx error or result line.
std::string explainLine(std::string_view line);

}  // namespace uplinkd::plugins::simcom_a76xx
