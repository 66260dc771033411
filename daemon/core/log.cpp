#include "uplinkd/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

namespace uplinkd {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
}

void setLogLevel(LogLevel level) {
    g_level = static_cast<int>(level);
}

bool logEnabled(LogLevel level) {
    return static_cast<int>(level) <= g_level.load();
}

void logLine(LogLevel level, std::string_view text) {
    if (!logEnabled(level)) {
        return;
    }
    std::string line;
    line.reserve(text.size() + 5);
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
    // One record per line: a newline inside the text would split it in the journal.
    for (char c : text) {
        line += (c == '\n') ? ' ' : c;
    }
    line += '\n';
    // A single write keeps lines from different threads whole.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

}  // namespace uplinkd
