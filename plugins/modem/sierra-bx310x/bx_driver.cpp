// SPDX-License-Identifier: Apache-2.0
#include "bx_driver.hpp"

#include <vector>

#include "bx_core.hpp"
#include "bx_errors.hpp"
#include "bx_parsers.hpp"
#include "common/core_mqtt.hpp"
#include "common/generic_at.hpp"
#include "common/pem.hpp"

namespace uplinkd::plugins::sierra_bx310x {

using modem_common::commandError;

namespace {

/// A store entry for `modem info`, with what OpenSSL reads from the listed text.
ModemInfo::StoreEntry storeEntry(const StoredCert& c) {
    ModemInfo::StoreEntry e;
    if (c.kind == StoredCert::Kind::Key) {
        e.slot = "key " + std::to_string(c.index);
        e.kind = "private key";
        e.note = std::string(kKeyNote);
        return e;
    }
    const bool root = c.kind == StoredCert::Kind::Root;
    e.slot = (root ? "root " : "local ") + std::to_string(c.index);
    e.kind = root ? "root CA" : "client certificate";
    std::string pem;
    for (const auto& l : c.lines) {
        pem += l + "\n";
    }
    e.size = static_cast<int64_t>(c.length);
    if (auto f = certFacts(pem, e.slot)) {
        e.subject = f->subject;
        e.not_after = isoTime(f->not_after);
        e.sha256 = f->sha256;  // read back from the module
    } else {
        e.note = std::to_string(c.length) + " bytes; the module does not show the text";
    }
    return e;
}

}  // namespace

// ---- URCs and restarts ------------------------------------------------------------------------

void BxCore::registerUrcs() {
    routeUrcs({"+SRWSTASTATUS:", "+SRWSTAIP:", "+KMQTT_IND:", "+KMQTT_DATA:", "+KMQTTSUB:"});
    routeBoots(kBootIndications);
}

void BxCore::onUrc(const std::string& line) {
    if (line.starts_with("+SRWSTASTATUS:")) {
        const auto st = parseStaStatus(line);
        if (!st) {
            return;
        }
        const bool was = station.associated;
        station.associated = st->associated;
        if (st->associated) {
            station.ssid = st->ssid.empty() ? settings.ssid : st->ssid;
        } else {
            station.has_ip = false;
            station.ip.clear();
            station.last_reason = st->reason;
        }
        if (association_wait) {
            auto wait = std::move(association_wait);
            association_wait = nullptr;
            wait(line);
            return;
        }
        if (was && !st->associated && mqtt.state != Mqtt::State::Idle) {
            mqttLost(makeError("wifi_lost", "the module lost the Wi-Fi network \"" + settings.ssid +
                                                "\": " + stationProblem()));
        }
        return;
    }
    if (line.starts_with("+SRWSTAIP:")) {
        const auto ip = parseStaIp(line);
        if (!ip) {
            return;
        }
        station.has_ip = true;
        station.ip = ip->ip;
        if (address_wait) {
            auto wait = std::move(address_wait);
            address_wait = nullptr;
            wait();
        }
        return;
    }
    mqttUrc(line);
}

void BxCore::onBoot(const std::string& line) {
    // The channel already failed every command in flight. The association, the MQTT session
    // and a start under way end now; the supervisor runs start() again.
    station = {};
    association_wait = nullptr;
    address_wait = nullptr;
    failResultWaits(line);
    if (mqtt.state != Mqtt::State::Idle) {
        mqttLost(makeError("modem_reset", explainLine(line)));
    }
    failStartOnRestart(line);
}

void BxCore::breakAll(const Error& e) {
    // The driver is going: no event of the MQTT session may come after this.
    mqtt.events = {};
    ++mqtt.session;
    mqtt.state = Mqtt::State::Idle;
    mqtt.awaiting_ack.clear();
    mqtt.connect_done = nullptr;
    (void)e;
}

std::string BxCore::stationProblem() const {
    if (station.associated && station.has_ip) {
        return "";
    }
    if (station.associated) {
        return "the module is associated with \"" + settings.ssid + "\" but has no IP address yet";
    }
    if (station.last_reason >= 0) {
        return "the module is not associated with \"" + settings.ssid +
               "\": " + staReasonWords(station.last_reason);
    }
    return "the module is not associated with \"" + settings.ssid + "\"";
}

// ---- start ------------------------------------------------------------------------------------

void BxCore::start(StatusDone done) {
    const uint64_t gen = beginStart(std::move(done));
    association_wait = nullptr;
    address_wait = nullptr;
    station = {};
    if (mqtt.state != Mqtt::State::Idle) {
        mqttLost(makeError("modem_reset",
                           "the module is being started again: its MQTT "
                           "session is gone"));
    }
    stepsStage(gen, modem_common::toCommandSteps(kInitSteps), "",
               settings.mqtt_offload ? &BxCore::startMqttCheck : &BxCore::startStation);
}

void BxCore::startMqttCheck(uint64_t gen) {
    // A session left from before is freed; the answers also tell whether the firmware has the
    // MQTT client: "+CME ERROR: 910" (no such session) or OK when it has, a bare ERROR when not.
    at.command(std::string(kMqttClose.command), kMqttClose.timeout,
               [w = weak_from_this(), gen](Result<AtResponse>) {
                   auto c = w.lock();
                   if (!c || !c->current(gen)) {
                       return;
                   }
                   c->at.command(
                       std::string(kMqttDelete.command), kMqttDelete.timeout,
                       [w, gen](Result<AtResponse> r) {
                           auto c2 = w.lock();
                           if (!c2 || !c2->current(gen)) {
                               return;
                           }
                           if (!r && r.error().code == "at_error" &&
                               !modem_common::parseCmeErrorCode(r.error().message)) {
                               c2->finishStart(
                                   gen, fail("mqtt_unsupported",
                                             "this firmware has no MQTT client (AT+KMQTTDEL "
                                             "answered " +
                                                 modem_common::printable(r.error().message, 40) +
                                                 "): update the module's firmware, or set mqtt "
                                                 "= \"uplinkd\" on the route with a driver that "
                                                 "offers sockets (this one does not)"));
                               return;
                           }
                           if (!r && r.error().code != "at_error") {
                               c2->finishStart(gen, Status(Failure{commandError(
                                                        "AT+KMQTTDEL", r.error(), c2->explain)}));
                               return;
                           }
                           c2->startStation(gen);
                       });
               });
}

void BxCore::startStation(uint64_t gen) {
    stepsStage(gen, {{srwstacfgCommand(settings.ssid, settings.psk), timing.command}},
               "Wi-Fi settings (check ssid and psk_file)", &BxCore::associate);
}

void BxCore::associate(uint64_t gen) {
    auto timer = std::make_shared<asio::steady_timer>(loop, timing.associate);
    association_wait = [w = weak_from_this(), gen, timer](const std::string& line) {
        timer->cancel();
        auto c = w.lock();
        if (!c || !c->current(gen)) {
            return;
        }
        const auto st = parseStaStatus(line);
        if (st && st->associated) {
            c->awaitAddress(gen);
            return;
        }
        c->finishStart(gen, fail("wifi_association",
                                 "Wi-Fi: the module could not join \"" + c->settings.ssid + "\": " +
                                     (st && st->reason >= 0 ? staReasonWords(st->reason)
                                                            : std::string("no reason given")) +
                                     " (" + modem_common::printable(line, 60) + ")"));
    };
    timer->async_wait([w = weak_from_this(), gen](asio::error_code ec) {
        auto c = w.lock();
        if (ec || !c || !c->current(gen) || !c->association_wait) {
            return;
        }
        c->association_wait = nullptr;
        c->finishStart(gen,
                       fail("wifi_association",
                            "Wi-Fi: the module did not join \"" + c->settings.ssid + "\" within " +
                                std::to_string(c->timing.associate.count() / 1000) +
                                " s: check that the network is in range on 2.4 GHz and "
                                "that ssid is right"));
    });
    at.command(
        std::string(kStationConnect.command), kStationConnect.timeout,
        [w = weak_from_this(), gen, timer](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c || !c->current(gen)) {
                return;
            }
            if (!r) {
                timer->cancel();
                c->association_wait = nullptr;
                c->finishStart(
                    gen,
                    Status(Failure{
                        commandError("AT+SRWSTACON", r.error(), c->explain).withContext("Wi-Fi")}));
                return;
            }
            // The status may come among the command's own lines.
            for (const auto& line : r->lines) {
                if (line.starts_with("+SRWSTASTATUS:") || line.starts_with("+SRWSTAIP:")) {
                    c->onUrc(line);
                }
            }
        });
}

