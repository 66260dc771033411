// SPDX-License-Identifier: Apache-2.0
#include "model_bg9x.hpp"

#include <chrono>
#include <sstream>

#include "bg9x_codes.hpp"
#include "peer_drop.hpp"

namespace uplinkd::emulator {

namespace {

const char* const kIpAddress = "10.72.8.21";

int64_t hostNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Bg9xModel::Bg9xModel(asio::io_context& io, PtyPort& port, CertStore& certs, TraceLog& log,
                     ModemOptions opts)
    : Modem(io, port, certs, log, std::move(opts), {"Quectel", "BG96"}) {
    const bool bg95 = model_id_.rfind("BG95", 0) == 0;
    revision_ = bg95 ? "BG95M3LAR02A03" : "BG96MAR02A07M1G";
    imei_ = "866425030000001";
    iccid_ = "89860318760000000001";
    access_tech_ = 8;  // LTE Cat-M1, as Quectel reports it in +COPS / +CEREG
    addInfoCommands();
    addPdpCommands();
    addSocketCommands();
    addSslSocketCommands();
    addFileCommands();
    addSslConfigCommand();
    addMqttCommands();
    addMqttConfigCommand();
}

Bg9xModel::~Bg9xModel() {
    closeAll(sockets_);
    for (auto& m : mqtt_) {
        if (m.link) {
            m.link->close();
        }
    }
}

std::vector<std::string> Bg9xModel::bootUrcs() const {
    return {"RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "APP RDY"};
}

std::vector<std::string> Bg9xModel::identify() const {
    return {manufacturer_, model_id_, "Revision: " + revision_};
}

std::string Bg9xModel::cmeText(int code) const {
    if (const char* t = bg9x::errorText(code)) {
        return t;
    }
    return Modem::cmeText(code);
}

void Bg9xModel::onPowerLoss() {
    for (int i = 0; i < kSockets; ++i) {
        resetSocket(i);
    }
    for (int c = 0; c < kMqttClients; ++c) {
        mqttReset(c);
        mqtt_[static_cast<size_t>(c)] = MqttClient{};
    }
    ssl_.fill(SslContext{});
    pdps_.fill(Pdp{});
    ram_files_.clear();
}

void Bg9xModel::dropLinks() {
    for (auto& s : sockets_) {
        dropPeer(s.sock);
    }
    for (auto& m : mqtt_) {
        dropPeer(m.link);
    }
}

int64_t Bg9xModel::moduleTime() const {
    return hostNow() + clock_offset_;
}

std::optional<std::string> Bg9xModel::modelControl(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, arg, extra;
    in >> cmd >> arg >> extra;
    if (cmd == "clock") {
        if (arg == "now" && extra.empty()) {
            clock_offset_ = 0;
        } else if (auto t = parseInt(arg); t && extra.empty()) {
            clock_offset_ = *t - hostNow();
        } else {
            return std::string("error usage: clock now|EPOCH_SECONDS");
        }
        return "ok clock " + bg9x::formatCclk(moduleTime());
    }
    if (cmd == "firmware" && arg == "sni" && (extra == "on" || extra == "off")) {
        sni_supported_ = extra == "on";
        return "ok firmware sni " + extra;
    }
    if (cmd == "fault" && arg == "pdp-deact" && extra.empty()) {
        bool any = false;
        for (int cid = 1; cid <= kPdpContexts; ++cid) {
            if (pdps_[static_cast<size_t>(cid)].active) {
                deactivatePdp(cid, true);
                any = true;
            }
        }
        return std::string(any ? "ok fault pdp-deact" : "error no PDP context is active");
    }
    return std::nullopt;
}

void Bg9xModel::addStatus(nlohmann::json& j) const {
    nlohmann::json list = nlohmann::json::array();
    int open = 0;
    for (int i = 0; i < kSockets; ++i) {
        const Socket& s = sockets_[static_cast<size_t>(i)];
        if (s.state == Socket::State::Initial) {
            continue;
        }
        const bool connected = s.state == Socket::State::Connected;
        open += connected ? 1 : 0;
        list.push_back({{"kind", s.tls ? "ssl" : "tcp"},
                        {"id", i},
                        {"host", s.host},
                        {"port", s.port},
                        {"tls", s.tls},
                        {"state", static_cast<int>(s.state)},
                        {"connected", connected},
                        {"rx_buffered", s.sock ? s.sock->available() : 0},
                        {"bytes_sent", s.sock ? s.sock->bytesSent() : 0},
                        {"bytes_received", s.sock ? s.sock->bytesReceived() : 0}});
    }
    j["open_sockets"] = open;
    j["sockets"] = list;
    j["sessions_used"] = list.size();
    j["sessions_max"] = kSockets;
    nlohmann::json pdp = nlohmann::json::array();
    for (int cid = 1; cid <= kPdpContexts; ++cid) {
        if (pdps_[static_cast<size_t>(cid)].active) {
            pdp.push_back(cid);
        }
    }
    j["pdp_active"] = pdp;
    j["clock"] = bg9x::formatCclk(moduleTime());
    j["clock_offset_s"] = clock_offset_;
    j["sni_supported"] = sni_supported_;
    nlohmann::json ssl = nlohmann::json::array();
    for (const auto& s : ssl_) {
        ssl.push_back({{"sslversion", s.sslversion},
                       {"seclevel", s.seclevel},
                       {"cacert", s.cacert},
                       {"clientcert", s.clientcert},
                       {"clientkey", s.clientkey},
                       {"ignorelocaltime", s.ignorelocaltime},
                       {"sni", s.sni}});
    }
    j["ssl_contexts"] = ssl;
    j["files"] = certs_.namesWithPrefix("UFS:");
    j["mqtt"] = mqttStatus();
}

// ---------------------------------------------------------------------------------------------
// Identity, network information, clock, power

void Bg9xModel::addInfoCommands() {
    auto ok = [](const AtCommand&) { return Final::ok(); };
    for (const char* name : {"+QCFG", "+QURCCFG", "+QIDNSCFG", "+QICFG", "+QINDCFG", "+QSCLK",
                             "+CTZU", "+QMBNCFG", "+CPSMS", "+CEDRXS", "+IFC", "&W", "&D"}) {
        addCommand(name, ok);
    }
    addCommand("+QCCID", [this](const AtCommand& c) {
        if (c.kind == AtKind::Exec) {
            respond("+QCCID: " + iccid_);
        }
        return Final::ok();
    });
    addCommand("+QGMR", [this](const AtCommand&) {
        respond(revision_ + "_01.001.01.001");
        return Final::ok();
    });
    addCommand("+QNWINFO", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return c.kind == AtKind::Test ? Final::ok() : Final::error();
        }
        if (!radioOn() || !registered()) {
            respond("+QNWINFO: No Service");
        } else {
            respond("+QNWINFO: \"CAT-M1\",\"00101\",\"LTE BAND 3\",1575");
        }
        return Final::ok();
    });
    addCommand("+QCSQ", [this](const AtCommand& c) {
        if (c.kind != AtKind::Exec) {
            return c.kind == AtKind::Test ? Final::ok() : Final::error();
        }
        const int r = rssi();
        if (!radioOn() || !registered() || r == 99) {
            respond("+QCSQ: \"NOSERVICE\"");
        } else {
            const int dbm = -113 + 2 * r;
            respond("+QCSQ: \"CAT-M1\"," + std::to_string(dbm) + "," + std::to_string(dbm - 20) +
                    ",120," + std::to_string(-10));
        }
        return Final::ok();
    });
    addCommand("+CCLK", {}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CCLK: \"" + bg9x::formatCclk(moduleTime()) + "\"");
            return Final::ok();
        }
        auto t = c.kind == AtKind::Set && c.quoted(0) ? bg9x::parseCclk(c.str(0)) : std::nullopt;
        if (!t) {
            return Final::error();
        }
        clock_offset_ = *t - hostNow();
        return Final::ok();
    });
    addCommand("+QPOWD", [this](const AtCommand& c) {
        if (c.kind == AtKind::Set && c.str(0) != "0" && c.str(0) != "1") {
            return Final::error();
        }
        urc("POWERED DOWN");
        powerOffSoon();
        return Final::ok();
    });
}

