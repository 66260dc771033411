// SPDX-License-Identifier: Apache-2.0
#include "modem/at_channel_impl.hpp"

#include <algorithm>

namespace uplinkd {

namespace {

/// Commands whose parameters are secrets: a PIN, APN credentials, MQTT credentials.
constexpr std::string_view kSecretCommands[] = {
    "+CPIN",
    "+CPIN2",
    "+CPWD",
    "+CLCK",
    "+CGAUTH",
    "+KCNXCFG",
    "+QICSGP",
    "+CMQTTCONNECT",
    "+QMTCONN",
    "+KMQTTCFG",
    "+CNCFG",
    "+SRWSTACFG",
    // SPWF04: the Wi-Fi passphrase goes in AT+S.SCFG=wifi_wpa_psk_text,<pw>; MQTT credentials.
    "+S.SCFG",
    "+S.MQTTCONN",
};

constexpr std::chrono::milliseconds kProbeMin{100};
/// How long a command written but not answered when the module restarted may still get its
/// answer from the restarted module.
constexpr std::chrono::milliseconds kBootGrace{300};

std::string describeTimeout(std::chrono::milliseconds t) {
    if (t.count() % 1000 == 0) {
        return std::to_string(t.count() / 1000) + " s";
    }
    return std::to_string(t.count()) + " ms";
}

}  // namespace

std::string redactAtCommand(const std::string& command) {
    const std::string name = atCommandName(command);
    const auto eq = command.find('=');
    if (name.empty() || eq == std::string::npos) {
        return command;
    }
    for (const auto secret : kSecretCommands) {
        if (name == secret) {
            return command.substr(0, eq + 1) + "…";
        }
    }
    return command;
}

/// Forwards the parser's events to the channel.
class SerialAtChannel::Sink final : public AtParser::Sink {
  public:
    explicit Sink(SerialAtChannel& channel) : channel_(channel) {}
    void prompt() override { channel_.onPrompt(); }
    void done(AtResponse response, AtParser::Outcome outcome) override {
        channel_.onDone(std::move(response), outcome);
    }
    void urc(size_t index, const std::string& line, std::string data) override {
        channel_.onUrcEvent(index, line, std::move(data));
    }
    void boot(size_t index, const std::string& line) override { channel_.onBootEvent(index, line); }

