// SPDX-License-Identifier: Apache-2.0
#include "common/generic_at.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace uplinkd::plugins::modem_common {

namespace {

std::string_view trimChars(std::string_view s, std::string_view chars) {
    const size_t first = s.find_first_not_of(chars);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

std::string_view trim(std::string_view s) {
    return trimChars(s, " \t\r\n");
}

Failure badReply(std::string_view what, std::string_view line) {
    return fail("bad_reply",
                "unexpected " + std::string(what) + " answer \"" + printable(line, 80) + "\"");
}

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

std::string_view trimLine(std::string_view line) {
    return trimChars(line, " \r\n");
}

std::string printable(std::string_view text, size_t max) {
    std::string shown;
    for (const char c : text.substr(0, max)) {
        const auto u = static_cast<unsigned char>(c);
        shown += (u >= 0x20 && u < 0x7f) ? c : '?';
    }
    return shown;
}

Failure unexpectedReply(std::string_view what, std::string_view line) {
    return fail("bad_reply",
                "unexpected " + std::string(what) + " \"" + printable(line, 80) + "\"");
}

std::optional<std::string_view> afterPrefix(std::string_view line, std::string_view prefix) {
    if (!line.starts_with(prefix)) {
        return std::nullopt;
    }
    line.remove_prefix(prefix.size());
    while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
    }
    return line;
}

std::vector<std::string_view> splitFields(std::string_view text) {
    std::vector<std::string_view> out;
    bool quoted = false;
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || (text[i] == ',' && !quoted)) {
            out.push_back(trim(text.substr(start, i - start)));
            start = i + 1;
        } else if (text[i] == '"') {
            quoted = !quoted;
        }
    }
    return out;
}

std::optional<std::vector<std::string_view>> fieldsAfter(std::string_view line,
                                                         std::string_view prefix) {
    const auto rest = afterPrefix(trimLine(line), prefix);
    if (!rest) {
        return std::nullopt;
    }
    return splitFields(*rest);
}

std::optional<int64_t> parseInt(std::string_view text, int64_t min, int64_t max) {
    text = trim(text);
    if (text.empty() || text.size() > 19) {
        return std::nullopt;
    }
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
        return std::nullopt;
    }
    return v;
}

std::optional<std::vector<int64_t>> intsAfter(std::string_view line, std::string_view prefix,
                                              std::initializer_list<IntRange> ranges,
                                              ExtraFields extra) {
    const auto f = fieldsAfter(line, prefix);
    if (!f || f->size() < ranges.size() ||
        (extra == ExtraFields::Refused && f->size() != ranges.size())) {
        return std::nullopt;
    }
    std::vector<int64_t> out;
    for (const IntRange& r : ranges) {
        const auto v = parseInt((*f)[out.size()], r.min, r.max);
        if (!v) {
            return std::nullopt;
        }
        out.push_back(*v);
    }
    return out;
}

std::optional<std::string_view> quotedContent(std::string_view field) {
    if (field.size() < 2 || field.front() != '"' || field.back() != '"') {
        return std::nullopt;
    }
    return field.substr(1, field.size() - 2);
}

std::string_view unquote(std::string_view field) {
    field = trim(field);
    if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
        field.remove_prefix(1);
        field.remove_suffix(1);
    }
    return field;
}

bool safeForQuotedArgument(std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return c == '"' || u < 0x20 || u == 0x7f;
    });
}

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

std::string commandName(std::string_view command) {
    const size_t end = command.find_first_of("=?");
    return std::string(command.substr(0, end));
}

std::optional<int64_t> intField(std::string_view line, std::string_view prefix, size_t n,
                                int64_t min, int64_t max) {
    const auto rest = afterPrefix(line, prefix);
    if (!rest) {
        return std::nullopt;
    }
    const auto fields = splitFields(*rest);
    if (n >= fields.size()) {
        return std::nullopt;
    }
    return parseInt(fields[n], min, max);
}

// ---- +CSQ -------------------------------------------------------------------------------------

std::optional<int> SignalQuality::dbm() const {
    if (rssi < 0 || rssi > 31) {
        return std::nullopt;
    }
    return -113 + 2 * rssi;
}

