// SPDX-License-Identifier: Apache-2.0
// AtParser: the pure part of the AT channel: turns bytes from the module, in any chunking, into
// the pending command's reply (echo skipped, information lines, prompt, raw data, final result)
// and URCs, by the framing rules of V.250 and of the data phases in uplinkd/at_channel.hpp. No
// I/O and no clocks: the channel feeds it and acts on its events. Thread: loop (any single
// thread; not shared).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uplinkd/at_channel.hpp"

namespace uplinkd {

/// How a final result line ends a command.
enum class AtFinalKind { Success, Failure };

/// One entry of the final result table: the line, or its prefix when `prefix` is set.
struct AtFinalResult {
    std::string_view text;
    bool prefix;
    AtFinalKind kind;
};

/// Final result codes (V.250 and 27.007/27.005; "SEND OK" / "SEND FAIL" end Quectel's
/// AT+QISEND and AT+QSSLSEND data phases instead of OK). A line matching none of them is not
/// final.
inline constexpr AtFinalResult kAtFinalResults[] = {
    {"OK", false, AtFinalKind::Success},         {"ERROR", false, AtFinalKind::Failure},
    {"+CME ERROR:", true, AtFinalKind::Failure}, {"+CMS ERROR:", true, AtFinalKind::Failure},
    {"NO CARRIER", false, AtFinalKind::Failure}, {"BUSY", false, AtFinalKind::Failure},
    {"NO ANSWER", false, AtFinalKind::Failure},  {"NO DIALTONE", false, AtFinalKind::Failure},
    {"SEND OK", false, AtFinalKind::Success},    {"SEND FAIL", false, AtFinalKind::Failure},
};

/// The final result kind of `line`, or nothing when it is not a final result.
std::optional<AtFinalKind> atFinalResult(std::string_view line);

/// "+CIPOPEN" for "AT+CIPOPEN=0,\"TCP\",…": the prefix of the command's own information lines
/// (empty for basic commands such as "ATE0").
std::string atCommandName(std::string_view command);

/// True when `line` cannot be a response line: control characters or invalid UTF-8 (line noise).
bool atLineIsGarbage(std::string_view line);

class AtParser {
  public:
    /// What the command that was just written expects back.
    struct Expect {
        std::string command;  ///< as written, without CR (for the echo and its own lines)
        std::string prompt;   ///< empty: no payload; ">" (sent without CR LF) or "CONNECT"
        std::optional<AtDataRead> read;  ///< raw bytes in the reply
    };

    /// How a pending command ended.
    enum class Outcome {
        Ok,        ///< a success final result
        Error,     ///< a failure final result (in AtResponse::final)
        NoPrompt,  ///< a success final result, but the prompt for the payload never came
        Framing,   ///< a data block was not framed as announced (why: AtResponse::final)
        Stalled,   ///< the module stopped in the middle of a data block (abandonRaw())
    };

    /// Receives the parser's events. Callbacks may call begin() and cancel().
    class Sink {
      public:
        virtual ~Sink() = default;
        /// The pending command's prompt arrived: its payload is to be written now.
        virtual void prompt() = 0;
        /// The pending command ended.
        virtual void done(AtResponse response, Outcome outcome) = 0;
        /// A registered URC (its index from addUrc) with its raw bytes, if it has any.
        virtual void urc(size_t index, const std::string& line, std::string data) = 0;
        /// A boot indication (its index from addBoot): held URCs and any partial data block were
        /// forgotten just before this call, and so was the pending command if it had begun to
        /// answer (or was in a data phase). One written but not answered yet stays pending():
        /// the restarted module may still answer it (see dropPending()).
        virtual void boot(size_t index, const std::string& line) = 0;
        /// A line that nobody waits for, or line noise: for debug logs only.
        virtual void stray(const std::string& line) { (void)line; }
    };

