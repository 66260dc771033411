// SPDX-License-Identifier: Apache-2.0
// Bx310xModel: identity, Wi-Fi station (AT+SRW*), module clock, status and control commands.
#include "model_bx310x.hpp"

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <regex>
#include <sstream>

#include "control_server.hpp"
#include "k_errors.hpp"
#include "peer_drop.hpp"

namespace uplinkd::emulator {
namespace {

const char* const kDefaultPattern = "--EOF--Pattern--";

// +SRWSTASTATUS: 0,<reason> codes (the emulator's choice: 802.11 / ESP-IDF numbering, of which
// the reference confirms 8 only).
constexpr int kReasonLeave = 8;       ///< association left or lost
constexpr int kReasonHandshake = 15;  ///< 4-way handshake failed: wrong passphrase
constexpr int kReasonNoAp = 201;      ///< no access point with that SSID
constexpr const char* kMac = "a4:cf:12:0b:31:05";
constexpr const char* kAddress = "\"192.168.50.23\",\"255.255.255.0\",\"192.168.50.1\"";

std::string upper(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

/// Rebuilds "a,\"b\",c" with argument `hide` replaced by a mask.
std::string hideArg(const std::string& name, const std::string& raw, size_t hide) {
    auto args = splitArgs(raw);
    if (!args) {
        return name + "=<unparsed arguments hidden>";
    }
    std::string out = name + "=";
    for (size_t i = 0; i < args->size(); ++i) {
        const AtArg& a = (*args)[i];
        out += i > 0 ? "," : "";
        std::string text = i == hide && !a.text.empty() ? "<hidden>" : a.text;
        out += a.quoted ? "\"" + text + "\"" : text;
    }
    return out;
}

}  // namespace

Bx310xModel::Bx310xModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                         ModemOptions opts)
    : KSocketModem(io, port, certs, log, std::move(opts), "BX3105", kDefaultPattern, true) {
    revision_ = "BX310x.1.3.0.4";
    imei_ = "";
    // A Wi-Fi module: no SIM, no cellular registration, no PDP context.
    for (const char* name :
         {"+CPIN",    "+CREG",      "+CGREG", "+CEREG", "+CGDCONT", "+CGATT", "+CGACT",
          "+CGPADDR", "+CGCONTRDP", "+COPS",  "+CIMI",  "+CCID",    "+CFUN",  "+CSQ",
          "+CPSMS",   "+CEDRXS",    "+CMGF",  "+CNMI",  "+CGEREP",  "+CGSN",  "+GSN"}) {
        removeCommand(name);
    }
    addCommand("I", [this](const AtCommand& c) {
        std::string n = c.kind == AtKind::Set ? c.str(0) : "0";
        if (n == "0") {
            respond(model_id_);
        } else if (n == "3") {
            respond(revision_);
        } else {
            return Final::error();
        }
        return Final::ok();
    });
    addCommand("&F", [this](const AtCommand& c) {
        if (c.kind == AtKind::Set && c.str(0) != "0") {
            return Final::error();
        }
        // Factory settings: the Wi-Fi configuration goes, then the module reboots (READY).
        wifi_mode_ = 3;
        sta_ssid_.clear();
        sta_pass_.clear();
        sta_configured_ = false;
        rebootSoon();
        return Final::ok();
    });
    addCommand("+FMM", [](const AtCommand&) { return Final::ok(); });
    addCommand("+KPATTERN", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+KPATTERN: \"" + pattern_ + "\"");
            return Final::ok();
        }
        if (auto err = checkSet(c, 1)) {
            return *err;
        }
        std::string p = c.str(0);
        if (p.size() > 128) {
            return Final::cme(kerr::kLengthInvalid);
        }
        pattern_ = p;
        return Final::ok();
    });
    addWifiCommands();
    addClockCommand();
    addTcpCommands();
    addCertCommands();
    addMqttCommands();
    old_sub_urc_ = model_id_ == "BX3105-OLD";
}

