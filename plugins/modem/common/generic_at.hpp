// SPDX-License-Identifier: Apache-2.0
// Generic 3GPP TS 27.007 / V.250 pieces that every cellular AT dialect shares: pure parsers for
// +CSQ, +CREG/+CGREG/+CEREG, +CPIN, +CME ERROR and identity answers, field splitting, and the
// plain words for the general +CME ERROR codes. No I/O. Thread: any (pure functions).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

// ---- field helpers ----------------------------------------------------------------------------

/// `line` without the spaces, CR and LF around it (tabs stay).
std::string_view trimLine(std::string_view line);

/// `text` for a message: at most `max` characters, anything but printable ASCII shown as '?'
/// (module replies may be long or binary).
std::string printable(std::string_view text, size_t max = 120);

/// The "bad_reply" failure of a parser: unexpected <what> "<line, shown printable>".
Failure unexpectedReply(std::string_view what, std::string_view line);

/// The text after `prefix` when `line` starts with it (e.g. "+CSQ: 20,99" after "+CSQ:"), with
/// leading spaces removed.
std::optional<std::string_view> afterPrefix(std::string_view line, std::string_view prefix);

/// Splits "a,\"b,c\",d" at commas outside double quotes; fields keep their quotes, spaces around
/// them are trimmed.
std::vector<std::string_view> splitFields(std::string_view text);

/// The fields of `line` after `prefix` (trimmed, then split as by splitFields), or nothing when
/// the line does not start with `prefix`.
std::optional<std::vector<std::string_view>> fieldsAfter(std::string_view line,
                                                         std::string_view prefix);

/// The range an integer field must lie in.
struct IntRange {
    int64_t min;
    int64_t max;
};

/// Whether a line may have more fields than the integers asked for.
enum class ExtraFields { Refused, Ignored };

/// The first fields after `prefix` as integers, one for each of `ranges` and within it
/// ("+CIPSEND: 1,10,10" with {{0, 9}, {0, n}, {-1, n}}). Nothing when the line does not start
/// with `prefix`, a field is missing or out of range, or (ExtraFields::Refused) more follow.
std::optional<std::vector<int64_t>> intsAfter(std::string_view line, std::string_view prefix,
                                              std::initializer_list<IntRange> ranges,
                                              ExtraFields extra = ExtraFields::Refused);

/// "<prefix> <id>,<value>[,...]" (id 0-`id_max`, value 0-`value_max`, later fields ignored) as
/// T{id, value}; else an unexpectedReply() naming `prefix`.
template <class T, class Value = int>
Result<T> idAndValue(std::string_view line, std::string_view prefix, int64_t id_max,
                     int64_t value_max) {
    const auto v = intsAfter(line, prefix, {{0, id_max}, {0, value_max}}, ExtraFields::Ignored);
    if (!v) {
        return unexpectedReply(prefix, line);
    }
    return T{static_cast<int>((*v)[0]), static_cast<Value>((*v)[1])};
}

/// "<prefix> <session>,<code>": a session's indication with a code (the K commands' +KTCP_NOTIF
/// and +KMQTT_IND).
struct SessionCode {
    int session = 0;
    int code = 0;
};

/// A decimal integer (optional '-') within [min, max]; nothing else in `text`.
std::optional<int64_t> parseInt(std::string_view text, int64_t min, int64_t max);

/// A field that is a quoted string ("..."): its content without the quotes, or nothing.
std::optional<std::string_view> quotedContent(std::string_view field);

/// A field without its surrounding double quotes (as is when it has none).
std::string_view unquote(std::string_view field);

/// True when `text` can go inside a quoted AT string argument: no '"', no control characters.
bool safeForQuotedArgument(std::string_view text);

/// `text` as a quoted AT string argument (checked with safeForQuotedArgument before).
std::string quoted(std::string_view text);

/// The command's name for messages: "AT+KCNXCFG" for "AT+KCNXCFG=1,\"GPRS\",\"apn\"" (arguments
/// may hold secrets and never appear in errors).
std::string commandName(std::string_view command);

/// Parses the <n>th comma-separated integer after `prefix` in `line`.
std::optional<int64_t> intField(std::string_view line, std::string_view prefix, size_t n,
                                int64_t min, int64_t max);