// ---------------------------------------------------------------------------------------------
// PDP contexts: QICSGP, QIACT, QIDEACT

void Bg9xModel::deactivatePdp(int cid, bool by_network) {
    Pdp& p = pdps_[static_cast<size_t>(cid)];
    if (!p.active) {
        return;
    }
    p.active = false;
    log_.note("PDP context " + std::to_string(cid) + " deactivated" +
              (by_network ? " by the network" : ""));
    for (int i = 0; i < kSockets; ++i) {
        Socket& s = sockets_[static_cast<size_t>(i)];
        if (s.state == Socket::State::Initial || s.pdp != cid) {
            continue;
        }
        closeAndReset(s.sock);
        if (by_network && s.state != Socket::State::Opening) {
            s.state = Socket::State::Closing;
            urc(std::string(s.tls ? "+QSSLURC: " : "+QIURC: ") + "\"closed\"," + std::to_string(i));
        } else {
            resetSocket(i);
        }
    }
    for (int c = 0; c < kMqttClients; ++c) {
        MqttClient& m = mqtt_[static_cast<size_t>(c)];
        if (m.pdp == cid && m.state != MqttClient::State::Closed) {
            mqttReset(c);
            if (by_network) {
                urc("+QMTSTAT: " + std::to_string(c) + ",1");
            }
        }
    }
    if (by_network) {
        urc("+QIURC: \"pdpdeact\"," + std::to_string(cid));
    }
}

