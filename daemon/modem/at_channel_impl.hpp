// SPDX-License-Identifier: Apache-2.0
// SerialAtChannel: the AtChannel on a SerialPort: a queue of commands with one in flight, each
// with its own timeout; replies, prompts, data phases and URCs framed by AtParser; counts the
// bytes on the line both ways. Handlers run posted on the loop, never from inside a call.
// Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modem/at_parser.hpp"
#include "modem/serial_port.hpp"
#include "uplinkd/at_channel.hpp"

namespace uplinkd {

/// "AT+CPIN=…" for "AT+CPIN=\"1234\"": commands whose parameters are secrets (PIN, APN or MQTT
/// passwords) lose them, so that errors and logs can name the command.
std::string redactAtCommand(const std::string& command);

class SerialAtChannel final : public AtChannel {
  public:
    explicit SerialAtChannel(asio::io_context& loop);
    ~SerialAtChannel() override;
    SerialAtChannel(const SerialAtChannel&) = delete;
    SerialAtChannel& operator=(const SerialAtChannel&) = delete;

    /// Starts talking over `port`, which must stay open until detach() (or destruction).
    void attach(SerialPort& port);
    /// Stops using the port: every command fails with "at_closed".
    void detach();
    bool attached() const { return port_ != nullptr; }

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
    void addFinalResult(const AtFinalForm& form) override;
    void reset() override;
    uint64_t bytesWritten() const override { return bytes_written_; }
    uint64_t bytesRead() const override { return bytes_read_; }

    /// Sends "AT" ahead of every queued command (health checks); OK means the module answers.
    void probe(std::chrono::milliseconds timeout, Done done);
    /// Called (posted) after any command timed out, with the command (secrets redacted).
    void setTimeoutObserver(std::function<void(const std::string& command)> observer);
    /// Called (posted) when reading or writing the line fails (the device went away).
    void setLineErrorObserver(std::function<void(const Error&)> observer);
    /// Called (posted, before the boot handler and before the failed commands' callbacks) with
    /// the boot indication whenever the module announces that it (re)started.
    void setBootObserver(std::function<void(const std::string& line)> observer);
    /// How long a byte-counted data block may pause before it is abandoned (default 2 s).
    void setDataStallTimeout(std::chrono::milliseconds timeout) { stall_timeout_ = timeout; }
    uint64_t boots() const { return boots_; }
    /// Forgets every URC handler, boot indication and final result form (before the driver
    /// that registered them is destroyed).
    void clearUrcHandlers();

    /// A command is in flight or queued, or a data block is arriving (an "AT" now would be
    /// answered inside it).
    bool busy() const { return current_.has_value() || !queue_.empty() || parser_.inRawData(); }
    /// When the module last sent anything (construction time if never).
    std::chrono::steady_clock::time_point lastReceived() const { return last_rx_; }
    uint64_t timeouts() const { return timeouts_; }

  private:
    struct Job {
        std::string command;
        std::string prompt;  ///< empty: no payload, or one written right after the command
        std::string payload;
        std::string terminator;              ///< sent after `guard` (only when guard > 0)
        std::chrono::milliseconds guard{0};  ///< silence before the terminator
        std::optional<AtDataRead> read;
        std::chrono::milliseconds timeout{};
        Done done;
    };
    struct UrcEntry {
        UrcHandler line;
        std::function<void(const std::string&, std::string)> data;
    };
    class Sink;

    void enqueue(Job job, bool urgent);
    void startNext();
    void send(std::string bytes);
    void writeNext();
    void readMore();
    void onTimeout();
    void onLineError(const Error& error);
    void complete(Done done, Result<AtResponse> result);
    void failAll(const Error& error);

    // Parser events.
    void onPrompt();
    void onDone(AtResponse response, AtParser::Outcome outcome);
    void onUrcEvent(size_t index, const std::string& line, std::string data);
    void onBootEvent(size_t index, const std::string& line);
    /// After bytes were fed: watches a raw data block for silence.
    void watchRawData();

    asio::io_context& loop_;
    SerialPort* port_ = nullptr;
    uint64_t port_gen_ = 0;  ///< bumped on attach/detach: completions of an old port are ignored
    AtParser parser_;
    std::unique_ptr<Sink> sink_;
    std::vector<UrcEntry> urcs_;
    std::vector<UrcHandler> boot_handlers_;
    uint64_t urc_gen_ = 0;  ///< bumped by clearUrcHandlers()

    std::deque<Job> queue_;
    std::optional<Job> current_;
    uint64_t job_gen_ = 0;  ///< bumped when a command ends: stale timer wake-ups are ignored
    asio::steady_timer timer_;
    asio::steady_timer stall_timer_;  ///< a raw data block that stopped arriving
    asio::steady_timer guard_timer_;  ///< the silence before a data phase's terminator
    uint64_t stall_gen_ = 0;
    std::chrono::milliseconds stall_timeout_{2000};
    uint64_t boots_ = 0;

    std::deque<std::string> out_;
    bool writing_ = false;
    bool reading_ = false;
    std::array<char, 4096> in_{};

    uint64_t bytes_written_ = 0;
    uint64_t bytes_read_ = 0;
    uint64_t timeouts_ = 0;
    std::chrono::steady_clock::time_point last_rx_ = std::chrono::steady_clock::now();
    std::function<void(const std::string&)> timeout_observer_;
    std::function<void(const Error&)> line_error_observer_;
    std::function<void(const std::string&)> boot_observer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