void BxCore::awaitAddress(uint64_t gen) {
    if (station.has_ip) {
        finishStart(gen, okStatus());
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(loop, timing.address);
    address_wait = [w = weak_from_this(), gen, timer] {
        timer->cancel();
        if (auto c = w.lock()) {
            c->finishStart(gen, okStatus());
        }
    };
    timer->async_wait([w = weak_from_this(), gen](asio::error_code ec) {
        auto c = w.lock();
        if (ec || !c || !c->current(gen) || !c->address_wait) {
            return;
        }
        c->address_wait = nullptr;
        c->finishStart(gen,
                       fail("wifi_address", "Wi-Fi: the module joined \"" + c->settings.ssid +
                                                "\" but got no IP address within " +
                                                std::to_string(c->timing.address.count() / 1000) +
                                                " s: check the network's DHCP server"));
    });
}

// ---- info -------------------------------------------------------------------------------------

void BxCore::info(std::span<const modem_common::InfoQuery>,
                  std::function<void(Result<ModemInfo>)> done) {
    modem_common::runQueries(
        at, modem_common::toCommandSteps(kInfoSteps),
        [w = weak_from_this(), done = std::move(done)](std::vector<Result<AtResponse>> rs) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            bool any = false;
            for (const auto& r : rs) {
                any = any || r || r.error().code == "at_error";
            }
            if (!any) {
                done(rs.empty() ? Result<ModemInfo>(fail("at_closed", "no answer"))
                                : Result<ModemInfo>(rs.front().failure("modem info")));
                return;
            }
            auto answer = [&](size_t i) -> const AtResponse* {
                return i < rs.size() && rs[i] ? &*rs[i] : nullptr;
            };
            ModemInfo info;
            if (const auto* a = answer(0)) {
                const auto id = modem_common::parseAti(a->lines);
                info.manufacturer = id.manufacturer.empty() ? "Sierra Wireless" : id.manufacturer;
                info.model = id.model;
                info.firmware = id.firmware;
            }
            if (const auto* a = answer(1)) {
                for (const auto& l : a->lines) {
                    const auto t = modem_common::trimLine(l);
                    if (!t.empty()) {
                        info.firmware = std::string(t);
                        break;
                    }
                }
            }
            if (const auto* a = answer(2)) {
                for (const auto& l : a->lines) {
                    if (const auto st = parseStaStatus(l); st && st->rssi_dbm) {
                        info.wifi_rssi_dbm = *st->rssi_dbm;
                    }
                }
            }
            info.ssid = c->settings.ssid;
            info.association =
                c->station.associated
                    ? (c->station.has_ip ? "associated" : "associated, no address")
                    : (c->station.last_reason >= 0
                           ? "not associated (" + staReasonWords(c->station.last_reason) + ")"
                           : "not associated");
            info.ip_address = c->station.ip;
            bool local = false;
            bool key_listed = false;
            if (const auto* a = answer(3)) {
                if (auto stored = parseCertStoreList(a->lines)) {
                    info.store_read = true;
                    for (const auto& s : *stored) {
                        local = local || s.kind == StoredCert::Kind::Local;
                        key_listed = key_listed || s.kind == StoredCert::Kind::Key;
                        auto e = storeEntry(s);
                        // The module lists only a length: name what uplinkd wrote in slot 0.
                        const auto& p = c->provisioned;
                        const std::optional<CertFacts>* wrote =
                            s.kind == StoredCert::Kind::Root    ? &p.root
                            : s.kind == StoredCert::Kind::Local ? &p.client
                                                                : nullptr;
                        if (e.subject.empty() && s.index == 0 && wrote != nullptr && *wrote) {
                            e.subject = (*wrote)->subject;
                            e.not_after = isoTime((*wrote)->not_after);
                            e.note = "as written by uplinkd; the module lists only its length (" +
                                     std::to_string(s.length) + " bytes)";
                        }
                        info.store.push_back(std::move(e));
                    }
                }
            }
            if (!key_listed && (local || (c->provisioned.done && c->provisioned.client))) {
                ModemInfo::StoreEntry key;
                key.slot = "key " + std::to_string(kLocalIndex);
                key.kind = "private key";
                key.note = std::string(kKeyNote);
                if (rs.size() > 4 && !rs[4]) {
                    key.note += " (" + modem_common::printable(rs[4].error().message, 40) + ")";
                }
                info.store.push_back(std::move(key));
            }
            if (const auto* a = answer(5)) {
                for (const auto& l : a->lines) {
                    if (auto t = parseCclk(l)) {
                        info.clock_unix = *t;
                    }
                }
            }
            done(std::move(info));
        });
}

