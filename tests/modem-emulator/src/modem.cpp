// SPDX-License-Identifier: Apache-2.0
#include "modem.hpp"

#include <algorithm>

namespace uplinkd::emulator {
namespace {

constexpr std::chrono::milliseconds kTrailerGrace{250};

std::string frame(std::string_view line) {
    std::string out;
    out.reserve(line.size() + 4);
    out += "\r\n";
    out += line;
    out += "\r\n";
    return out;
}

}  // namespace

Modem::Modem(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
             ModemOptions opts, ModemMaker maker)
    : io_(io),
      port_(port),
      certs_(certs),
      log_(log),
      opts_(std::move(opts)),
      manufacturer_(std::move(maker.manufacturer)),
      model_id_(opts_.variant.empty() ? std::move(maker.model) : opts_.variant),
      trailer_timer_(io) {
    addBasics();
}

Modem::~Modem() {
    alive_.reset();
}

void Modem::addCommand(const std::string& name, Handler handler) {
    commands_[name] = std::move(handler);
}

void Modem::addCommand(const std::string& name, std::vector<std::string> test, Handler handler) {
    addCommand(name,
               [this, test = std::move(test), handler = std::move(handler)](const AtCommand& c) {
                   if (c.kind != AtKind::Test) {
                       return handler(c);
                   }
                   for (const auto& line : test) {
                       respond(line);
                   }
                   return Final::ok();
               });
}

// ---------------------------------------------------------------------------------------------
// Output

void Modem::write(std::string_view bytes) {
    if (!powered_ || !booted_ || silent_ || halted_) {
        return;  // an unpowered, booting, hung or crashing module sends nothing
    }
    if (split_pending_) {
        deferred_.append(bytes);  // behind the LF of the split final result
        return;
    }
    port_.write(bytes);
}

void Modem::writeData(std::string_view data) {
    using D = FaultPlan::Direction;
    size_t pass = faults_.allowance(D::Downlink, data.size());
    write(data.substr(0, pass));
    if (auto action = faults_.passed(D::Downlink, pass)) {
        fire(D::Downlink, *action);
    }
}

void Modem::respondData(std::string_view data) {
    log_.out("[data " + std::to_string(data.size()) + " bytes]");
    writeData(data);
}

void Modem::misuse(const std::string& what) {
    ++misuse_count_;
    last_misuse_ = what;
    log_.note("MISUSE: " + what);
}

void Modem::fire(FaultPlan::Direction d, FaultPlan::Action a) {
    const char* dir = d == FaultPlan::Direction::Uplink ? "uplink" : "downlink";
    log_.note(std::string("fault fired: ") + toString(a) + " in " + dir + " data");
    if (a == FaultPlan::Action::Hang) {
        silent_ = true;
        if (d == FaultPlan::Direction::Uplink) {
            // The data phase is abandoned: no final result, the payload goes nowhere.
            trailer_timer_.cancel();
            phase_.reset();
            phase_done_ = nullptr;
            executing_ = false;
            own_.clear();
        }
        return;
    }
    // A reboot: nothing more goes in or out; the state is dropped once the running handler
    // (which may still hold references into it) has returned.
    halted_ = true;
    asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
        if (!alive.expired() && gen == generation_) {
            reboot();
        }
    });
}

void Modem::respond(std::string_view line) {
    log_.out(line);
    write(frame(line));
}

void Modem::respondRaw(std::string_view bytes, std::string_view trace) {
    log_.out(trace);
    write(bytes);
}

void Modem::urc(std::string line, std::string raw_after) {
    if (!powered_ || !booted_ || silent_ || halted_) {
        return;  // a hung or dead module reports nothing
    }
    Out o;
    o.trace = line;
    if (!raw_after.empty()) {
        o.trace += " [+" + std::to_string(raw_after.size()) + " data bytes]";
    }
    o.head = frame(line);
    o.data = std::move(raw_after);
    if (executing_) {
        // The running command's own result URCs follow its final result first.
        own_.push_back(std::move(o));
        return;
    }
    if (busy()) {
        held_.push_back(std::move(o));
        return;
    }
    emit(o);
}

