// SPDX-License-Identifier: Apache-2.0
#include "emulator.hpp"

#include "model_a76xx.hpp"
#include "model_bg9x.hpp"
#include "model_bx310x.hpp"
#include "model_hl78.hpp"
#include "model_spwf04.hpp"

namespace uplinkd::emulator {

Emulator::Emulator(asio::io_context& io, EmulatorConfig cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      port_(io, cfg_.baud),
      control_(io, [this](const std::string& line) { return control(line); }) {
    ModemOptions opts;
    opts.variant = cfg_.variant;
    opts.boot_time = std::chrono::milliseconds(cfg_.boot_ms);
    opts.register_time = std::chrono::milliseconds(cfg_.register_ms);
    opts.bearer_time = std::chrono::milliseconds(cfg_.bearer_ms);
    opts.max_sessions = cfg_.max_sessions;
    opts.tls_fail_delay = std::chrono::milliseconds(cfg_.tls_fail_ms);
    if (cfg_.model == "a76xx") {
        modem_ = std::make_unique<A76xxModel>(io_, port_, certs_, log_, opts);
    } else if (cfg_.model == "bg9x") {
        modem_ = std::make_unique<Bg9xModel>(io_, port_, certs_, log_, opts);
    } else if (cfg_.model == "bx310x") {
        modem_ = std::make_unique<Bx310xModel>(io_, port_, certs_, log_, opts);
    } else if (cfg_.model == "spwf04s") {
        modem_ = std::make_unique<Spwf04Model>(io_, port_, certs_, log_, opts);
    } else {
        modem_ = std::make_unique<Hl78Model>(io_, port_, certs_, log_, opts);
    }
}

Emulator::~Emulator() {
    stop();
}

std::string Emulator::start() {
    if (cfg_.model != "hl78" && cfg_.model != "a76xx" && cfg_.model != "bg9x" &&
        cfg_.model != "bx310x" && cfg_.model != "spwf04s") {
        return "unknown model '" + cfg_.model + "'";
    }
    if (!cfg_.log.empty() && !log_.open(cfg_.log)) {
        return "cannot open log file " + cfg_.log;
    }
    if (auto err = port_.open(cfg_.link); !err.empty()) {
        return err;
    }
    if (!cfg_.control.empty()) {
        if (auto err = control_.listen(cfg_.control); !err.empty()) {
            return err;
        }
    }
    log_.note(std::string("start: model ") + modem_->modelName() + " on " + port_.slavePath() +
              ", baud " + std::to_string(cfg_.baud));
    port_.start([this](std::string_view bytes) { modem_->onBytes(bytes); });
    modem_->powerOn();
    return {};
}

void Emulator::stop() {
    if (modem_) {
        modem_->powerOff();
    }
    control_.close();
    port_.close();
}

std::string Emulator::control(const std::string& line) {
    const auto [cmd, arg, rest] = splitControlLine(line);
    log_.note("control: " + line);
    if (auto handled = modem_->modelControl(line)) {
        return *handled;
    }
    auto number = [](const std::string& s) -> std::optional<long> {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) {
            return std::nullopt;
        }
        return std::stol(s);
    };
    if (cmd == "power" && arg == "off") {
        modem_->powerOff();
        return "ok power off";
    }
    if (cmd == "power" && arg == "on") {
        modem_->powerOn();
        return "ok power on";
    }
    if (cmd == "reset" && arg.empty()) {
        modem_->reset();
        return "ok reset";
    }
    if (cmd == "reboot" && arg.empty()) {
        if (!modem_->reboot()) {
            return "error the module is powered off";
        }
        return "ok reboot";
    }
    auto trimmed = [](const std::string& s) {
        size_t b = s.find_first_not_of(' ');
        return b == std::string::npos ? std::string()
                                      : s.substr(b, s.find_last_not_of(' ') - b + 1);
    };
    if (cmd == "fault") {
        if (arg == "silent") {
            modem_->setSilent(true);
            return "ok fault silent";
        }
        if (arg == "none") {
            modem_->clearFaults();
            return "ok fault none";
        }
        using D = FaultPlan::Direction;
        using A = FaultPlan::Action;
        const std::pair<const char*, std::pair<D, A>> in_data[] = {
            {"silent-in-uplink", {D::Uplink, A::Hang}},
            {"reboot-in-uplink", {D::Uplink, A::Reboot}},
            {"silent-in-downlink", {D::Downlink, A::Hang}},
            {"reboot-in-downlink", {D::Downlink, A::Reboot}},
        };
        for (const auto& [name, how] : in_data) {
            if (arg == name) {
                auto n = number(trimmed(rest));
                if (!n) {
                    return "error usage: fault " + arg + " N (bytes, 0-999999999)";
                }
                modem_->armDataFault(how.first, how.second, static_cast<size_t>(*n));
                return "ok fault " + arg + " " + std::to_string(*n);
            }
        }
        if (arg == "split-final") {
            auto n = number(trimmed(rest));
            if (!n || *n < 1 || *n > 10000) {
                return "error usage: fault split-final MS (1-10000)";
            }
            modem_->setSplitFinal(static_cast<unsigned>(*n));
            return "ok fault split-final " + std::to_string(*n);
        }
        if (arg == "drop-link") {
            modem_->dropLinks();
            return "ok fault drop-link";
        }
        if (arg == "garbage") {
            auto n = number(rest.empty() ? "" : rest.substr(rest.find_first_not_of(' ')));
            if (!n || *n > 10 * 1024 * 1024) {
                return "error usage: fault garbage N (N <= 10485760)";
            }
            modem_->injectGarbage(static_cast<size_t>(*n));
            return "ok fault garbage " + std::to_string(*n);
        }
        return "error unknown fault '" + arg +
               "' (silent, garbage N, drop-link, silent-in-uplink N, reboot-in-uplink N, "
               "silent-in-downlink N, reboot-in-downlink N, split-final MS, none)";
    }
    if (cmd == "set") {
        auto n = number(trimmed(rest));
        if (arg == "max-sessions") {
            if (!n || !modem_->setMaxSessions(static_cast<int>(*n))) {
                return "error usage: set max-sessions N (1-32, hl78 only)";
            }
            return "ok set max-sessions " + std::to_string(*n);
        }
        if (!n || *n > 60000 || !modem_->setTime(arg, static_cast<unsigned>(*n))) {
            return "error usage: set register-ms|bearer-ms|boot-ms N (0-60000) | set max-sessions "
                   "N";
        }
        return "ok set " + arg + " " + std::to_string(*n);
    }
    if (cmd == "status" && arg.empty()) {
        auto j = modem_->status();
        j["pty"] = port_.slavePath();
        j["link"] = cfg_.link;
        j["baud"] = cfg_.baud;
        j["output_queued"] = port_.pendingOutput();
        return j.dump();
    }
    if (cmd == "stats" && arg == "reset") {
        port_.resetStats();
        return "ok stats reset";
    }
    if (cmd == "urc" && !arg.empty()) {
        std::string text = arg + rest;
        modem_->injectUrc(text);
        return "ok urc";
    }
    if (cmd == "register") {
        auto n = number(arg);
        if (!n || *n > 5) {
            return "error usage: register STAT (0-5)";
        }
        modem_->setRegistration(static_cast<int>(*n));
        return "ok register " + arg;
    }
    if (cmd == "sim" && (arg == "absent" || arg == "present") && trimmed(rest).empty()) {
        modem_->setSim(arg == "present");
        return "ok sim " + arg;
    }
    if (cmd == "cert" && arg == "delete" && !trimmed(rest).empty()) {
        const std::string name = trimmed(rest);
        if (!certs_.erase(name)) {
            return "error no certificate '" + name + "' in the store";
        }
        return "ok cert delete " + name;
    }
    if (cmd == "csq") {
        auto n = number(arg);
        if (!n || (*n > 31 && *n != 99)) {
            return "error usage: csq RSSI (0-31, 99)";
        }
        modem_->setSignal(static_cast<int>(*n));
        return "ok csq " + arg;
    }
    if (cmd.empty()) {
        return "error empty command";
    }
    if (auto reply = modem_->modelControl(line)) {
        return *reply;
    }
    return "error unknown command '" + line + "'";
}

}  // namespace uplinkd::emulator