// ---- +CSQ -------------------------------------------------------------------------------------

struct SignalQuality {
    int rssi = 99;  ///< 0-31, 99 unknown
    int ber = 99;   ///< 0-7, 99 unknown
    /// dBm = -113 + 2 * rssi; nullopt when the module does not know.
    std::optional<int> dbm() const;
};

/// "+CSQ: <rssi>,<ber>".
Result<SignalQuality> parseCsq(std::string_view line);

// ---- +CCLK -------------------------------------------------------------------------------------

/// Whether a +CCLK time must carry its time zone.
enum class ClockZone { Required, Optional };

/// The module's clock from the +CCLK time `text` (without its quotes): "yy/MM/dd,hh:mm:ss±zz",
/// zz in quarter hours (local time = UTC + zz), or without "±zz" when `zone` is Optional (then
/// UTC). Seconds since 1970-01-01 UTC; nothing when `text` is not such a time.
std::optional<int64_t> parseClockText(std::string_view text, ClockZone zone);

// ---- registration -----------------------------------------------------------------------------

/// 27.007 <stat> of +CREG / +CGREG / +CEREG.
enum class RegState {
    NotSearching = 0,
    Home = 1,
    Searching = 2,
    Denied = 3,
    Unknown = 4,
    Roaming = 5,
};

bool isRegistered(RegState s);
/// "registered (home)", "searching", "denied", ...
std::string regStateWords(RegState s);

/// The answer to a read (`AT+CEREG?`): "+CEREG: <n>,<stat>[,<tac>,<ci>,<AcT>...]". `prefix` is
/// "+CEREG:", "+CGREG:" or "+CREG:".
Result<RegState> parseRegistrationRead(std::string_view line, std::string_view prefix);
/// An unsolicited report (`AT+CEREG=2..5`): "+CEREG: <stat>[,<tac>,<ci>,<AcT>...]".
Result<RegState> parseRegistrationUrc(std::string_view line, std::string_view prefix);

// ---- SIM --------------------------------------------------------------------------------------

enum class SimState { Ready, PinRequired, PukRequired, Other };

struct SimStatus {
    SimState state = SimState::Other;
    std::string code;  ///< as the module wrote it: "READY", "SIM PIN", ...
};

/// "+CPIN: READY" / "+CPIN: SIM PIN" / "+CPIN: SIM PUK" / others.
Result<SimStatus> parseCpin(std::string_view line);
/// "ready", "PIN required", ... for ModemInfo::sim.
std::string simStateWords(const SimStatus& s);

// ---- errors -----------------------------------------------------------------------------------

/// One row of a table that says a module's code (an error, a state, a cause) in plain words.
struct CodeWords {
    int code;
    std::string_view words;
};

/// The words `table` gives `code`, or "" when it has none.
std::string codeWords(std::span<const CodeWords> table, int code);

/// The number of a numeric "+CME ERROR: <n>" line (also "+CMS ERROR: <n>"); nullopt otherwise.
std::optional<int> parseCmeErrorCode(std::string_view line);
/// Plain words for the general 27.007 +CME ERROR codes (SIM, network, memory); empty when the
/// code is not a general one.
std::string cmeGeneralWords(int code);

// ---- identity ---------------------------------------------------------------------------------

/// What ATI / AT+CGMI / AT+CGMM / AT+CGMR / AT+CGSN reported.
struct Identity {
    std::string manufacturer;
    std::string model;
    std::string firmware;
    std::string imei;
};

/// The single value of an identity query ("AT+CGMM" → "HL7802", "+CGMM: A7670E" → "A7670E"):
/// the first non-empty line with `prefix` (e.g. "+CGMM:") and surrounding quotes removed.
Result<std::string> parseIdentityValue(const std::vector<std::string>& lines,
                                       std::string_view prefix);
/// ATI answers: "Manufacturer: X" / "Model: Y" / "Revision: Z" / "IMEI: N" lines, or bare lines
/// (the first is taken as the model, a line starting with "Revision" as the firmware).
Identity parseAti(const std::vector<std::string>& lines);
/// True when one of `patterns` occurs in `text` (case-insensitive).
bool matchesModel(std::string_view text, const std::vector<std::string>& patterns);

}  // namespace uplinkd::plugins::modem_common
