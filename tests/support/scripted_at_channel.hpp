// SPDX-License-Identifier: Apache-2.0
// ScriptedAtChannel: an AtChannel fake for modem driver unit tests, driven by a script of
// expected commands and what the module answers (information lines, final result, raw data,
// URCs before or after the final result). An unexpected command fails the test. Answers are
// posted to the loop like a real channel's, one command at a time. Thread: the test's loop.
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "run_loop.hpp"
#include "uplinkd/at_channel.hpp"

namespace uplinkd::testing {

class ScriptedAtChannel final : public AtChannel {
  public:
    /// A URC line, optionally followed by raw bytes (for onUrcWithData handlers).
    struct Urc {
        std::string line;
        std::optional<std::string> data;
    };

    /// One expected command and the module's answer. The setters chain.
    struct Step {
        std::string command;
        std::vector<std::string> lines;
        std::string final = "OK";
        bool timeout = false;
        std::string data;                    ///< for commandReadingData: the raw bytes of the reply
        std::optional<std::string> prompt;   ///< commandWithData: expected prompt
        std::optional<std::string> payload;  ///< commandWithData: expected payload
        std::optional<std::string> terminator;  ///< commandWithData: expected terminator
        /// commandWithData: the least guard time expected before the terminator
        std::optional<std::chrono::milliseconds> guard;
        std::optional<bool> immediate;  ///< commandWithData: payload right after the command
        std::vector<Urc> urcs_before;   ///< delivered before the final result
        std::vector<Urc> urcs_after;    ///< delivered after it

        Step& line(std::string l);
        Step& ok();
        Step& error(std::string final_line = "ERROR");
        Step& timesOut();
        Step& replyData(std::string bytes);
        Step& expectPrompt(std::string p);
        Step& expectPayload(std::string p);
        Step& expectTerminator(std::string t);
        Step& expectGuardAtLeast(std::chrono::milliseconds g);
        /// The payload follows the command line at once (AtDataWrite::immediate, no prompt).
        Step& expectImmediate();
        Step& urcBefore(std::string line);
        Step& urcAfter(std::string line);
        Step& urcAfterWithData(std::string line, std::string bytes);
    };

    explicit ScriptedAtChannel(asio::io_context& loop);
    ~ScriptedAtChannel() override;

    /// Appends an expected command; answers OK unless told otherwise.
    Step& expect(std::string command);
    /// Expected commands not yet received.
    size_t remaining() const { return script_.size(); }
    /// Drops the expected commands not yet received (for tests that stop at a time bound).
    void forgetScript() { script_.clear(); }
    /// The commands received, in order (also the unexpected ones).
    const std::vector<std::string>& commands() const { return commands_; }
    /// Every payload written by commandWithData, with its terminator.
    const std::vector<std::string>& written() const { return written_; }

    /// Sends a URC now (synchronously, as if it arrived between commands). Returns false when
    /// no handler took it.
    bool injectUrc(const std::string& line);
    bool injectUrcWithData(const std::string& line, const std::string& data);
    /// The module restarted: every queued command fails with "at_reset" (posted), then the
    /// boot handler for `line` runs. Returns false when no boot handler took it.
    bool injectBoot(const std::string& line);
    /// The final result forms a driver declared (addFinalResult), in order.
    const std::vector<AtFinalForm>& finalForms() const { return finals_; }

    // AtChannel
    void command(const std::string& command, std::chrono::milliseconds timeout, Done done) override;
    void commandWithData(const std::string& command, const AtDataWrite& write,
                         std::chrono::milliseconds timeout, Done done) override;
    void commandReadingData(const std::string& command, const AtDataRead& read,
                            std::chrono::milliseconds timeout, Done done) override;
    void onUrc(const std::string& prefix, UrcHandler handler) override;
    void onUrcWithData(
        const std::string& prefix, std::function<size_t(const std::string&)> count,
        std::function<void(const std::string& line, std::string data)> handler) override;
    void onBoot(const std::string& prefix, UrcHandler handler) override;
    void addFinalResult(const AtFinalForm& form) override { finals_.push_back(form); }
    void reset() override;
    uint64_t bytesWritten() const override { return bytes_written_; }
    uint64_t bytesRead() const override { return bytes_read_; }

  private:
    struct Pending {
        enum class Kind { Plain, WithData, ReadingData } kind = Kind::Plain;
        std::string command;
        AtDataWrite write;
        AtDataRead read;
        Done done;
    };

    /// Queues `p` (answered from the loop, one command at a time) and records its command.
    void enqueue(Pending p);
    void schedulePump();
    void pump();
    void answer(Pending p);
    void deliver(const Urc& urc);

    asio::io_context& loop_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    std::deque<Step> script_;
    std::deque<Pending> queue_;
    bool busy_ = false;
    std::vector<std::string> commands_;
    std::vector<std::string> written_;
    std::vector<AtFinalForm> finals_;
    std::vector<std::pair<std::string, UrcHandler>> urc_handlers_;
    std::vector<std::pair<std::string, UrcHandler>> boot_handlers_;
    struct DataHandler {
        std::string prefix;
        std::function<size_t(const std::string&)> count;
        std::function<void(const std::string&, std::string)> handler;
    };
    std::vector<DataHandler> data_handlers_;
    uint64_t bytes_written_ = 0;
    uint64_t bytes_read_ = 0;
};

}  // namespace uplinkd::testing