std::optional<Final> Bx310xModel::checkSet(const AtCommand& c, size_t most_args) {
    if (c.kind != AtKind::Set) {
        return Final::error();
    }
    if (!c.has(0)) {
        return Final::cme(kerr::kMissing);
    }
    if (c.argc() > most_args) {
        return Final::cme(kerr::kUnexpected);
    }
    return std::nullopt;
}

Bx310xModel::~Bx310xModel() {
    mqttClose();
}

void Bx310xModel::onPowerLoss() {
    clearSessions();
    mqttClose();
    mqtt_cfg_.reset();
    pattern_ = kDefaultPattern;
    wifi_ = WifiState::Down;  // the station configuration (flash) stays
    ++wifi_attempt_;
    joined_ssid_.clear();
}

void Bx310xModel::dropLinks() {
    dropPeer(mqtt_);
    dropSessionLinks();
}

Final Bx310xModel::malformedLine(const std::string& body) {
    // Reference 2.7 quirk: a double quote inside the KMQTTPUB message breaks the parse. Other
    // unbalanced quotes are a plain ERROR.
    static const std::regex kQuoteInMessage(
        R"(\+KMQTTPUB=\s*\d+\s*,\s*"[^"]*"\s*,\s*\d+\s*,\s*\d+\s*,\s*".*"\s*)", std::regex::icase);
    if (std::regex_match(body, kQuoteInMessage)) {
        misuse("AT+KMQTTPUB with a '\"' in the message (use AT+KMQTTPUBSTART for such payloads)");
        return Final::cme(3);
    }
    return Final::error();
}

std::string Bx310xModel::traceText(const std::string& body) const {
    std::string head = upper(body.substr(0, 11));
    if (head == "+SRWSTACFG=") {
        return "AT" + hideArg("+SRWSTACFG", body.substr(11), 1);
    }
    if (head.substr(0, 10) == "+KMQTTCFG=") {
        return "AT" + hideArg("+KMQTTCFG", body.substr(10), 13);
    }
    return "AT" + body;
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi

void Bx310xModel::associate() {
    wifi_ = WifiState::Associating;
    uint64_t attempt = ++wifi_attempt_;
    after(opts_.bearer_time, [this, attempt] {
        if (attempt != wifi_attempt_) {
            return;
        }
        int reason = 0;
        if (!ap_ || ap_->ssid != sta_ssid_) {
            reason = kReasonNoAp;
        } else if (ap_->passphrase != sta_pass_) {
            reason = kReasonHandshake;
        }
        if (reason != 0) {
            wifi_ = WifiState::Down;
            log_.note("Wi-Fi: association with '" + sta_ssid_ + "' failed (" +
                      (reason == kReasonNoAp ? "no such access point" : "wrong passphrase") + ")");
            urc("+SRWSTASTATUS: 0," + std::to_string(reason));
            return;
        }
        wifi_ = WifiState::Associated;
        joined_ssid_ = ap_->ssid;
        int auth = ap_->passphrase.empty() ? 0 : 3;  // open / WPA2-PSK
        urc("+SRWSTASTATUS: 1,\"" + ap_->ssid + "\",\"" + kMac + "\"," +
            std::to_string(ap_->channel) + "," + std::to_string(auth));
        auto dhcp = std::max(opts_.bearer_time / 2, std::chrono::milliseconds(1));
        after(dhcp, [this, attempt] {
            if (attempt != wifi_attempt_ || wifi_ != WifiState::Associated) {
                return;
            }
            wifi_ = WifiState::Up;
            log_.note("Wi-Fi: up on '" + joined_ssid_ + "'");
            urc(std::string("+SRWSTAIP: ") + kAddress);
        });
    });
}

void Bx310xModel::wifiLost(int reason) {
    bool was = wifi_ == WifiState::Associated || wifi_ == WifiState::Up;
    ++wifi_attempt_;
    wifi_ = WifiState::Down;
    joined_ssid_.clear();
    if (!was) {
        return;
    }
    log_.note("Wi-Fi: association lost (" + std::to_string(reason) + ")");
    urc("+SRWSTASTATUS: 0," + std::to_string(reason));
    dropSessions(knotif::kNetwork);
    if (mqtt_state_ != MqttState::Idle) {
        mqttLost("the Wi-Fi association is gone");
    }
}

void Bx310xModel::addWifiCommands() {
    addCommand("+SRWCFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+SRWCFG: " + std::to_string(wifi_mode_));
            return Final::ok();
        }
        if (auto err = checkSet(c, 1)) {
            return *err;
        }
        auto mode = c.intArg(0);
        if (!mode || *mode < 1 || *mode > 3) {
            return Final::cme(kerr::kOutOfRange);
        }
        wifi_mode_ = static_cast<int>(*mode);
        if (wifi_mode_ == 2) {
            wifiLost(kReasonLeave);  // no station any more
        }
        return Final::ok();
    });
    addCommand("+SRWSTACFG", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            if (sta_configured_) {
                // The passphrase is not read back.
                respond("+SRWSTACFG: \"" + sta_ssid_ + "\",\"\",1");
            }
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        if (!c.has(0) || c.argc() < 2) {
            return Final::cme(kerr::kMissing);
        }
        if (c.argc() > 3) {
            return Final::cme(kerr::kUnexpected);
        }
        std::string ssid = c.str(0);
        std::string pass = c.str(1);
        auto save = c.has(2) ? c.intArg(2) : std::optional<long>(1);
        if (ssid.size() > 32 || (!pass.empty() && (pass.size() < 8 || pass.size() > 64)) || !save ||
            *save < 0 || *save > 1) {
            return Final::cme(kerr::kOutOfRange);
        }
        sta_ssid_ = ssid;
        sta_pass_ = pass;
        sta_configured_ = true;
        return Final::ok();
    });
    addCommand("+SRWSTACON", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond(std::string("+SRWSTACON: ") + (networkUp() ? "1" : "0"));
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        if (c.argc() > 1) {
            return Final::cme(kerr::kUnexpected);
        }
        auto on = c.intArg(0);
        if (!on || *on < 0 || *on > 1) {
            return Final::cme(kerr::kOutOfRange);
        }
        if (*on == 0) {
            if (wifi_ == WifiState::Down) {
                return Final::ok();
            }
            if (wifi_ == WifiState::Associating) {
                ++wifi_attempt_;
                wifi_ = WifiState::Down;
                urc("+SRWSTASTATUS: 0," + std::to_string(kReasonLeave));
                return Final::ok();
            }
            wifiLost(kReasonLeave);
            return Final::ok();
        }
        if (wifi_mode_ == 2 || !sta_configured_) {
            misuse(wifi_mode_ == 2 ? "AT+SRWSTACON=1 in access-point mode (AT+SRWCFG=2)"
                                   : "AT+SRWSTACON=1 without AT+SRWSTACFG");
            return Final::cme(kerr::kNotAvailable);
        }
        if (wifi_ == WifiState::Down) {
            associate();
        }
        return Final::ok();
    });
}

