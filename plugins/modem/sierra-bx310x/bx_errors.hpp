// SPDX-License-Identifier: Apache-2.0
// What the BX310x's codes mean, as tables of plain words and the fix: +CME ERROR 902-932 (the
// K commands), +KMQTT_IND codes, +SRWSTASTATUS reasons (IEEE 802.11 reason codes and the
// module's own), +KTCP_NOTIF codes; and explainLine() for any error line. No I/O.
// Thread: any (pure functions).
#pragma once

#include <string>
#include <string_view>

namespace uplinkd::plugins::sierra_bx310x {

/// One code's meaning and what to do about it.
struct CodeWords {
    int code;
    std::string_view words;
    std::string_view fix;
};

/// The entry for a code of each table; nullptr when the table does not know it.
const CodeWords* cmeErrorEntry(int code);
const CodeWords* kmqttIndEntry(int code);
const CodeWords* staReasonEntry(int reason);
const CodeWords* ktcpNotifEntry(int code);

/// "<words>: <fix>" for a Wi-Fi disconnection reason (unknown ones named by number).
std::string staReasonWords(int reason);

/// Plain words with the fix for any BX line: "+CME ERROR: <n>", "+KMQTT_IND: <id>,<code>",
/// "+SRWSTASTATUS: 0,<reason>", "+KTCP_NOTIF: <id>,<code>", "READY", "ERROR".
std::string explainLine(std::string_view line);

}  // namespace uplinkd::plugins::sierra_bx310x
