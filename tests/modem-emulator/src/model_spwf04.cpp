// SPDX-License-Identifier: Apache-2.0
// Spwf04Model: results, WIND events, configuration variables, Wi-Fi association, the clock,
// control commands and status.
#include "model_spwf04.hpp"

#include <sstream>

#include "spwf_tables.hpp"

namespace uplinkd::emulator {
namespace {

const char* const kModuleIp = "192.168.1.50";

std::string frame(const std::string& line) {
    return "\r\n" + line + "\r\n";
}

}  // namespace

Spwf04Model::Spwf04Model(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                         ModemOptions opts)
    : Modem(io, port, certs, log, std::move(opts), {"ST", "SPWF04SA"}) {
    revision_ = "1.1.0";
    clearCommands();  // no 27.007 commands on this module
    addCommand("", [](const AtCommand&) { return Final::ok(); });
    for (const auto& v : spwf::variables()) {
        saved_[v.name] = v.factory;
    }
    cfg_ = saved_;
    addConfigCommands();
    addSocketCommands();
    addCertCommands();
    addMqttCommands();
}

Spwf04Model::~Spwf04Model() {
    closeAll(socks_);
    closeMqtt(false);
}

std::vector<std::string> Spwf04Model::bootUrcs() const {
    std::vector<std::string> out;
    if (windOn(0)) {
        out.emplace_back("+WIND:0:Console active");
    }
    if (windOn(32)) {
        out.emplace_back("+WIND:32:WiFi Hardware Started");
    }
    return out;
}

std::vector<std::string> Spwf04Model::identify() const {
    return {manufacturer_ + " " + model_id_ + " " + revision_};
}

void Spwf04Model::onPowerLoss() {
    for (auto& s : socks_) {
        if (s.sock) {
            s.sock->close();
        }
        s = Socket{};
    }
    closeMqtt(false);
    cfg_ = saved_;  // RAM settings are gone; the saved ones load at boot
    echo_ = var("console_echo") == "1";
    wifi_on_ = false;
    associated_ = false;
    joining_ = false;
    ++join_seq_;
}

void Spwf04Model::onBooted() {
    wifi_on_ = true;
    if (var("wifi_mode") == "1" && !var("wifi_ssid").empty()) {
        startJoin();  // the saved network is joined at boot
    }
}

std::string Spwf04Model::finalText(const Final& f) const {
    switch (f.kind) {
        case Final::Kind::Ok:
            return "AT-S.OK";
        case Final::Kind::Cme:
            return "AT-S.ERROR:" + std::to_string(f.code) + ":" + spwf::errorText(f.code);
        default:
            return "AT-S.ERROR:" + std::to_string(spwf::kCommandNotFound) + ":" +
                   spwf::errorText(spwf::kCommandNotFound);
    }
}

std::optional<std::vector<AtCommand>> Spwf04Model::parseLine(const std::string& body) const {
    auto cmd = spwf::parseLine(body);
    if (!cmd) {
        return std::nullopt;
    }
    return std::vector<AtCommand>{std::move(*cmd)};
}

std::string Spwf04Model::traceText(const std::string& body) const {
    // Passphrases and MQTT passwords stay out of the trace.
    auto cmd = spwf::parseLine(body);
    if (cmd && cmd->name == "+S.SCFG" && cmd->str(0) == "wifi_wpa_psk_text") {
        return "AT+S.SCFG=wifi_wpa_psk_text,<hidden>";
    }
    if (cmd && cmd->name == "+S.MQTTCONN" && cmd->argc() > 5) {
        std::string out = "AT+S.MQTTCONN=";
        for (size_t i = 0; i < cmd->argc(); ++i) {
            out += (i ? "," : "") + (i == 5 && cmd->has(5) ? std::string("<hidden>") : cmd->str(i));
        }
        return out;
    }
    return "AT" + body;
}

// ---------------------------------------------------------------------------------------------
// Variables and WIND events

std::string Spwf04Model::var(const std::string& name) const {
    if (name == "ip_ipaddr") {
        return associated_ ? kModuleIp : "0.0.0.0";
    }
    auto it = cfg_.find(name);
    return it == cfg_.end() ? std::string() : it->second;
}

uint32_t Spwf04Model::mask(const char* name) const {
    return spwf::parseMask(var(name)).value_or(0);
}

bool Spwf04Model::windOn(int code) const {
    return spwf::windEnabled(code, mask("console_wind_off_low"), mask("console_wind_off_medium"),
                             mask("console_wind_off_high"));
}

void Spwf04Model::wind(int code, const std::string& text, std::string raw) {
    if (windOn(code)) {
        urc("+WIND:" + std::to_string(code) + ":" + text, std::move(raw));
    } else {
        log_.note("+WIND:" + std::to_string(code) + " masked");
    }
}

void Spwf04Model::addConfigCommands() {
    addCommand("+S.SCFG", [this](const AtCommand& c) {
        if (c.kind != AtKind::Set || c.argc() < 2) {
            return Final::cme(spwf::kBadParameter);
        }
        const auto* v = spwf::findVariable(c.str(0));
        if (v == nullptr) {
            return Final::cme(spwf::kUnknownVariable);
        }
        // The value is everything after the first comma (a passphrase may hold commas).
        std::string value = c.raw_args.substr(c.raw_args.find(',') + 1);
        auto checked = spwf::checkValue(*v, value);
        if (checked.error != 0) {
            return Final::cme(checked.error);
        }
        cfg_[v->name] = checked.value;
        if (c.str(0) == "console_echo") {
            echo_ = checked.value == "1";
        }
        return Final::ok();
    });
    auto show = [this](const std::string& name) {
        std::string line = "AT-S.Var:" + name + "=" + var(name);
        if (name == "wifi_wpa_psk_text") {
            respondRaw(frame(line), "AT-S.Var:wifi_wpa_psk_text=<hidden>");
        } else {
            respond(line);
        }
    };
    addCommand("+S.GCFG", [this, show](const AtCommand& c) {
        if (c.kind == AtKind::Exec) {
            for (const auto& v : spwf::variables()) {
                show(v.name);
            }
            return Final::ok();
        }
        if (c.argc() != 1) {
            return Final::cme(spwf::kBadParameter);
        }
        if (spwf::findVariable(c.str(0)) == nullptr) {
            return Final::cme(spwf::kUnknownVariable);
        }
        show(c.str(0));
        return Final::ok();
    });
    addCommand("+S.SSIDTXT", [this, show](const AtCommand& c) {
        if (c.kind == AtKind::Exec) {
            show("wifi_ssid");
            return Final::ok();
        }
        if (c.raw_args.empty() || c.raw_args.size() > 32) {
            return Final::cme(spwf::kBadParameter);
        }
        cfg_["wifi_ssid"] = c.raw_args;  // taken as typed: spaces and commas are part of it
        return Final::ok();
    });
    addCommand("+S.WCFG", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return Final::cme(spwf::kBadParameter);
        }
        saved_ = cfg_;
        log_.note("configuration saved");
        return Final::ok();
    });
    addCommand("+S.FCFG", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return Final::cme(spwf::kBadParameter);
        }
        for (const auto& v : spwf::variables()) {
            saved_[v.name] = v.factory;
        }
        cfg_ = saved_;
        echo_ = var("console_echo") == "1";
        return Final::ok();
    });
    addCommand("+S.RESET", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return Final::cme(spwf::kBadParameter);
        }
        wind(2, "Reset");
        rebootSoon();
        return Final::ok();
    });
    addCommand("+S.WIFI", [this](const AtCommand& c) {
        auto on = c.intArg(0);
        if (c.kind != AtKind::Set || c.argc() != 1 || !on || *on < 0 || *on > 1) {
            return Final::cme(spwf::kBadParameter);
        }
        if (*on == 0) {
            if (associated_ || joining_) {
                leaveNetwork(false);
            }
            wifi_on_ = false;
            return Final::ok();
        }
        wifi_on_ = true;
        if (!associated_ && !joining_ && var("wifi_mode") == "1") {
            startJoin();
        }
        return Final::ok();
    });
    addCommand("+S.TIME", [this](const AtCommand& c) {
        if (c.kind == AtKind::Exec) {
            respond("AT-S.Time:" + std::to_string(moduleTime()));
            return Final::ok();
        }
        auto t = c.intArg(0);
        if (c.argc() != 1 || !t || *t < 0) {
            return Final::cme(spwf::kBadParameter);
        }
        clock_ = *t;
        clock_set_at_ = std::chrono::steady_clock::now();
        return Final::ok();
    });
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi

