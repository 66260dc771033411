// SPDX-License-Identifier: Apache-2.0
#include "uplinkd/log.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "core/enum_names.hpp"

namespace uplinkd {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::atomic<int> g_target{static_cast<int>(LogTarget::Stderr)};

/// One record per line: a newline inside the text would split it in the journal.
std::string oneLine(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        out += (c == '\n') ? ' ' : c;
    }
    return out;
}

void writeStderr(LogLevel level, std::string_view text) {
    std::string line;
    line.reserve(text.size() + 5);
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
    line += oneLine(text);
    line += '\n';
    // A single write keeps lines from different threads whole.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

/// Sends one entry; false when the journal could not take it (the caller falls back to stderr).
bool writeJournal(LogLevel level, std::string_view text, const char* message_id,
                  const LogFields* fields) {
    std::vector<std::string> items;
    items.reserve(7);
    items.push_back("MESSAGE=" + oneLine(text));
    items.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
    items.emplace_back("SYSLOG_IDENTIFIER=uplinkd");
    if (message_id != nullptr) {
        items.push_back(std::string("MESSAGE_ID=") + message_id);
    }
    if (fields != nullptr) {
        const std::pair<const char*, std::string_view> named[] = {
            {"UPLINKD_ROUTE=", fields->route},
            {"UPLINKD_UPLINK=", fields->uplink},
            {"UPLINKD_CODE=", fields->code}};
        for (const auto& [key, value] : named) {
            if (!value.empty()) {
                items.push_back(key + oneLine(value));
            }
        }
    }
    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (auto& s : items) {
        iov.push_back({s.data(), s.size()});
    }
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void emit(LogLevel level, std::string_view text, const char* message_id, const LogFields* fields) {
    if (!logEnabled(level)) {
        return;
    }
    if (logTarget() == LogTarget::Journal && writeJournal(level, text, message_id, fields)) {
        return;
    }
    writeStderr(level, text);
}

}  // namespace

void setLogLevel(LogLevel level) {
    g_level = static_cast<int>(level);
}

bool logEnabled(LogLevel level) {
    return static_cast<int>(level) <= g_level.load();
}

void setLogTarget(LogTarget target) {
    g_target = static_cast<int>(target);
}

LogTarget logTarget() {
    return static_cast<LogTarget>(g_target.load());
}

bool stderrIsJournal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) {
        return false;
    }
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) {
        return false;
    }
    struct stat st {};
    return ::fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

void logLine(LogLevel level, std::string_view text) {
    emit(level, text, nullptr, nullptr);
}

std::string_view logEventId(LogEvent event) {
    // Generated once (random 128-bit ids); never change them: users filter on them.
    static constexpr const char* kIds[] = {
        "7d3e1c5a0b8f4a2e9c6d1f0a3b5e7c91",  // RouteOnline
        "c2a94f1e6d0b47b38e5a2c9d7f1b0e64",  // RouteDown
        "5f0b8e2d9a3c4e61b7d2a0f9c8e1b3a7",  // Failover
        "a81d6c3f2e9b4075b4c8e1d0f6a2937b",  // SpoolFull
        "3b7e0d9c5a1f4e28a6b3d8c2e0f7a914",  // ModemRecovered
        "e94c2b7a1d0f4836b5e9a3c7d2f8016e",  // DeadLetter
    };
    static_assert(std::size(kIds) == static_cast<size_t>(LogEvent::DeadLetter) + 1);
    return enumName(event, kIds, "00000000000000000000000000000000");
}

void logEvent(LogLevel level, LogEvent event, const LogFields& fields, std::string_view text) {
    const std::string id(logEventId(event));
    emit(level, text, id.c_str(), &fields);
}

}  // namespace uplinkd