  private:
    SerialAtChannel& channel_;
};

SerialAtChannel::SerialAtChannel(asio::io_context& loop)
    : loop_(loop),
      sink_(std::make_unique<Sink>(*this)),
      timer_(loop),
      stall_timer_(loop),
      guard_timer_(loop) {}

SerialAtChannel::~SerialAtChannel() {
    alive_.reset();
    if (port_ != nullptr) {
        asio::error_code ignored;
        port_->stream().cancel(ignored);
    }
}

void SerialAtChannel::attach(SerialPort& port) {
    detach();
    port_ = &port;
    ++port_gen_;
    parser_.cancel();
    readMore();
}

void SerialAtChannel::detach() {
    if (port_ != nullptr) {
        asio::error_code ignored;
        port_->stream().cancel(ignored);
    }
    port_ = nullptr;
    ++port_gen_;
    out_.clear();
    writing_ = false;
    reading_ = false;
    failAll(makeError("at_closed", "the serial line is closed"));
}

void SerialAtChannel::command(const std::string& command, std::chrono::milliseconds timeout,
                              Done done) {
    Job job;
    job.command = command;
    job.timeout = timeout;
    job.done = std::move(done);
    enqueue(std::move(job), false);
}

void SerialAtChannel::commandWithData(const std::string& command, const AtDataWrite& write,
                                      std::chrono::milliseconds timeout, Done done) {
    Job job;
    job.command = command;
    if (!write.immediate) {
        job.prompt = write.prompt.empty() ? std::string(">") : write.prompt;
    }
    if (write.guard.count() > 0 && !write.terminator.empty()) {
        job.payload = write.payload;
        job.terminator = write.terminator;
        job.guard = write.guard;
    } else {
        job.payload = write.payload + write.terminator;
    }
    job.timeout = timeout;
    job.done = std::move(done);
    enqueue(std::move(job), false);
}

void SerialAtChannel::commandReadingData(const std::string& command, const AtDataRead& read,
                                         std::chrono::milliseconds timeout, Done done) {
    Job job;
    job.command = command;
    job.read = read;
    job.timeout = timeout;
    job.done = std::move(done);
    enqueue(std::move(job), false);
}

void SerialAtChannel::probe(std::chrono::milliseconds timeout, Done done) {
    Job job;
    job.command = "AT";
    job.timeout = std::max(timeout, kProbeMin);
    job.done = std::move(done);
    enqueue(std::move(job), true);
}

void SerialAtChannel::onUrc(const std::string& prefix, UrcHandler handler) {
    parser_.addUrc(prefix);
    urcs_.push_back(UrcEntry{std::move(handler), {}});
}

void SerialAtChannel::onUrcWithData(
    const std::string& prefix, std::function<size_t(const std::string&)> count,
    std::function<void(const std::string& line, std::string data)> handler) {
    parser_.addUrc(prefix, std::move(count));
    urcs_.push_back(UrcEntry{{}, std::move(handler)});
}

void SerialAtChannel::onBoot(const std::string& prefix, UrcHandler handler) {
    parser_.addBoot(prefix);
    boot_handlers_.push_back(std::move(handler));
}

void SerialAtChannel::addFinalResult(const AtFinalForm& form) {
    parser_.addFinal(form);
}

void SerialAtChannel::clearUrcHandlers() {
    parser_.clearUrcs();
    urcs_.clear();
    boot_handlers_.clear();
    ++urc_gen_;
}

void SerialAtChannel::setBootObserver(std::function<void(const std::string&)> observer) {
    boot_observer_ = std::move(observer);
}

void SerialAtChannel::setTimeoutObserver(std::function<void(const std::string&)> observer) {
    timeout_observer_ = std::move(observer);
}

void SerialAtChannel::setLineErrorObserver(std::function<void(const Error&)> observer) {
    line_error_observer_ = std::move(observer);
}

void SerialAtChannel::reset() {
    parser_.cancel();
    // Bytes not yet on the line are dropped; the one being written finishes.
    if (writing_ && !out_.empty()) {
        out_.erase(out_.begin() + 1, out_.end());
    } else {
        out_.clear();
    }
    failAll(makeError("at_closed", "the module was reset"));
}

void SerialAtChannel::failAll(const Error& error) {
    ++job_gen_;
    timer_.cancel();
    parser_.cancel();
    if (current_) {
        Job job = std::move(*current_);
        current_.reset();
        complete(std::move(job.done), Failure{error});
    }
    std::deque<Job> queued = std::move(queue_);
    queue_.clear();
    for (auto& job : queued) {
        complete(std::move(job.done), Failure{error});
    }
}

void SerialAtChannel::enqueue(Job job, bool urgent) {
    if (port_ == nullptr) {
        complete(std::move(job.done),
                 fail("at_closed", "the serial line is not open (" + redactAtCommand(job.command) +
                                       " not sent)"));
        return;
    }
    if (urgent) {
        queue_.push_front(std::move(job));
    } else {
        queue_.push_back(std::move(job));
    }
    startNext();
}

void SerialAtChannel::startNext() {
    if (current_ || queue_.empty() || port_ == nullptr) {
        return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    parser_.begin(AtParser::Expect{current_->command, current_->prompt, current_->read});
    if (current_->prompt.empty() && !current_->payload.empty()) {
        // No prompt: the payload follows the command line at once (AtDataWrite::immediate).
        send(current_->command + "\r" + current_->payload);
        current_->payload.clear();
    } else {
        send(current_->command + "\r");
    }
    const uint64_t gen = ++job_gen_;
    timer_.expires_after(current_->timeout);
    std::weak_ptr<bool> alive = alive_;
    timer_.async_wait([this, alive, gen](asio::error_code ec) {
        if (ec || alive.expired() || gen != job_gen_ || !current_) {
            return;
        }
        onTimeout();
    });
}

void SerialAtChannel::onTimeout() {
    Job job = std::move(*current_);
    current_.reset();
    ++job_gen_;
    ++timeouts_;
    parser_.cancel();
    const std::string what = redactAtCommand(job.command);
    complete(std::move(job.done),
             fail("at_timeout",
                  "the module did not answer " + what + " within " + describeTimeout(job.timeout)));
    if (timeout_observer_) {
        std::weak_ptr<bool> alive = alive_;
        asio::post(loop_, [this, alive, what] {
            if (!alive.expired() && timeout_observer_) {
                timeout_observer_(what);
            }
        });
    }
    startNext();
}

void SerialAtChannel::complete(Done done, Result<AtResponse> result) {
    if (!done) {
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    asio::post(loop_, [alive, done = std::move(done), result = std::move(result)]() mutable {
        if (!alive.expired()) {
            done(std::move(result));
        }
    });
}

void SerialAtChannel::onPrompt() {
    if (!current_) {
        return;
    }
    const size_t sent = current_->payload.size();
    if (!current_->payload.empty()) {
        send(std::move(current_->payload));
        current_->payload.clear();
    }
    if (current_->terminator.empty()) {
        return;
    }
    // The guard time counts from when the payload has left at the line's rate (10 bits a byte).
    const unsigned baud =
        port_ != nullptr && port_->options().baud > 0 ? port_->options().baud : 115200;
    const auto on_line = std::chrono::milliseconds(sent * 10 * 1000 / baud + 1);
    guard_timer_.expires_after(current_->guard + on_line);
    std::weak_ptr<bool> alive = alive_;
    guard_timer_.async_wait([this, alive, gen = job_gen_](asio::error_code ec) {
        if (ec || alive.expired() || gen != job_gen_ || !current_ || current_->terminator.empty()) {
            return;
        }
        send(std::move(current_->terminator));
        current_->terminator.clear();
    });
}

void SerialAtChannel::onDone(AtResponse response, AtParser::Outcome outcome) {
    if (!current_) {
        return;
    }
    Job job = std::move(*current_);
    current_.reset();
    ++job_gen_;
    timer_.cancel();
    switch (outcome) {
        case AtParser::Outcome::Ok:
            complete(std::move(job.done), std::move(response));
            break;
        case AtParser::Outcome::Error:
            complete(std::move(job.done), fail("at_error", response.final));
            break;
        case AtParser::Outcome::Framing:
            complete(std::move(job.done), fail("at_framing", response.final));
            break;
        case AtParser::Outcome::Stalled: {
            ++timeouts_;
            const std::string what = redactAtCommand(job.command);
            complete(std::move(job.done), fail("at_timeout", response.final));
            if (timeout_observer_) {
                std::weak_ptr<bool> alive = alive_;
                asio::post(loop_, [this, alive, what] {
                    if (!alive.expired() && timeout_observer_) {
                        timeout_observer_(what);
                    }
                });
            }
            break;
        }
        case AtParser::Outcome::NoPrompt:
            complete(
                std::move(job.done),
                fail("at_error", "the module answered " + response.final + " to " +
                                     redactAtCommand(job.command) +
                                     " without asking for the data (no \"" + job.prompt + "\")"));
            break;
    }
    startNext();
}

void SerialAtChannel::onUrcEvent(size_t index, const std::string& line, std::string data) {
    std::weak_ptr<bool> alive = alive_;
    asio::post(loop_, [this, alive, gen = urc_gen_, index, line, data = std::move(data)]() mutable {
        if (alive.expired() || gen != urc_gen_ || index >= urcs_.size()) {
            return;
        }
        // Copies: a handler may register more URCs, which can move the table.
        UrcEntry entry = urcs_[index];
        if (entry.data) {
            entry.data(line, std::move(data));
        } else if (entry.line) {
            entry.line(line);
        }
    });
}

void SerialAtChannel::onBootEvent(size_t index, const std::string& line) {
    ++boots_;
    std::weak_ptr<bool> alive = alive_;
    // The observer (the supervisor) hears of the restart before anyone hears that commands
    // failed: it can tell a restart from a hang.
    if (boot_observer_) {
        asio::post(loop_, [this, alive, line] {
            if (!alive.expired() && boot_observer_) {
                boot_observer_(line);
            }
        });
    }
    asio::post(loop_, [this, alive, gen = urc_gen_, index, line] {
        if (alive.expired() || gen != urc_gen_ || index >= boot_handlers_.size()) {
            return;
        }
        UrcHandler handler = boot_handlers_[index];
        if (handler) {
            handler(line);
        }
    });
    // Every command meant for the module before its restart fails now. Bytes not yet on the
    // line are dropped.
    if (writing_ && !out_.empty()) {
        out_.erase(out_.begin() + 1, out_.end());
    } else {
        out_.clear();
    }
    const Error e = makeError("at_reset", "the module restarted (" + line + ")");
    std::deque<Job> queued = std::move(queue_);
    queue_.clear();
    for (auto& job : queued) {
        complete(std::move(job.done), Failure{e});
    }
    if (!current_) {
        return;
    }
    const std::string failed =
        e.message + " while " + redactAtCommand(current_->command) + " was pending";
    if (!parser_.pending()) {
        ++job_gen_;
        timer_.cancel();
        Job job = std::move(*current_);
        current_.reset();
        complete(std::move(job.done), Failure{Error{e.code, failed}});
        return;
    }
    // Written but not answered at all: the restarted module may have read it after its boot
    // indication and answer it; failing it now would leave that answer to the next command.
    // A short grace, then it fails as well.
    const uint64_t gen = ++job_gen_;
    timer_.expires_after(kBootGrace);
    timer_.async_wait([this, alive, gen, failed](asio::error_code ec) {
        if (ec || alive.expired() || gen != job_gen_ || !current_) {
            return;
        }
        ++job_gen_;
        parser_.dropPending();
        Job job = std::move(*current_);
        current_.reset();
        complete(std::move(job.done), fail("at_reset", failed));
        startNext();
    });
}

void SerialAtChannel::watchRawData() {
    const uint64_t gen = ++stall_gen_;
    if (!parser_.inRawData()) {
        stall_timer_.cancel();
        return;
    }
    stall_timer_.expires_after(stall_timeout_);
    std::weak_ptr<bool> alive = alive_;
    stall_timer_.async_wait([this, alive, gen](asio::error_code ec) {
        if (ec || alive.expired() || gen != stall_gen_ || !parser_.inRawData()) {
            return;
        }
        parser_.abandonRaw(*sink_);
    });
}

void SerialAtChannel::send(std::string bytes) {
    out_.push_back(std::move(bytes));
    if (!writing_) {
        writeNext();
    }
}

void SerialAtChannel::writeNext() {
    if (out_.empty() || port_ == nullptr) {
        writing_ = false;
        return;
    }
    writing_ = true;
    auto buf = std::make_shared<std::string>(std::move(out_.front()));
    out_.front().clear();
    std::weak_ptr<bool> alive = alive_;
    asio::async_write(
        port_->stream(), asio::buffer(*buf),
        [this, alive, buf, gen = port_gen_](asio::error_code ec, size_t n) {
            if (alive.expired() || gen != port_gen_) {
                return;
            }
            bytes_written_ += n;
            if (!out_.empty()) {
                out_.pop_front();
            }
            if (ec) {
                writing_ = false;
                onLineError(makeError("at_closed", "writing to the serial line: " + ec.message()));
                return;
            }
            writeNext();
        });
}

void SerialAtChannel::readMore() {
    if (reading_ || port_ == nullptr) {
        return;
    }
    reading_ = true;
    std::weak_ptr<bool> alive = alive_;
    port_->stream().async_read_some(
        asio::buffer(in_), [this, alive, gen = port_gen_](asio::error_code ec, size_t n) {
            if (alive.expired() || gen != port_gen_) {
                return;
            }
            reading_ = false;
            if (ec) {
                onLineError(makeError("at_closed", "reading the serial line: " + ec.message()));
                return;
            }
            bytes_read_ += n;
            last_rx_ = std::chrono::steady_clock::now();
            const uint64_t before = port_gen_;
            parser_.feed(std::string_view(in_.data(), n), *sink_);
            if (before == port_gen_) {
                watchRawData();
                readMore();
            }
        });
}

void SerialAtChannel::onLineError(const Error& error) {
    if (port_ == nullptr) {
        return;
    }
    detach();
    if (line_error_observer_) {
        std::weak_ptr<bool> alive = alive_;
        asio::post(loop_, [this, alive, error] {
            if (!alive.expired() && line_error_observer_) {
                line_error_observer_(error);
            }
        });
    }
}

}  // namespace uplinkd