Final Spwf04Model::needNetwork() const {
    return associated_ ? Final::ok() : Final::cme(spwf::kNotAssociated);
}

void Spwf04Model::startJoin() {
    joining_ = true;
    uint64_t seq = ++join_seq_;
    after(opts_.bearer_time, [this, seq] {
        if (seq != join_seq_ || !wifi_on_) {
            return;
        }
        joining_ = false;
        const std::string ssid = var("wifi_ssid");
        if (!ap_.on || ssid.empty() || ssid != ap_.ssid) {
            log_.note("join: no access point '" + ssid + "'");
            wind(41, "WiFi Join Failed:No AP found");
            return;
        }
        bool open_ap = ap_.psk.empty();
        int priv = std::atoi(var("wifi_priv_mode").c_str());
        bool ok = open_ap ? priv == 0 : priv == 2 && var("wifi_wpa_psk_text") == ap_.psk;
        if (!ok) {
            log_.note("join: authentication with '" + ssid + "' failed");
            wind(40, "WiFi Deauthentication:15");
            return;
        }
        associated_ = true;
        log_.note("associated with '" + ssid + "'");
        wind(24, std::string("WiFi Up:0:") + kModuleIp);
    });
}

void Spwf04Model::leaveNetwork(bool lost) {
    ++join_seq_;
    joining_ = false;
    bool was = associated_;
    associated_ = false;
    if (was && lost) {
        wind(33, "WiFi Network Lost");
    }
    if (was) {
        closeSockets(1);
        closeMqtt(true);
    }
}