// ---------------------------------------------------------------------------------------------
// Clock

std::time_t Bx310xModel::moduleTime() const {
    auto now = std::chrono::system_clock::now() + clock_offset_;
    return std::chrono::system_clock::to_time_t(now);
}

void Bx310xModel::addClockCommand() {
    addCommand("+CCLK", [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            std::time_t t = moduleTime();
            std::tm tm{};
            gmtime_r(&t, &tm);
            char buf[40];
            std::strftime(buf, sizeof buf, "%y/%m/%d,%H:%M:%S+00", &tm);
            respond(std::string("+CCLK: \"") + buf + "\"");
            return Final::ok();
        }
        if (c.kind != AtKind::Set) {
            return Final::error();
        }
        // "yy/MM/dd,hh:mm:ss[+-zz]", taken as UTC (the zone is ignored).
        std::tm tm{};
        std::istringstream in(c.str(0));
        in >> std::get_time(&tm, "%y/%m/%d,%H:%M:%S");
        if (!c.quoted(0) || in.fail()) {
            return Final::cme(kerr::kOutOfRange);
        }
        std::time_t set = timegm(&tm);
        clock_offset_ = std::chrono::seconds(set - std::time(nullptr));
        log_.note("clock set, offset " + std::to_string(clock_offset_.count()) + " s");
        return Final::ok();
    });
}

