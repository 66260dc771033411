// SPDX-License-Identifier: Apache-2.0
// Modem: construction, the command table and output (responses, URCs, finals); loop thread.
#include "modem.hpp"

#include <algorithm>

namespace uplinkd::emulator {
namespace {

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

}  // namespace uplinkd::emulator