Result<SignalQuality> parseCsq(std::string_view line) {
    const auto rest = afterPrefix(trim(line), "+CSQ:");
    if (!rest) {
        return badReply("+CSQ", line);
    }
    const auto f = splitFields(*rest);
    if (f.size() != 2) {
        return badReply("+CSQ", line);
    }
    const auto rssi = parseInt(f[0], 0, 99);
    const auto ber = parseInt(f[1], 0, 99);
    if (!rssi || !ber || (*rssi > 31 && *rssi != 99) || (*ber > 7 && *ber != 99)) {
        return badReply("+CSQ", line);
    }
    return SignalQuality{static_cast<int>(*rssi), static_cast<int>(*ber)};
}

// ---- +CCLK -------------------------------------------------------------------------------------

namespace {

/// Days from 1970-01-01 to year-month-day (proleptic Gregorian).
int64_t daysFromCivil(int64_t year, int64_t month, int64_t day) {
    const int64_t y = year - (month <= 2 ? 1 : 0);
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

}  // namespace

std::optional<int64_t> parseClockText(std::string_view text, ClockZone zone) {
    const bool zoned = text.size() == 20;
    if ((!zoned && (text.size() != 17 || zone == ClockZone::Required)) || text[2] != '/' ||
        text[5] != '/' || text[8] != ',' || text[11] != ':' || text[14] != ':' ||
        (zoned && text[17] != '+' && text[17] != '-')) {
        return std::nullopt;
    }
    auto num = [&](size_t at, int64_t lo, int64_t hi) {
        return parseInt(text.substr(at, 2), lo, hi);
    };
    const auto yy = num(0, 0, 99);
    const auto mo = num(3, 1, 12);
    const auto dd = num(6, 1, 31);
    const auto hh = num(9, 0, 23);
    const auto mi = num(12, 0, 59);
    const auto ss = num(15, 0, 60);  // 60: a leap second
    const auto zz = zoned ? num(18, 0, 96) : std::optional<int64_t>(0);
    if (!yy || !mo || !dd || !hh || !mi || !ss || !zz) {
        return std::nullopt;
    }
    const int64_t local = daysFromCivil(2000 + *yy, *mo, *dd) * 86400 + *hh * 3600 + *mi * 60 + *ss;
    const int64_t sign = zoned && text[17] == '-' ? -1 : 1;
    return local - sign * *zz * 900;
}

// ---- registration -----------------------------------------------------------------------------

bool isRegistered(RegState s) {
    return s == RegState::Home || s == RegState::Roaming;
}

/// Words for each RegState, in the order of the 27.007 <stat> values.
constexpr std::string_view kRegStateWords[] = {
    "not registered, not searching", "registered (home)", "searching", "denied", "unknown",
    "registered (roaming)",
};
static_assert(std::size(kRegStateWords) == static_cast<size_t>(RegState::Roaming) + 1);

std::string regStateWords(RegState s) {
    const auto i = static_cast<size_t>(s);
    return std::string(i < std::size(kRegStateWords) ? kRegStateWords[i] : "unknown");
}

namespace {

Result<RegState> regStateFrom(std::string_view field, std::string_view line) {
    const auto stat = parseInt(field, 0, 5);
    if (!stat) {
        // 27.007 has more values (6-11: SMS only, emergency only, ...); none means "registered
        // for data", so they count as unknown.
        if (parseInt(field, 6, 11)) {
            return RegState::Unknown;
        }
        return badReply("registration", line);
    }
    return static_cast<RegState>(*stat);
}

}  // namespace

Result<RegState> parseRegistrationRead(std::string_view line, std::string_view prefix) {
    const auto rest = afterPrefix(trim(line), prefix);
    if (!rest) {
        return badReply("registration", line);
    }
    const auto f = splitFields(*rest);
    if (f.size() < 2 || !parseInt(f[0], 0, 5)) {
        return badReply("registration", line);
    }
    return regStateFrom(f[1], line);
}

Result<RegState> parseRegistrationUrc(std::string_view line, std::string_view prefix) {
    const auto rest = afterPrefix(trim(line), prefix);
    if (!rest) {
        return badReply("registration", line);
    }
    const auto f = splitFields(*rest);
    if (f.empty() || f[0].empty()) {
        return badReply("registration", line);
    }
    return regStateFrom(f[0], line);
}

// ---- SIM --------------------------------------------------------------------------------------

Result<SimStatus> parseCpin(std::string_view line) {
    const auto rest = afterPrefix(trim(line), "+CPIN:");
    if (!rest || rest->empty()) {
        return badReply("+CPIN", line);
    }
    SimStatus s;
    s.code = std::string(unquote(*rest));
    if (s.code == "READY") {
        s.state = SimState::Ready;
    } else if (s.code == "SIM PIN") {
        s.state = SimState::PinRequired;
    } else if (s.code == "SIM PUK") {
        s.state = SimState::PukRequired;
    } else {
        s.state = SimState::Other;
    }
    return s;
}

std::string simStateWords(const SimStatus& s) {
    switch (s.state) {
        case SimState::Ready:
            return "ready";
        case SimState::PinRequired:
            return "PIN required";
        case SimState::PukRequired:
            return "PUK required (blocked)";
        case SimState::Other:
            break;
    }
    return "locked (" + s.code + ")";
}

// ---- errors -----------------------------------------------------------------------------------

std::optional<int> parseCmeErrorCode(std::string_view line) {
    line = trim(line);
    auto rest = afterPrefix(line, "+CME ERROR:");
    if (!rest) {
        rest = afterPrefix(line, "+CMS ERROR:");
    }
    if (!rest) {
        return std::nullopt;
    }
    const auto v = parseInt(*rest, 0, 65535);
    if (!v) {
        return std::nullopt;
    }
    return static_cast<int>(*v);
}

std::string codeWords(std::span<const CodeWords> table, int code) {
    for (const auto& e : table) {
        if (e.code == code) {
            return std::string(e.words);
        }
    }
    return {};
}

// 3GPP TS 27.007, section 9.2.1 (general errors).
constexpr CodeWords kCmeGeneral[] = {
    {0, "phone failure"},
    {3, "operation not allowed"},
    {4, "operation not supported"},
    {10, "no SIM card is inserted (or it is not seated properly)"},
    {11, "the SIM needs its PIN"},
    {12, "the SIM is blocked and needs its PUK"},
    {13, "SIM failure"},
    {14, "the SIM is busy"},
    {15, "wrong SIM"},
    {16, "incorrect PIN or password"},
    {17, "the SIM needs PIN2"},
    {18, "the SIM needs PUK2"},
    {20, "memory full"},
    {21, "invalid index"},
    {22, "not found"},
    {23, "memory failure"},
    {24, "text string too long"},
    {30, "no network service"},
    {31, "network timeout"},
    {32, "network not allowed, emergency calls only"},
    {100, "unknown error"},
};

std::string cmeGeneralWords(int code) {
    return codeWords(kCmeGeneral, code);
}

// ---- identity ---------------------------------------------------------------------------------

Result<std::string> parseIdentityValue(const std::vector<std::string>& lines,
                                       std::string_view prefix) {
    for (const auto& raw : lines) {
        std::string_view line = trim(raw);
        if (line.empty()) {
            continue;
        }
        if (!prefix.empty()) {
            if (auto rest = afterPrefix(line, prefix)) {
                line = *rest;
            }
        }
        line = unquote(line);
        if (line.empty()) {
            continue;
        }
        return std::string(line);
    }
    return fail("bad_reply", "the module gave an empty answer");
}

Identity parseAti(const std::vector<std::string>& lines) {
    Identity id;
    bool bare_model_taken = false;
    for (const auto& raw : lines) {
        const std::string_view line = trim(raw);
        if (line.empty()) {
            continue;
        }
        const size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
            std::string key;
            for (const char c : line.substr(0, colon)) {
                key += lower(c);
            }
            const std::string value(trim(line.substr(colon + 1)));
            if (key == "manufacturer") {
                id.manufacturer = value;
                continue;
            }
            if (key == "model") {
                id.model = value;
                continue;
            }
            if (key == "revision" || key == "firmware") {
                id.firmware = value;
                continue;
            }
            if (key == "imei") {
                id.imei = value;
                continue;
            }
        }
        if (line.starts_with("Revision") || line.starts_with("REVISION")) {
            id.firmware = std::string(trim(line.substr(8)));
            continue;
        }
        if (!bare_model_taken && id.model.empty()) {
            id.model = std::string(line);
            bare_model_taken = true;
        }
    }
    return id;
}

bool matchesModel(std::string_view text, const std::vector<std::string>& patterns) {
    std::string hay;
    for (const char c : text) {
        hay += lower(c);
    }
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        std::string needle;
        for (const char c : p) {
            needle += lower(c);
        }
        return !needle.empty() && hay.find(needle) != std::string::npos;
    });
}

}  // namespace uplinkd::plugins::modem_common
