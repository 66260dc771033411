// SPDX-License-Identifier: Apache-2.0
// Modem's power (on, off, boot, reboot), faults, control-socket settings, status; loop thread.
#include "modem.hpp"

namespace uplinkd::emulator {

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
