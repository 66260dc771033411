// SPDX-License-Identifier: Apache-2.0
// Modem's input: host bytes, command dispatch, data phases and their timers; loop thread.
#include "modem.hpp"

namespace uplinkd::emulator {
namespace {

constexpr std::chrono::milliseconds kTrailerGrace{250};

}  // namespace

void Modem::onBytes(std::string_view bytes) {
    if (!powered_ || silent_ || halted_) {
        return;
    }
    if (!booted_) {
        log_.note("ignored " + std::to_string(bytes.size()) + " bytes while booting");
        return;
    }
    if (awaiting_) {
        stalled_input_.append(bytes);  // the module reads on once the command has finished
        return;
    }
    using D = FaultPlan::Direction;
    std::string echo;
    size_t i = 0;
    while (i < bytes.size()) {
        if (phase_) {
            size_t allowed = faults_.allowance(D::Uplink, bytes.size() - i);
            size_t used = phase_->feed(bytes.substr(i, allowed), DataPhase::Clock::now());
            i += used;
            if (auto action = faults_.passed(D::Uplink, used)) {
                fire(D::Uplink, *action);
                return;  // the rest of the input goes to a hung or rebooting module
            }
            if (phase_->done()) {
                endPhase();
                if (awaiting_) {
                    stalled_input_.append(bytes.substr(i));  // the completion waits on something
                    return;
                }
            }
            continue;
        }
        char c = bytes[i++];
        if (swallow_ctrlz_) {
            swallow_ctrlz_ = false;
            if (c == 0x1a) {
                continue;  // a stray Ctrl-Z after a counted payload
            }
        }
        if (echo_) {
            echo.push_back(c);
        }
        auto r = assembler_.feed(c);
        if (r.status == LineAssembler::Status::None) {
            continue;
        }
        write(echo);
        echo.clear();
        if (size_t junk = assembler_.takeDropped(); junk > 0) {
            misuse(std::to_string(junk) +
                   " bytes outside a command line (data without a prompt, or more than the "
                   "announced length?)");
        }
        if (r.status == LineAssembler::Status::TooLong) {
            log_.in("<line too long>");
            executing_ = true;
            emitFinal(Final::error());
        } else {
            execute(r.body);
        }
        if (!powered_ || !booted_ || silent_) {
            return;
        }
        if (awaiting_) {
            stalled_input_.append(bytes.substr(i));
            return;
        }
    }
    write(echo);
    if (size_t junk = assembler_.takeDropped(); junk > 0) {
        misuse(std::to_string(junk) +
               " bytes outside a command line (data without a prompt, or more than the announced "
               "length?)");
    }
    if (phase_ && phase_->inTrailer()) {
        armTrailerTimer();
    }
    if (phase_ && phase_->wakeAt()) {
        armEscapeTimer();
    }
}

Final Modem::malformedLine(const std::string&) {
    return Final::error();
}

void Modem::execute(const std::string& body) {
    log_.in(traceText(body));
    executing_ = true;
    auto cmds = parseLine(body);
    if (!cmds) {
        emitFinal(malformedLine(body));
        return;
    }
    for (size_t k = 0; k < cmds->size(); ++k) {
        const AtCommand& cmd = (*cmds)[k];
        auto it = commands_.find(cmd.name);
        if (it == commands_.end()) {
            emitFinal(Final::error());
            return;
        }
        Final f = it->second(cmd);
        if (f.kind == Final::Kind::Deferred) {
            awaiting_ = true;  // executing_ stays set: URCs are held until finishDeferred()
            return;
        }
        if (f.kind == Final::Kind::Pending) {
            executing_ = false;  // the data phase now holds URCs
            return;
        }
        if (f.kind != Final::Kind::Ok) {
            emitFinal(f);
            return;
        }
        if (!executing_) {
            return;  // the handler powered the module off
        }
    }
    emitFinal(Final::ok());
}

void Modem::startDataPhase(DataPhase phase, std::string prompt, PhaseDone done) {
    if (!prompt.empty()) {
        log_.out(printable(prompt));
        write(prompt);
    }
    phase_.emplace(std::move(phase));
    phase_done_ = std::move(done);
    if (auto action = faults_.passed(FaultPlan::Direction::Uplink, 0)) {
        fire(FaultPlan::Direction::Uplink, *action);  // armed with 0 bytes: right after the prompt
        return;
    }
    if (phase_->done()) {
        asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
            if (!alive.expired() && gen == generation_ && phase_ && phase_->done()) {
                endPhase();
            }
        });
    }
}

Final Modem::countedSend(const AtCommand& c, size_t i, long lo, long hi, const std::string& cmd,
                         PhaseDone done) {
    auto len = inRange(c, i, lo, hi);
    if (!len) {
        misuse(cmd + " length '" + c.str(i) + "' outside " + std::to_string(lo) + "-" +
               std::to_string(hi));
        return Final::error();
    }
    startDataPhase(DataPhase::count(static_cast<size_t>(*len)), kDataPrompt, std::move(done));
    return Final::pending();
}

Modem::PhaseDone Modem::whenComplete(PhaseDone send) {
    return [send = std::move(send)](const DataPhase& p) {
        if (p.outcome() == DataPhase::Outcome::Cancelled) {
            return Final::ok();
        }
        if (p.outcome() != DataPhase::Outcome::Complete) {
            return Final::error();
        }
        return send(p);
    };
}

void Modem::armTrailerTimer() {
    trailer_timer_.expires_after(kTrailerGrace);
    trailer_timer_.async_wait([this, alive = aliveToken(), gen = generation_](std::error_code ec) {
        if (ec || alive.expired() || gen != generation_ || !phase_ || !phase_->inTrailer()) {
            return;
        }
        phase_->finishNow();
        if (phase_->done()) {
            endPhase();
        }
    });
}

void Modem::armEscapeTimer() {
    auto when = phase_->wakeAt();
    trailer_timer_.expires_at(*when);
    trailer_timer_.async_wait([this, alive = aliveToken(), gen = generation_](std::error_code ec) {
        if (ec || alive.expired() || gen != generation_ || !phase_) {
            return;
        }
        phase_->idle(DataPhase::Clock::now());
        if (phase_->done()) {
            endPhase();
        } else if (phase_->wakeAt()) {
            armEscapeTimer();
        }
    });
}

void Modem::endPhase() {
    trailer_timer_.cancel();
    DataPhase phase = std::move(*phase_);
    phase_.reset();
    PhaseDone done = std::move(phase_done_);
    phase_done_ = nullptr;
    std::string what = "[data " + std::to_string(phase.data().size()) + " bytes";
    if (phase.endedOnPattern()) {
        what += phase.mode() == DataPhase::Mode::Escape ? " + escape" : " + EOF pattern";
    }
    if (phase.outcome() == DataPhase::Outcome::Cancelled) {
        what += ", cancelled";
    } else if (phase.outcome() == DataPhase::Outcome::Overflow) {
        what += ", overflow";
    }
    log_.in(what + "]");
    if (phase.mode() == DataPhase::Mode::Count) {
        swallow_ctrlz_ = true;
    }
    executing_ = true;  // the completion may add lines; URCs stay held until the final
    Final f = done ? done(phase) : Final::ok();
    if (f.kind == Final::Kind::Deferred) {
        awaiting_ = true;  // the model calls finishDeferred() later
        return;
    }
    if (f.kind == Final::Kind::Pending) {
        f = Final::ok();
    }
    emitFinal(f);
}

}  // namespace uplinkd::emulator