// ---------------------------------------------------------------------------------------------
// Control and status

std::string Bx310xModel::controlWifi(const std::string& args) {
    std::istringstream in(args);
    std::string sub;
    in >> sub;
    if (sub == "ap") {
        std::string ssid;
        std::string pass;
        std::string extra;
        in >> ssid >> pass >> extra;
        if (ssid == "none" && pass.empty()) {
            ap_.reset();
            return "ok wifi ap none";
        }
        if (ssid.empty() || ssid.size() > 32 || !extra.empty() || pass == "-") {
            return "error usage: wifi ap SSID [PASSPHRASE] | wifi ap none";
        }
        ap_ = AccessPoint{ssid, pass, 6};
        return "ok wifi ap " + ssid;
    }
    if (sub == "drop") {
        if (wifi_ != WifiState::Associated && wifi_ != WifiState::Up) {
            return "error not associated";
        }
        wifiLost(kReasonLeave);
        return "ok wifi drop";
    }
    return "error usage: wifi ap SSID [PASSPHRASE] | wifi ap none | wifi drop";
}

std::string Bx310xModel::controlClock(const std::string& args) {
    std::istringstream in(args);
    std::string v;
    std::string extra;
    in >> v >> extra;
    if (v == "host" && extra.empty()) {
        clock_offset_ = std::chrono::seconds(0);
        return "ok clock host";
    }
    auto n = parseInt(v);
    if (!n || !extra.empty()) {
        return "error usage: clock OFFSET_SECONDS (signed, from the host time) | clock host";
    }
    clock_offset_ = std::chrono::seconds(*n);
    return "ok clock " + std::to_string(*n);
}

std::string Bx310xModel::controlSet(const std::string& args, bool& handled) {
    std::istringstream in(args);
    std::string key;
    std::string value;
    in >> key >> value;
    handled = key == "guard-ms" || key == "cert-guard-ms";
    if (!handled) {
        return {};
    }
    auto n = parseInt(value);
    if (!n || *n < 1 || *n > 10000) {
        return "error usage: set " + key + " N (1-10000)";
    }
    (key == "guard-ms" ? guard_ : cert_guard_) = std::chrono::milliseconds(*n);
    return "ok set " + key + " " + std::to_string(*n);
}

std::optional<std::string> Bx310xModel::modelControl(const std::string& line) {
    const auto [cmd, first, rest] = splitControlLine(line);
    const std::string args = first + rest;
    if (cmd == "wifi") {
        return controlWifi(args);
    }
    if (cmd == "clock") {
        return controlClock(args);
    }
    if (cmd == "set") {
        bool handled = false;
        std::string reply = controlSet(args, handled);
        if (handled) {
            return reply;
        }
    }
    return std::nullopt;
}

void Bx310xModel::addStatus(nlohmann::json& j) const {
    addSocketStatus(j);
    const char* states[] = {"down", "associating", "associated", "up"};
    j["wifi"] = {{"state", states[static_cast<int>(wifi_)]},
                 {"mode", wifi_mode_},
                 {"ssid", joined_ssid_},
                 {"configured_ssid", sta_ssid_},
                 {"ap", ap_ ? nlohmann::json(ap_->ssid) : nlohmann::json(nullptr)}};
    j["clock_offset_s"] = clock_offset_.count();
    addMqttStatus(j);
    j["guard_ms"] = guard_.count();
    j["cert_guard_ms"] = cert_guard_.count();
}

}  // namespace uplinkd::emulator