// ---- sockets ----------------------------------------------------------------------------------

void BxCore::open(const ModemSocketRequest& req, std::function<void(Result<ByteStreamPtr>)> done) {
    failLater(std::move(done),
              makeError("unsupported",
                        "open " + modem_common::hostPort(req) +
                            ": the sierra-bx310x driver does not drive the module's sockets; "
                            "use the module's MQTT client (mqtt = \"modem\" on the route)"));
}

// ---- BxDriver ---------------------------------------------------------------------------------

BxDriver::BxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings, BxTiming timing)
    : BxDriver(std::make_shared<BxCore>(loop, at, std::move(settings), timing, explainLine)) {}

BxDriver::BxDriver(const std::shared_ptr<BxCore>& core)
    : DriverFront(core, {}, kMaxQuotedPayload),
      mqtt_(std::make_unique<modem_common::CoreMqtt<BxCore>>(core)) {}

BxDriver::~BxDriver() = default;

// ---- plugin entry points ----------------------------------------------------------------------

Status checkWifiSettings(const ModemSettings& settings) {
    if (settings.ssid.empty() || settings.ssid.size() > 32 ||
        !modem_common::safeForQuotedArgument(settings.ssid)) {
        return fail("config",
                    "ssid: the module needs a network name of 1-32 bytes without '\"' or "
                    "control characters");
    }
    if (!settings.psk.empty() && (settings.psk.size() < 8 || settings.psk.size() > 63 ||
                                  !modem_common::safeForQuotedArgument(settings.psk))) {
        return fail("config",
                    "psk_file: the WPA passphrase must have 8-63 characters without '\"' or "
                    "control characters (its content is not shown)");
    }
    return okStatus();
}

const ModemMatch& match() {
    static const ModemMatch m{{"BX3105", "BX310"}, false, true, true};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    if (auto st = checkWifiSettings(settings); !st) {
        return st.failure();
    }
    return ModemDriverPtr(std::make_unique<BxDriver>(loop, at, settings));
}

const PluginDescriptor* descriptor() {
    return modem_common::modemPluginDescriptor<&match, &create>(
        "sierra-bx310x",
        "Sierra Wireless BX3105/BX310x Wi-Fi (K commands; the "
        "module's MQTT client with TLS in the module)");
}

}  // namespace uplinkd::plugins::sierra_bx310x
