// SPDX-License-Identifier: Apache-2.0
// Logging to stderr with syslog level prefixes ("<6>...") so journald keeps the levels, or,
// under systemd, straight to the journal with structured fields (UPLINKD_ROUTE=, UPLINKD_UPLINK=,
// UPLINKD_CODE=, MESSAGE_ID=; docs/journal.md). Only the code that handles an error logs it.
// Never pass secrets. Thread: any (one write per line).
#pragma once

#include <string_view>

namespace uplinkd {

enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void logLine(LogLevel level, std::string_view text);

inline void logError(std::string_view text) {
    logLine(LogLevel::Error, text);
}
inline void logWarning(std::string_view text) {
    logLine(LogLevel::Warning, text);
}
inline void logNotice(std::string_view text) {
    logLine(LogLevel::Notice, text);
}
inline void logInfo(std::string_view text) {
    logLine(LogLevel::Info, text);
}
inline void logDebug(std::string_view text) {
    logLine(LogLevel::Debug, text);
}

/// Where lines go: stderr with "<N>" prefixes (foreground, default) or the journal's native
/// protocol (sd_journal_sendv) with structured fields.
enum class LogTarget { Stderr, Journal };
void setLogTarget(LogTarget target);
LogTarget logTarget();
/// True when stderr is the journal's stream (JOURNAL_STREAM names stderr's device and inode,
/// as systemd sets it for StandardError=journal).
bool stderrIsJournal();

/// Event kinds with a stable MESSAGE_ID each, so `journalctl MESSAGE_ID=...` finds them.
enum class LogEvent { RouteOnline, RouteDown, Failover, SpoolFull, ModemRecovered, DeadLetter };
/// The kind's MESSAGE_ID: 32 lowercase hex digits, fixed forever (docs/journal.md).
std::string_view logEventId(LogEvent event);

/// Fields of a structured event; empty ones are left out.
struct LogFields {
    std::string_view route;
    std::string_view uplink;
    std::string_view code;  ///< the error code or reason, when there is one
};

/// One line like logLine, plus the event's MESSAGE_ID and fields in the journal.
void logEvent(LogLevel level, LogEvent event, const LogFields& fields, std::string_view text);

/// A route moved from one uplink to another (logged by the failover code).
inline void logFailover(std::string_view route, std::string_view from, std::string_view to,
                        std::string_view reason_code, std::string_view text) {
    (void)from;
    (void)to;
    logEvent(LogLevel::Notice, LogEvent::Failover, {route, to, reason_code}, text);
}

}  // namespace uplinkd
