// SPDX-License-Identifier: Apache-2.0
// Modem's 27.007 / V.250 command handlers (echo, CMEE, identity, registration, CFUN, PDP).
#include "modem.hpp"

namespace uplinkd::emulator {

void Modem::searchNetwork() {
    uint64_t seq = ++search_seq_;
    if (!sim_present_) {
        // Without a SIM the module does not even search (27.007 stat 0).
        reg_stat_ = 0;
        reportRegistration();
        return;
    }
    reg_stat_ = 2;
    reportRegistration();
    after(opts_.register_time, [this, seq] {
        if (seq == search_seq_ && cfun_ == 1) {
            reg_stat_ = forced_reg_;
            log_.note("registration: stat " + std::to_string(reg_stat_));
            reportRegistration();
        }
    });
}

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
    onRegistrationChanged();
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
    addCommand("+CCID", {}, [this](const AtCommand&) {
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
        if (!sim_present_) {
            return Final::cme(10);  // SIM not inserted
        }
        if (c.kind == AtKind::Read) {
            respond("+CPIN: READY");
        }
        return Final::ok();
    });
    addCommand("+CSQ", {"+CSQ: (0-31,99),(0-7,99)"}, [this](const AtCommand&) {
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
    addCommand("+CFUN", {"+CFUN: (0,1,4),(0-1)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            respond("+CFUN: " + std::to_string(cfun_));
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
            searchNetwork();
        } else {
            ++search_seq_;
            reg_stat_ = 0;
            reportRegistration();
        }
        return Final::ok();
    });
    addCommand("+CGDCONT", {"+CGDCONT: (1-15),\"IP\",,,(0-2),(0-4)"}, [this](const AtCommand& c) {
        if (c.kind == AtKind::Read) {
            for (const auto& [cid, ctx] : pdp_) {
                respond("+CGDCONT: " + std::to_string(cid) + ",\"" + ctx.first + "\",\"" +
                        ctx.second + "\",\"0.0.0.0\",0,0");
            }
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
