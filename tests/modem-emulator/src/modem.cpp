#include "modem.hpp"

#include <algorithm>

namespace uplinkd::emulator {
namespace {

constexpr std::chrono::milliseconds kTrailerGrace{250};
constexpr std::chrono::milliseconds kSearchTime{50};

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
             ModemOptions opts)
    : io_(io), port_(port), certs_(certs), log_(log), opts_(std::move(opts)), trailer_timer_(io) {
    addBasics();
}

Modem::~Modem() {
    alive_.reset();
}

void Modem::addCommand(const std::string& name, Handler handler) {
    commands_[name] = std::move(handler);
}

// ---------------------------------------------------------------------------------------------
// Output

void Modem::write(std::string_view bytes) {
    if (powered_ && !silent_) {
        port_.write(bytes);
    }
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
    if (!powered_ || !booted_ || silent_) {
        return;  // a hung or dead module reports nothing
    }
    std::string trace = line;
    if (!raw_after.empty()) {
        trace += " [+" + std::to_string(raw_after.size()) + " data bytes]";
    }
    std::string wire = frame(line) + raw_after;
    if (executing_) {
        // The running command's own result URCs follow its final result first.
        own_.emplace_back(std::move(wire), std::move(trace));
        return;
    }
    if (busy()) {
        held_.emplace_back(std::move(wire), std::move(trace));
        return;
    }
    log_.urc(trace);
    write(wire);
}

void Modem::flushHeld() {
    while (!own_.empty() && !busy()) {
        auto [wire, trace] = std::move(own_.front());
        own_.pop_front();
        log_.urc(trace);
        write(wire);
    }
    while (!held_.empty() && !busy()) {
        auto [wire, trace] = std::move(held_.front());
        held_.pop_front();
        log_.urc(trace);
        write(wire);
    }
}

void Modem::emitFinal(Final f) {
    switch (f.kind) {
        case Final::Kind::Ok:
            respond("OK");
            break;
        case Final::Kind::Error:
            respond("ERROR");
            break;
        case Final::Kind::Cme:
            if (cmee_ == 0) {
                respond("ERROR");
            } else if (cmee_ == 1) {
                respond("+CME ERROR: " + std::to_string(f.code));
            } else {
                respond("+CME ERROR: " + cmeText(f.code));
            }
            break;
        case Final::Kind::Pending:
            return;
    }
    executing_ = false;
    flushHeld();
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
    if (!powered_ || !booted_ || silent_) {
        return;
    }
    std::string echo;
    size_t i = 0;
    while (i < bytes.size()) {
        if (phase_) {
            i += phase_->feed(bytes.substr(i));
            if (phase_->done()) {
                endPhase();
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
    }
    write(echo);
    if (phase_ && phase_->inTrailer()) {
        armTrailerTimer();
    }
}

void Modem::execute(const std::string& body) {
    log_.in("AT" + body);
    executing_ = true;
    auto cmds = parseCommandLine(body);
    if (!cmds) {
        emitFinal(Final::error());
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
    log_.out(printable(prompt));
    write(prompt);
    phase_.emplace(std::move(phase));
    phase_done_ = std::move(done);
    if (phase_->done()) {
        asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
            if (!alive.expired() && gen == generation_ && phase_ && phase_->done()) {
                endPhase();
            }
        });
    }
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

void Modem::endPhase() {
    trailer_timer_.cancel();
    DataPhase phase = std::move(*phase_);
    phase_.reset();
    PhaseDone done = std::move(phase_done_);
    phase_done_ = nullptr;
    std::string what = "[data " + std::to_string(phase.data().size()) + " bytes";
    if (phase.endedOnPattern()) {
        what += " + EOF pattern";
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
    swallow_ctrlz_ = false;
    assembler_.reset();
    booted_ = false;
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
    reg_stat_ = forced_reg_;
    log_.note("booted");
    for (const auto& line : bootUrcs()) {
        urc(line);
    }
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

void Modem::rebootSoon() {
    asio::post(io_, [this, alive = aliveToken(), gen = generation_] {
        if (!alive.expired() && gen == generation_) {
            log_.note("reboot");
            loseState();
            after(opts_.boot_time, [this] { boot(); });
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

void Modem::setSignal(int rssi) {
    rssi_ = rssi;
}

nlohmann::json Modem::status() const {
    nlohmann::json j;
    j["model"] = modelName();
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
    addStatus(j);
    return j;
}

// ---------------------------------------------------------------------------------------------
// 27.007 / V.250 basics

std::string Modem::registrationLine(const char* prefix, int n, bool as_urc) const {
    std::string line = std::string(prefix) + ": ";
    if (!as_urc) {
        line += std::to_string(n) + ",";
    }
    line += std::to_string(reg_stat_);
    if (n >= 2 && registered()) {
        line += ",\"0001\",\"01A2D101\"," + std::to_string(access_tech_);
    }
    return line;
}

void Modem::reportRegistration() {
    if (creg_n_ > 0) {
        urc(registrationLine("+CREG", creg_n_, true));
    }
    if (cgreg_n_ > 0) {
        urc(registrationLine("+CGREG", cgreg_n_, true));
    }
    if (cereg_n_ > 0) {
        urc(registrationLine("+CEREG", cereg_n_, true));
    }
}

void Modem::addBasics() {
    auto ok = [](const AtCommand&) { return Final::ok(); };
    addCommand("", ok);
    addCommand("E", [this](const AtCommand& c) {
        auto v = c.kind == AtKind::Exec ? 0L : c.intArg(0).value_or(-1);
        if (v != 0 && v != 1) {
            return Final::error();
        }
        echo_ = v == 1;
        return Final::ok();
    });
    addCommand("V", [](const AtCommand& c) {
        return c.kind == AtKind::Set && c.str(0) == "1" ? Final::ok() : Final::error();
    });
    addCommand("Q", [](const AtCommand& c) {
        return c.kind != AtKind::Set || c.str(0) == "0" ? Final::ok() : Final::error();
    });
    auto defaults = [this](const AtCommand&) {
        echo_ = true;
        cmee_ = 0;
        return Final::ok();
    };
    addCommand("Z", defaults);
    addCommand("&F", defaults);
    for (const char* name : {"&W", "&K", "&C", "&D", "S", "X", "+IFC", "+CPSMS", "+CEDRXS", "+CTZR",
                             "+CTZU", "+CSCS", "+CMGF", "+CNMI", "+CGEREP"}) {
        addCommand(name, ok);
    }
    addCommand("I", [this](const AtCommand&) {
        for (const auto& line : identify()) {
            respond(line);
        }
        return Final::ok();
    });
    auto value = [this](const std::string* v) {
        return [this, v](const AtCommand& c) {
            if (c.kind != AtKind::Exec) {
                return c.kind == AtKind::Test ? Final::ok() : Final::error();
            }
            respond(*v);
            return Final::ok();
        };
    };
    for (const char* n : {"+CGMI", "+GMI"}) {
        addCommand(n, value(&manufacturer_));
    }
    for (const char* n : {"+CGMM", "+GMM"}) {
        addCommand(n, value(&model_id_));
    }
    for (const char* n : {"+CGMR", "+GMR"}) {
        addCommand(n, value(&revision_));
    }
    for (const char* n : {"+CGSN", "+GSN"}) {
        addCommand(n, value(&imei_));
    }
    addCommand("+CIMI", value(&imsi_));
    addCommand("+CCID", [this](const AtCommand& c) {
        if (c.kind == AtKind::Test) {
            return Final::ok();
        }
        respond("+CCID: " + iccid_);
        return Final::ok();
    });
    addCommand("+CMEE", [this](const AtCommand& c) {
        switch (c.kind) {
            case AtKind::Read:
                respond("+CMEE: " + std::to_string(cmee_));
                return Final::ok();
            case AtKind::Test:
                respond("+CMEE: (0-2)");
                return Final::ok();
            case AtKind::Exec:
                cmee_ = 0;
                return Final::ok();
            case AtKind::Set:
                break;
        }
        auto v = c.intArg(0);
        if (!v || *v < 0 || *v > 2) {
            return Final::error();
        }
        cmee_ = static_cast<int>(*v);
        return Final::ok();
    });
    addCommand("+CPIN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CPIN: READY");
        }
        return Final::ok();
    });
    addCommand("+CSQ", [this](const AtCommand& c) {
        if (c.kind == AtKind::Test) {
            respond("+CSQ: (0-31,99),(0-7,99)");
            return Final::ok();
        }
        int rssi = radioOn() ? rssi_ : 99;
        respond("+CSQ: " + std::to_string(rssi) + ",99");
        return Final::ok();
    });
    auto reg = [this](const char* prefix, int* n, int max) {
        return [this, prefix, n, max](const AtCommand& c) {
            switch (c.kind) {
                case AtKind::Read:
                    respond(registrationLine(prefix, *n, false));
                    return Final::ok();
                case AtKind::Test:
                    respond(std::string(prefix) + ": (0-" + std::to_string(max) + ")");
                    return Final::ok();
                case AtKind::Exec:
                    *n = 0;
                    return Final::ok();
                case AtKind::Set:
                    break;
            }
            auto v = c.intArg(0);
            if (!v || *v < 0 || *v > max) {
                return Final::cme(50);
            }
            *n = static_cast<int>(*v);
            return Final::ok();
        };
    };
    addCommand("+CREG", reg("+CREG", &creg_n_, 2));
    addCommand("+CGREG", reg("+CGREG", &cgreg_n_, 2));
    addCommand("+CEREG", reg("+CEREG", &cereg_n_, 5));
    addCommand("+CFUN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CFUN: " + std::to_string(cfun_));
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+CFUN: (0,1,4),(0-1)");
            return Final::ok();
        }
        auto fun = c.intArg(0);
        auto rst = c.has(1) ? c.intArg(1) : std::optional<long>(0);
        if (!fun || (*fun != 0 && *fun != 1 && *fun != 4) || !rst || *rst < 0 || *rst > 1) {
            return Final::cme(50);
        }
        if (*rst == 1) {
            rebootSoon();
            return Final::ok();
        }
        int before = cfun_;
        cfun_ = static_cast<int>(*fun);
        if (cfun_ == before) {
            return Final::ok();
        }
        if (cfun_ == 1) {
            reg_stat_ = 2;
            reportRegistration();
            after(kSearchTime, [this] {
                if (cfun_ == 1) {
                    reg_stat_ = forced_reg_;
                    reportRegistration();
                }
            });
        } else {
            reg_stat_ = 0;
            reportRegistration();
        }
        return Final::ok();
    });
    addCommand("+CGDCONT", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [cid, ctx] : pdp_) {
                respond("+CGDCONT: " + std::to_string(cid) + ",\"" + ctx.first + "\",\"" +
                        ctx.second + "\",\"0.0.0.0\",0,0");
            }
            return Final::ok();
        }
        if (c.kind == AtKind::Test) {
            respond("+CGDCONT: (1-15),\"IP\",,,(0-2),(0-4)");
            return Final::ok();
        }
        auto cid = c.intArg(0);
        if (!cid || *cid < 1 || *cid > 15) {
            return Final::cme(50);
        }
        if (c.argc() == 1) {
            pdp_.erase(static_cast<int>(*cid));
        } else {
            pdp_[static_cast<int>(*cid)] = {c.str(1), c.str(2)};
        }
        return Final::ok();
    });
    addCommand("+CGATT", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond(std::string("+CGATT: ") + (registered() ? "1" : "0"));
        }
        return Final::ok();
    });
    addCommand("+CGACT", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond(std::string("+CGACT: 1,") + (registered() ? "1" : "0"));
        }
        return Final::ok();
    });
    addCommand("+CGPADDR", [this](const AtCommand& c) {
        if (c.kind != AtKind::Test) {
            respond("+CGPADDR: 1,\"10.64.12.7\"");
        }
        return Final::ok();
    });
    addCommand("+CGCONTRDP", [this](const AtCommand& c) {
        if (c.kind != AtKind::Test && registered()) {
            std::string apn = pdp_.count(1) ? pdp_.at(1).second : "internet";
            respond("+CGCONTRDP: 1,5,\"" + apn + "\",\"10.64.12.7.255.255.255.0\"," +
                    "\"10.64.12.1\",\"10.0.0.53\",\"10.0.0.54\"");
        }
        return Final::ok();
    });
    addCommand("+COPS", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            if (registered()) {
                respond("+COPS: 0,0,\"EMULATED\"," + std::to_string(access_tech_));
            } else {
                respond("+COPS: 0");
            }
        }
        return Final::ok();
    });
    addCommand("+IPR", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+IPR: 115200");
        }
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