void Bg9xModel::addPdpCommands() {
    const std::vector<std::string> qicsgp_test = {
        "+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)"};
    addCommand("+QICSGP", qicsgp_test, [this](const AtCommand& c) {
        auto cid = c.intArg(0);
        if (c.kind != AtKind::Set || !cid || *cid < 1 || *cid > kPdpContexts) {
            return Final::error();
        }
        Pdp& p = pdps_[static_cast<size_t>(*cid)];
        if (c.argc() == 1) {
            respond("+QICSGP: " + std::to_string(p.type) + ",\"" + p.apn + "\",\"\",\"\",0");
            return Final::ok();
        }
        auto type = c.intArg(1);
        auto auth = c.has(5) ? c.intArg(5) : std::optional<long>(0);
        if (!type || *type < 1 || *type > 3 || !auth || *auth < 0 || *auth > 3 ||
            (c.has(2) && !c.quoted(2))) {
            return Final::error();
        }
        if (p.active) {
            return Final::cme(bg9x::kNotAllowed);  // configure before activating
        }
        p.type = static_cast<int>(*type);
        p.apn = c.str(2);
        return Final::ok();
    });
    addCommand("+QIACT", {"+QIACT: (1-16)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (int cid = 1; cid <= kPdpContexts; ++cid) {
                const Pdp& p = pdps_[static_cast<size_t>(cid)];
                if (p.active) {
                    respond("+QIACT: " + std::to_string(cid) + ",1," + std::to_string(p.type) +
                            ",\"" + kIpAddress + "\"");
                }
            }
            return Final::ok();
        }
        auto cid = c.intArg(0);
        if (c.kind != AtKind::Set || !cid || *cid < 1 || *cid > kPdpContexts) {
            return Final::error();
        }
        Pdp& p = pdps_[static_cast<size_t>(*cid)];
        if (p.active) {
            return Final::ok();
        }
        if (!radioOn() || !registered()) {
            log_.note("QIACT: not registered");
            return Final::cme(bg9x::kOpenPdpFailed);
        }
        p.active = true;
        log_.note("PDP context " + std::to_string(*cid) + " active");
        return Final::ok();
    });
    addCommand("+QIDEACT", {"+QIDEACT: (1-16)"}, [this](const AtCommand& c) {
        auto cid = c.intArg(0);
        if (c.kind != AtKind::Set || !cid || *cid < 1 || *cid > kPdpContexts) {
            return Final::error();
        }
        deactivatePdp(static_cast<int>(*cid), false);
        return Final::ok();
    });
}

}  // namespace uplinkd::emulator
