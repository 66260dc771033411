// Logging to stderr with syslog level prefixes ("<6>...") so journald keeps the levels.
// Only the code that handles an error logs it. Never pass secrets. Thread: any (one write per
// line).
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

}  // namespace uplinkd
