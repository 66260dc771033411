// SPDX-License-Identifier: Apache-2.0
// Pure parsers for HL78xx answers and URCs (+KTCPCFG, +KTCP_IND, +KTCP_NOTIF, +KTCP_DATA,
// +KCNX_IND, +KSUP, +KCERTSTORE?), the generic ones it uses (+CEREG, +CSQ, ATI / +CGMM), the
// tables that turn +CME ERROR 902-932 and +KTCP_NOTIF 0-15 into plain words, and the rule that
// keeps the EOF pattern out of a KTCPSND payload. Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/generic_at.hpp"
#include "common/kcert_store.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using modem_common::Identity;
using modem_common::RegState;
using modem_common::SignalQuality;
using modem_common::StoredCert;

/// "+KTCPCFG: <session_id>" → the session id (1-255).
Result<int> parseKtcpCfg(std::string_view line);

struct KtcpInd {
    int session = 0;
    int status = 0;  ///< 1: connected
};
/// "+KTCP_IND: <session_id>,<status>".
Result<KtcpInd> parseKtcpInd(std::string_view line);

/// "+KTCP_NOTIF: <session_id>,<tcp_notif>" (the code: see ktcpNotifWords()).
using KtcpNotif = modem_common::SessionCode;
Result<KtcpNotif> parseKtcpNotif(std::string_view line);

struct KtcpData {
    int session = 0;
    size_t available = 0;
};
/// "+KTCP_DATA: <session_id>,<bytes available>" (some firmware adds fields after it).
Result<KtcpData> parseKtcpData(std::string_view line);

struct KcnxInd {
    int cnx = 0;
    int status = 0;  ///< 0 dropped, 1 up, 2 failed, 3 closed, 4 connecting, 5 idle countdown
};
/// "+KCNX_IND: <cnx_cnf>,<status>[,<attempt/timer>]".
Result<KcnxInd> parseKcnxInd(std::string_view line);
/// True for the statuses that end a wait for the bearer (0-3).
bool kcnxFinal(int status);

struct KtcpStat {
    int status = 0;
    size_t received = 0;  ///< bytes received and not read yet
};
/// "+KTCPSTAT: <status>,<tcp_notif>,<rem_data>,<rcv_data>" (AT+KTCPSTAT=<id>).
Result<KtcpStat> parseKtcpStat(std::string_view line);

struct ListedSession {
    int id = 0;
    int status = 0;  ///< 1 defined, 2 opening, 3 connected, 4 closing, 5 closed (as KTCPSTAT)
    bool operator==(const ListedSession&) const = default;
};
/// The sessions of a bare AT+KTCPSTAT listing ("+KTCPSTAT: <id>,<status>,<notif>,<rem>,<rcv>"
/// per session); other lines are ignored.
std::vector<ListedSession> parseKtcpStatList(const std::vector<std::string>& lines);

/// True for the errors that say the module has no session left to give ("+CME ERROR: 902"
/// / "912", "+KTCP_NOTIF: <id>,1" / ",11").
bool noSessionsLeft(std::string_view error_line);

/// "+KSUP: <n>" (boot URC) → n; 0 means ready.
Result<int> parseKsup(std::string_view line);
std::string ksupWords(int n);

/// "+CEREG: <n>,<stat>[,...]" (read) — the registration state.
Result<RegState> parseCeregRead(std::string_view line);
/// "+CEREG: <stat>[,"<tac>","<ci>",<AcT>...]" (URC with AT+CEREG=2..5).
Result<RegState> parseCeregUrc(std::string_view line);
/// "+CSQ: <rssi>,<ber>".
Result<SignalQuality> parseCsq(std::string_view line);
/// ATI lines, or AT+CGMM lines for the model.
Identity parseIdentity(const std::vector<std::string>& lines);

/// "+KCERTSTORE:" then "root_cert,<index>,<len>" / "local_cert,<index>,<len>" lines, each
/// followed by its certificate text (the HL78 lists no keys). An empty store gives no entries.
Result<std::vector<StoredCert>> parseCertStoreList(const std::vector<std::string>& lines);

/// Plain words for a +KTCP_NOTIF code; empty for an unknown one.
std::string ktcpNotifWords(int code);
/// Plain words for the K-command +CME ERROR codes 902-932; empty for others.
std::string kCommandErrorWords(int code);
/// Plain words for any HL78 error line: "+CME ERROR: <n>", "+KTCP_NOTIF: <id>,<code>",
/// "+KCNX_IND: <cnx>,<status>", "+KSUP: <n>", "ERROR".
std::string explainLine(std::string_view line);

/// The length of the next KTCPSND payload from `data`: at most `max`, and such that the module,
/// which ends the data phase at the first EOF pattern, finds the pattern exactly after the
/// payload (the payload never contains the pattern, nor ends in a way that makes an earlier
/// match with the terminator). At least 1 when `data` is not empty.
size_t safeSendLength(std::span<const uint8_t> data, size_t max, std::string_view pattern);

}  // namespace uplinkd::plugins::sierra_hl78