int64_t Spwf04Model::moduleTime() const {
    auto host = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    if (!clock_) {
        return host;
    }
    auto since = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                  clock_set_at_)
                     .count();
    return *clock_ + since;
}

// ---------------------------------------------------------------------------------------------
// Control and status

std::optional<std::string> Spwf04Model::modelControl(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    std::string a;
    std::string b;
    std::string extra;
    in >> cmd >> a >> b >> extra;
    if (cmd == "ap") {
        if (a.empty() || !extra.empty()) {
            return "error usage: ap SSID [PASSPHRASE|-] | ap off | ap on";
        }
        if (a == "off" && b.empty()) {
            ap_.on = false;
            if (associated_) {
                leaveNetwork(true);
            }
            return "ok ap off";
        }
        if (a == "on" && b.empty()) {
            ap_.on = true;
        } else {
            if (!b.empty() && b != "-" && (b.size() < 8 || b.size() > 63)) {
                return "error the passphrase must have 8-63 characters ('-' = open network)";
            }
            if (associated_) {
                leaveNetwork(true);  // the old network is gone
            }
            ap_.ssid = a;
            ap_.psk = b == "-" ? "" : b;
            ap_.on = true;
        }
        if (wifi_on_ && !associated_ && !joining_ && var("wifi_mode") == "1" &&
            !var("wifi_ssid").empty()) {
            startJoin();  // the module keeps looking for its network
        }
        return "ok ap " + ap_.ssid + (ap_.psk.empty() ? " open" : " wpa2");
    }
    if (cmd == "clock") {
        if (a == "host" && b.empty()) {
            clock_.reset();
            return "ok clock host";
        }
        auto t = parseInt(a);
        if (!t || *t < 0 || !b.empty()) {
            return "error usage: clock EPOCH_SECONDS | clock host";
        }
        clock_ = *t;
        clock_set_at_ = std::chrono::steady_clock::now();
        return "ok clock " + a;
    }
    return std::nullopt;
}

void Spwf04Model::addStatus(nlohmann::json& j) const {
    int open = 0;
    int used = 0;
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < socks_.size(); ++i) {
        const Socket& s = socks_[i];
        if (!s.in_use) {
            continue;
        }
        ++used;
        open += s.open ? 1 : 0;
        list.push_back({{"id", i},
                        {"host", s.host},
                        {"port", s.port},
                        {"tls", s.tls},
                        {"connected", s.open},
                        {"rx_buffered", s.sock ? s.sock->available() : 0},
                        {"bytes_sent", s.sock ? s.sock->bytesSent() : 0},
                        {"bytes_received", s.sock ? s.sock->bytesReceived() : 0}});
    }
    j["open_sockets"] = open;
    j["sockets"] = list;
    j["sessions_used"] = used;
    j["sessions_max"] = kSockets;
    j["wifi"] = {{"enabled", wifi_on_},
                 {"associated", associated_},
                 {"joining", joining_},
                 {"ssid", var("wifi_ssid")},
                 {"ip", var("ip_ipaddr")}};
    j["ap"] = {{"ssid", ap_.ssid}, {"open", ap_.psk.empty()}, {"on", ap_.on}};
    j["clock"] = moduleTime();
    j["mqtt"] = mqttStatus();
}

}  // namespace uplinkd::emulator