    /// Registers a URC prefix; with `count`, the line is followed by that many raw bytes.
    /// Returns its index for Sink::urc.
    size_t addUrc(std::string prefix, std::function<size_t(const std::string&)> count = {});
    /// Registers a boot-indication prefix (see AtChannel::onBoot). Returns its index for
    /// Sink::boot (its own numbering, apart from the URCs').
    size_t addBoot(std::string prefix);
    /// Registers a final result form of the module's dialect (see AtChannel::addFinalResult);
    /// checked before the V.250 / 27.007 table.
    void addFinal(AtFinalForm form);
    /// Forgets the URCs, boot indications and final result forms registered.
    void clearUrcs();
    /// The final result kind of `line` by the registered forms and kAtFinalResults, or nothing.
    std::optional<AtFinalKind> finalResult(std::string_view line) const;

    /// A command was written; its reply is expected from now on.
    void begin(Expect expect);
    /// Forgets the pending command and any partial input (timeout, module reset).
    void cancel();
    /// Forgets the pending command only (its answer will not come).
    void dropPending();
    bool pending() const { return pending_.has_value(); }

    /// Feeds bytes from the module. Callbacks on `sink` run from inside this call.
    void feed(std::string_view bytes, Sink& sink);

    /// Inside a byte-counted or pattern-terminated block (the channel watches it for silence).
    bool inRawData() const { return mode_ != Mode::Line; }
    /// The module went silent inside a raw block: the block is abandoned. When a boot
    /// indication starts a line inside it, that is a reboot (Sink::boot); otherwise the pending
    /// command ends as Outcome::Stalled (a URC's block is dropped as stray).
    void abandonRaw(Sink& sink);

    /// Longest line kept; longer ones are dropped as noise.
    static constexpr size_t kMaxLine = 4096;

  private:
    enum class Mode { Line, Counted, Pattern, Trailer };
    struct Urc {
        std::string prefix;
        std::function<size_t(const std::string&)> count;
    };
    struct Pending {
        Expect expect;
        std::string own;  ///< "+NAME:" of the command's own lines, or empty
        AtResponse response;
        bool replied = false;  ///< anything but the echo came back
        bool prompt_seen = false;
        bool data_phase = false;  ///< between the prompt or the data and the final result
        std::string broken;       ///< why the data framing failed: lines are dropped until final
    };
    struct HeldUrc {
        size_t index;
        std::string line;
        std::string data;
    };

    void byte(char c, Sink& sink);
    void endLine(Sink& sink);
    void line(const std::string& text, Sink& sink);
    void rawDone(Sink& sink);
    void deliverUrc(size_t index, std::string line, std::string data, Sink& sink);
    void finish(AtFinalKind kind, const std::string& final_line, Sink& sink);
    std::optional<size_t> matchUrc(const std::string& text) const;
    /// Handles `text` as a URC when one matches: delivered now, or its counted data block read
    /// next. False when no URC matches.
    bool takeUrc(const std::string& text, Sink& sink);
    /// The boot indication that `text` is (line noise before it is tolerated).
    std::optional<size_t> matchBoot(std::string_view text) const;
    void bootLine(size_t index, const std::string& text, Sink& sink);
    /// A boot indication at a line start inside `raw` (a data block that broke its framing).
    std::optional<std::pair<size_t, std::string>> bootInside(const std::string& raw) const;
    void trailerByte(char c, Sink& sink);
    void resetRaw();
    bool promptIsBare() const;

    std::vector<Urc> urcs_;
    std::vector<std::string> boots_;
    std::vector<AtFinalForm> finals_;
    std::optional<Pending> pending_;
    std::deque<HeldUrc> held_;

    Mode mode_ = Mode::Line;
    std::string line_;
    bool overflow_ = false;      ///< the current line is too long: drop it
    bool after_cr_ = false;      ///< the last line ended with CR: an LF right after belongs to it
    bool after_prompt_ = false;  ///< a bare prompt was seen: one space after it belongs to it
    size_t remaining_ = 0;       ///< Counted: raw bytes still to come
    std::optional<size_t> raw_urc_;  ///< Counted: for this URC, else for the command
    std::string raw_header_;
    std::string raw_;
    size_t trailer_pos_ = 0;   ///< Trailer: bytes of the terminator matched so far
    uint64_t generation_ = 0;  ///< bumped by cancel(): stop feeding the rest of a chunk
};

}  // namespace uplinkd