void Modem::emit(const Out& o) {
    log_.urc(o.trace);
    write(o.head);
    if (!o.data.empty()) {
        writeData(o.data);
    }
}

void Modem::flushHeld() {
    while (!own_.empty() && !busy()) {
        Out o = std::move(own_.front());
        own_.pop_front();
        emit(o);
    }
    while (!held_.empty() && !busy()) {
        Out o = std::move(held_.front());
        held_.pop_front();
        emit(o);
    }
}

void Modem::respondFinal(std::string_view line) {
    if (split_final_ms_ == 0 || split_pending_) {
        respond(line);  // while one LF is pending, later results queue whole behind it
        return;
    }
    log_.out(std::string(line) + " [LF delayed " + std::to_string(split_final_ms_) + " ms]");
    std::string wire = frame(line);
    write(std::string_view(wire).substr(0, wire.size() - 1));
    if (split_pending_ || !powered_ || !booted_ || silent_ || halted_) {
        return;
    }
    split_pending_ = true;
    after(std::chrono::milliseconds(split_final_ms_), [this] {
        split_pending_ = false;
        std::string rest = "\n" + deferred_;
        deferred_.clear();
        write(rest);
    });
}

std::string Modem::finalText(const Final& f) const {
    switch (f.kind) {
        case Final::Kind::Ok:
            return "OK";
        case Final::Kind::Cme:
            if (cmee_ == 1) {
                return "+CME ERROR: " + std::to_string(f.code);
            }
            if (cmee_ == 2) {
                return "+CME ERROR: " + cmeText(f.code);
            }
            return "ERROR";
        case Final::Kind::Text:
            return f.text;
        default:
            return "ERROR";
    }
}

void Modem::emitFinal(Final f) {
    if (f.kind == Final::Kind::Pending || f.kind == Final::Kind::Deferred) {
        return;
    }
    respondFinal(finalText(f));
    executing_ = false;
    flushHeld();
}

void Modem::finishDeferred(Final f) {
    if (!awaiting_) {
        return;
    }
    awaiting_ = false;
    emitFinal(f.kind == Final::Kind::Deferred || f.kind == Final::Kind::Pending ? Final::ok() : f);
    if (!stalled_input_.empty()) {
        std::string input = std::move(stalled_input_);
        stalled_input_.clear();
        onBytes(input);
    }
}

std::optional<std::vector<AtCommand>> Modem::parseLine(const std::string& body) const {
    return parseCommandLine(body);
}

std::string Modem::traceText(const std::string& body) const {
    return "AT" + body;
}

std::optional<std::string> Modem::modelControl(const std::string&) {
    return std::nullopt;
}

std::string Modem::cmeText(int code) const {
    switch (code) {
        case 3:
            return "operation not allowed";
        case 4:
            return "operation not supported";
        case 10:
            return "SIM not inserted";
        case 50:
            return "Incorrect parameters";
        default:
            return "unknown error " + std::to_string(code);
    }
}

// ---------------------------------------------------------------------------------------------
// Input

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

// ---------------------------------------------------------------------------------------------
// Power and faults

void Modem::after(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([this, timer, fn = std::move(fn), alive = aliveToken(),
                       gen = generation_](std::error_code ec) {
        if (!ec && !alive.expired() && gen == generation_) {
            fn();
        }
    });
}

void Modem::loseState() {
    ++generation_;
    trailer_timer_.cancel();
    phase_.reset();
    phase_done_ = nullptr;
    held_.clear();
    own_.clear();
    executing_ = false;
    awaiting_ = false;
    stalled_input_.clear();
    swallow_ctrlz_ = false;
    assembler_.reset();
    assembler_.takeDropped();
    booted_ = false;
    halted_ = false;
    split_pending_ = false;
    deferred_.clear();
    ++search_seq_;
    echo_ = true;
    cmee_ = 0;
    cfun_ = 1;
    creg_n_ = cgreg_n_ = cereg_n_ = 0;
    pdp_.clear();
    onPowerLoss();
}

void Modem::powerOn() {
    if (powered_) {
        return;
    }
    log_.note("power on");
    loseState();
    powered_ = true;
    silent_ = false;
    after(opts_.boot_time, [this] { boot(); });
}

