// SPDX-License-Identifier: Apache-2.0
// AtChannel: AT commands to a module over a serial line, with per-command timeouts, final
// results, URCs dispatched while commands are pending, and data phases (byte-counted after a
// prompt, or pattern-terminated after CONNECT). Implemented by the daemon on a SerialPort; used
// by modem plugins. One command at a time; later ones queue. Thread: loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// What came back for a command.
struct AtResponse {
    std::vector<std::string> lines;  ///< information lines between the echo and the final result
    std::string final;               ///< "OK", or the error line for a failed command
    std::string data;                ///< raw bytes of a data phase (see AtDataRead)
};

/// How the raw bytes of a reply are framed.
struct AtDataRead {
    enum class Kind {
        /// An information line starting with `header` gives the byte count (via `count`);
        /// exactly that many raw bytes follow it (they may contain CR, LF or "OK").
        CountedAfterHeader,
        /// "CONNECT" is followed by exactly `length` raw bytes (they may contain anything,
        /// the terminator included), then exactly `terminator`, then the final result. A
        /// different byte where the terminator belongs fails the command ("at_framing").
        CountedAfterConnect,
        /// "CONNECT" is followed by raw bytes up to `terminator` (not part of the data), then
        /// the final result. Only for bytes that can never hold the terminator (not for data
        /// from a peer: use CountedAfterConnect).
        UntilPattern,
    } kind = Kind::CountedAfterHeader;
    std::string header;                               ///< e.g. "+CIPRXGET: 2,"
    std::function<size_t(const std::string&)> count;  ///< byte count from the header line
    size_t length = 0;                                ///< CountedAfterConnect: the byte count
    std::string terminator;                           ///< e.g. "--EOF--Pattern--"
};

/// How a payload is handed to the module after a command.
struct AtDataWrite {
    std::string prompt = ">";  ///< what the module sends before it takes the bytes (">", "CONNECT")
    std::string payload;       ///< exactly these bytes are written
    std::string terminator;    ///< written after the payload (HL78 EOF pattern), or empty
    /// Silence kept on the line between the payload and the terminator, counted from when the
    /// payload has been sent at the line's rate (an escape such as BX310x "+++" needs a guard
    /// time before it); zero: the terminator follows the payload at once.
    std::chrono::milliseconds guard{0};
    /// The payload follows the command line at once, without waiting for a prompt (`prompt` is
    /// not used): modules whose command announces the length and takes the bytes right after
    /// its CR (SPWF04 AT+S.SOCKW=<id>,<len>).
    bool immediate = false;
};

/// A final result line of a module's own dialect, besides the V.250 / 27.007 ones (OK, ERROR,
/// +CME ERROR: ...): e.g. SPWF04 "AT-S.OK" and "AT-S.ERROR:<code>:<text>".
struct AtFinalForm {
    std::string text;      ///< the whole line, or its start when `prefix`
    bool prefix = false;   ///< lines that start with `text`
    bool success = false;  ///< ends the command successfully (else: failure, "at_error")
};

class AtChannel {
  public:
    virtual ~AtChannel() = default;
    using Done = std::function<void(Result<AtResponse>)>;

    /// Sends `command` (without CR) and waits for its final result. Error codes: "at_error"
    /// (message holds the final line, e.g. "+CME ERROR: 910"), "at_timeout", "at_closed",
    /// "at_reset" (the module restarted: a boot indication, see onBoot), "at_framing" (a data
    /// block was not framed as announced).
    virtual void command(const std::string& command, std::chrono::milliseconds timeout,
                         Done done) = 0;
    /// Sends `command`, waits for the prompt, writes the payload (and terminator), then waits
    /// for the final result.
    virtual void commandWithData(const std::string& command, const AtDataWrite& write,
                                 std::chrono::milliseconds timeout, Done done) = 0;
    /// Sends `command` whose reply carries raw bytes framed as `read` says; they end up in
    /// AtResponse::data.
    virtual void commandReadingData(const std::string& command, const AtDataRead& read,
                                    std::chrono::milliseconds timeout, Done done) = 0;

    using UrcHandler = std::function<void(const std::string& line)>;
    /// Lines starting with `prefix` that arrive outside a command's own reply go to `handler`.
    /// A URC that arrives during a data phase is delivered after it.
    virtual void onUrc(const std::string& prefix, UrcHandler handler) = 0;
    /// A URC followed by raw bytes (e.g. "+CCHRECV: DATA,0,12" then 12 bytes): `count` gives the
    /// byte count from the line; `handler` gets the line and the bytes.
    virtual void onUrcWithData(
        const std::string& prefix, std::function<size_t(const std::string&)> count,
        std::function<void(const std::string& line, std::string data)> handler) = 0;
    /// Lines starting with `prefix` are the module's boot indication ("+KSUP:", "*ATREADY:"):
    /// whenever one arrives outside byte-counted data (also in the middle of a command, of its
    /// data phase or of a held URC sequence), the command in flight (once it began to answer or
    /// entered its data phase) and every queued one fail at once with "at_reset", held URCs
    /// are dropped, and `handler` gets the line. A command written but not answered at all gets
    /// a short grace (the restarted module may answer it), then fails the same way. A byte-counted
    /// block that stops arriving is abandoned after a short silence; a boot indication at a
    /// line start inside it then counts as one.
    virtual void onBoot(const std::string& prefix, UrcHandler handler) = 0;
    /// Declares one more final result form of the module's dialect (see AtFinalForm); it holds
    /// until the URC handlers are forgotten. Channels that do not frame lines themselves (test
    /// fakes) may ignore it.
    virtual void addFinalResult(const AtFinalForm& form) { (void)form; }
    /// Fails every queued and pending command with "at_closed" and forgets partial input
    /// (after a module reset).
    virtual void reset() = 0;
    /// Bytes written to and read from the line since start (for benchmarks and status).
    virtual uint64_t bytesWritten() const = 0;
    virtual uint64_t bytesRead() const = 0;
};

}  // namespace uplinkd