void Modem::boot() {
    booted_ = true;
    ++boots_;
    log_.note("booted");
    for (const auto& line : bootUrcs()) {
        urc(line);
    }
    searchNetwork();  // not registered until register_time has passed
    onBooted();
}

void Modem::powerOff() {
    if (!powered_) {
        return;
    }
    log_.note("power off");
    port_.clearOutput();
    loseState();
    powered_ = false;
}

void Modem::reset() {
    log_.note("reset");
    powerOff();
    powerOn();
}

bool Modem::reboot() {
    if (!powered_) {
        return false;
    }
    log_.note("reboot");
    loseState();
    silent_ = false;
    after(opts_.boot_time, [this] { boot(); });
    return true;
}

void Modem::rebootSoon() {
    asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
        if (!alive.expired() && gen == generation_) {
            reboot();
        }
    });
}

void Modem::powerOffSoon() {
    asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
        if (!alive.expired() && gen == generation_) {
            loseState();
            powered_ = false;
            log_.note("powered off by command");
        }
    });
}

void Modem::setSilent(bool silent) {
    log_.note(silent ? "fault silent" : "fault none");
    silent_ = silent;
    if (!silent) {
        assembler_.reset();
    }
}

void Modem::armDataFault(FaultPlan::Direction d, FaultPlan::Action a, size_t n) {
    faults_.arm(d, a, n);
}

void Modem::setSplitFinal(unsigned ms) {
    split_final_ms_ = ms;
}

void Modem::clearFaults() {
    setSilent(false);
    faults_.clear();
    split_final_ms_ = 0;
}

bool Modem::setTime(const std::string& key, unsigned ms) {
    std::chrono::milliseconds v(ms);
    if (key == "register-ms") {
        opts_.register_time = v;
    } else if (key == "bearer-ms") {
        opts_.bearer_time = v;
    } else if (key == "boot-ms") {
        opts_.boot_time = v;
    } else {
        return false;
    }
    return true;
}

bool Modem::setMaxSessions(int) {
    return false;
}

void Modem::injectGarbage(size_t n) {
    log_.note("fault garbage " + std::to_string(n));
    std::string junk(n, '\0');
    std::uniform_int_distribution<int> byte(0, 255);
    for (char& c : junk) {
        c = static_cast<char>(byte(rng_));
    }
    port_.write(junk);
}

void Modem::injectUrc(const std::string& line) {
    urc(line);
}

void Modem::setRegistration(int stat) {
    forced_reg_ = stat;
    if (powered_ && booted_ && radioOn()) {
        reg_stat_ = stat;
        reportRegistration();
    }
}

void Modem::setSim(bool present) {
    sim_present_ = present;
    if (powered_ && booted_ && radioOn()) {
        searchNetwork();
    }
}

void Modem::setSignal(int rssi) {
    rssi_ = rssi;
}

nlohmann::json Modem::status() const {
    nlohmann::json j;
    j["model"] = modelName();
    j["sim"] = sim_present_ ? "present" : "absent";
    j["variant"] = model_id_;
    j["powered"] = powered_;
    j["booted"] = booted_;
    j["silent"] = silent_;
    j["echo"] = echo_;
    j["cfun"] = cfun_;
    j["registration"] = reg_stat_;
    j["bytes_in"] = port_.bytesIn();
    j["bytes_out"] = port_.bytesOut();
    j["in_data_phase"] = phase_.has_value();
    j["certificates"] = certs_.names();
    j["boots"] = boots_;
    j["misuse"] = misuse_count_;
    j["last_misuse"] = last_misuse_;
    nlohmann::json f;
    f["silent"] = silent_;
    f["split_final_ms"] = split_final_ms_;
    for (auto d : {FaultPlan::Direction::Uplink, FaultPlan::Direction::Downlink}) {
        const auto& slot = faults_.slot(d);
        const char* name = d == FaultPlan::Direction::Uplink ? "uplink" : "downlink";
        if (slot.armed) {
            f[name] = {{"action", toString(slot.action)},
                       {"remaining", slot.remaining},
                       {"fired", slot.fired}};
        } else {
            f[name] = nullptr;
        }
    }
    j["faults"] = f;
    addStatus(j);
    return j;
}

}  // namespace uplinkd::emulator
