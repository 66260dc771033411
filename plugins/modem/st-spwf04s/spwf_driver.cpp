// SPDX-License-Identifier: Apache-2.0
#include "spwf_driver.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "common/generic_at.hpp"
#include "spwf_core.hpp"
#include "spwf_mqtt.hpp"
#include "spwf_parsers.hpp"

namespace uplinkd::plugins::st_spwf04s {

using modem_common::commandError;
using modem_common::Fetched;
using modem_common::hostPort;
using modem_common::InfoQuery;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// True when `text` can go into an unquoted AT+S. argument: no ',' (the separator) and no
/// control characters.
bool safeArgument(std::string_view text) {
    return text.find(',') == std::string_view::npos && modem_common::safeForQuotedArgument(text);
}

/// The error for an AT+S.SOCKON that failed.
Error connectError(const Error& channel_error, const ModemSocketRequest& req) {
    const std::string to = hostPort(req);
    const auto e = parseModuleError(channel_error.message);
    if (channel_error.code != "at_error" || !e) {
        return commandError("AT+S.SOCKON", channel_error, explainLine).withContext("open " + to);
    }
    const std::string seen = " (" + channel_error.message + ")";
    const std::string text = lower(e->text);
    if (e->code == 44) {
        return makeError("network", "open " + to + ": " + errorCodeWords(44) + seen);
    }
    if (e->code == 74) {
        return makeError("timeout", "open " + to + ": " + errorCodeWords(74) + seen);
    }
    if (req.tls &&
        (text.find("cert") != std::string::npos || text.find("tls") != std::string::npos ||
         text.find("ssl") != std::string::npos || text.find("handshake") != std::string::npos)) {
        return makeError("tls_untrusted",
                         "open " + to +
                             ": the TLS handshake failed in the module: the module's "
                             "credential store must hold the root CA of " +
                             req.host +
                             "'s chain (tls.ca_file, provisioned to the module), and the "
                             "certificate must be issued for " +
                             req.host + seen);
    }
    if (text.find("dns") != std::string::npos || text.find("resolv") != std::string::npos) {
        return makeError(
            "dns", "open " + to + ": the module could not resolve \"" + req.host + "\"" + seen);
    }
    return makeError("connect", "open " + to + ": " + explainLine(channel_error.message));
}

/// The data phase of AT+S.SOCKR: "AT-S.Reading:<n>:<cum>" then exactly n raw bytes.
AtDataRead readingPhase() {
    AtDataRead rd;
    rd.kind = AtDataRead::Kind::CountedAfterHeader;
    rd.header = "AT-S.Reading:";
    rd.count = readingCount;
    return rd;
}

// ---- info ---------------------------------------------------------------------------------------

/// AT-S.Var lines of AT+S.GCFG: the names the driver knows fill ModemInfo.
void applyVars(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        const auto var = parseVar(line);
        if (!var || var->second.empty()) {
            continue;
        }
        const std::string name = lower(var->first);
        const std::string& value = var->second;
        if (name == "ip_ipaddr") {
            info.ip_address = value;
        } else if (name == "wifi_ssid" || name == "ssid") {
            info.ssid = value;
        } else if (name == "wifi_rssi" || name == "rssi") {
            if (auto v = modem_common::parseInt(value, -127, 0)) {
                info.wifi_rssi_dbm = static_cast<int>(*v);
            }
        } else if (name == "nv_model" || name == "model") {
            info.model = value;
        } else if (name == "nv_manuf" || name == "manufacturer") {
            info.manufacturer = value;
        } else if (name.find("version") != std::string::npos || name == "firmware") {
            if (info.firmware.empty()) {
                info.firmware = value;
            }
        } else if (name == "wifi_state" && info.association.empty()) {
            info.association = "state " + value;
        }
    }
}

/// AT+S.TLSCERT=content,1: one entry per credential the listing names.
void applyStore(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    info.store_read = true;
    for (const auto& c : parseStoreListing(answer->lines)) {
        ModemInfo::StoreEntry e;
        e.slot = c.type;
        e.kind = c.type == "ca"     ? "root CA"
                 : c.type == "cert" ? "client certificate"
                                    : "private key";
        e.note = "module: " + modem_common::printable(c.line);
        info.store.push_back(std::move(e));
    }
}

constexpr InfoQuery kInfoQueries[] = {
    {"AT+S.GCFG", 5s, &applyVars},
    {"AT+S.GCFG=ip_ipaddr", 2s, &applyVars},
    {kTlsListStore, 5s, &applyStore},
};

}  // namespace

/// A socket inside the module: AT+S.SOCKW chunks out, AT+S.SOCKR (by count) when the module
/// reports pending data, AT+S.SOCKQ first only when a count crossed a read. Thread: loop.
class SpwfSocket final : public modem_common::CoreSocket<SpwfCore> {
  public:
    using CoreSocket::CoreSocket;
    ~SpwfSocket() override { close(); }

    /// "+WIND:58:Socket Closed:<id>:<reason>": bytes the module still holds are read first.
    void onClosed() { peerClosed(); }
    /// "+WIND:55:Pending Data:<id>:<burst>:<cumulated>": `burst` more bytes arrived (nothing:
    /// an unknown count, asked for with AT+S.SOCKQ before the next read).
    void onPending(std::optional<size_t> burst) {
        queried_ = false;
        if (fetching_ || !burst) {
            uncertain_ = true;  // the count may cross a read under way: ask before the next
        } else {
            held_ += *burst;
        }
        dataWaiting();
    }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        AtDataWrite w;
        w.immediate = true;
        sendData(sockwCommand(id(), chunk.size()), chunk, std::move(w), std::move(done));
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        if (!uncertain_ && held_ > 0) {
            // The pending-data events counted every byte since the last read: read them, with
            // no AT+S.SOCKQ first.
            read(held_, std::move(done));
            return;
        }
        // The exact count first: a counted read never asks for more than the module holds.
        fetching_ = true;
        core->at.command(
            sockqCommand(id()), core->timing.command,
            [alive = token(), this, done = std::move(done)](Result<AtResponse> r) mutable {
                if (alive.expired()) {
                    return;
                }
                fetching_ = false;
                if (!r) {
                    if (peerHasClosed() && r.error().code == "at_error") {
                        done(Fetched{});  // the module freed the closed socket: nothing left
                        return;
                    }
                    done(Failure{commandError("AT+S.SOCKQ", r.error(), explainLine)});
                    return;
                }
                auto held = parseSockQuery(r->lines);
                if (!held) {
                    done(held.failure());
                    return;
                }
                uncertain_ = false;
                queried_ = true;
                held_ = *held;
                read(*held, std::move(done));
            });
    }

    void closeSocket() override {
        if (auto core = leave(&SpwfCore::sockets, this)) {
            core->closeSocket(id());
        }
    }

  private:
    /// AT+S.SOCKR for `held` bytes (at most one chunk): "AT-S.Reading:<n>:<cum>" then exactly n
    /// raw bytes, read by count whatever they hold. When `held` is the exact count of what the
    /// module holds (the pending-data events or AT-S.Query told it) and fits one chunk, the length
    /// is left out: the module gives all it holds, which is those bytes (or more, when more came
    /// in meanwhile: the answer's count says how many). A module that refuses the short form,
    /// or answers it with no bytes, gets the length from then on.
    void read(size_t held, std::function<void(Result<Fetched>)> done) {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        const size_t want = std::min(held, kSocketLimits.max_read_chunk);
        const bool whole = want > 0 && want == held && !uncertain_ && !core->sockr_needs_length;
        const bool queried = queried_;  // the count is the module's answer, not the events'
        queried_ = false;
        fetching_ = true;
        readHeld(
            held, kSocketLimits.max_read_chunk,
            [this, whole](size_t n) {
                return whole ? sockrAllCommand(id()) : sockrCommand(id(), n);
            },
            readingPhase(),
            [this, want](size_t got) {
                fetching_ = false;
                if (got != want) {
                    // Less: the module held less than counted. More (a read without the length):
                    // the event for the extra bytes may still come. Either way: ask next time.
                    uncertain_ = true;
                }
                held_ = held_ > got ? held_ - got : 0;
                return held_ > 0 || uncertain_;
            },
            [this, whole, queried, w = std::weak_ptr<SpwfCore>(core),
             done = std::move(done)](Result<Fetched> r) mutable {
                auto c = w.lock();
                const bool refused = !r && r.error().code == "at_error";
                // Nothing although AT-S.Query had just said how many: the short form was read as
                // a length of 0. (Nothing after events only: an event may have counted bytes a
                // read without the length had already taken; the count is asked next.)
                const bool nothing = r && r->bytes.empty() && queried;
                if (whole && c && (refused || nothing)) {
                    // The module wants the length: nothing was taken; the count again with
                    // AT+S.SOCKQ (an event may have come meanwhile), then the read with it.
                    c->sockr_needs_length = true;
                    uncertain_ = true;
                    fetch(std::move(done));
                    return;
                }
                done(std::move(r));
            });
    }

    size_t held_ = 0;         ///< bytes the module holds, as the pending-data events counted
    bool uncertain_ = false;  ///< a count arrived during a read: ask before the next one
    bool queried_ = false;    ///< held_ is AT-S.Query's answer, no event since
    bool fetching_ = false;
};

// ---- events -------------------------------------------------------------------------------------

void SpwfCore::registerUrcs() {
    at.addFinalResult(AtFinalForm{std::string(kFinalOk), false, true});
    at.addFinalResult(AtFinalForm{std::string(kFinalError), true, false});
    routeBoots(kBootPrefixes);
    at.onUrc(std::string(kWindPrefix), [w = weak_from_this()](const std::string& line) {
        if (auto c = w.lock()) {
            c->onWind(line);
        }
    });
    at.onUrcWithData(std::string(kMqttDataPrefix), mqttMessageCount,
                     [w = weak_from_this()](const std::string& line, std::string data) {
                         auto c = w.lock();
                         if (c && c->on_mqtt_message) {
                             c->on_mqtt_message(line, std::move(data));
                         }
                     });
}

void SpwfCore::onWind(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    const auto w = parseWind(line);
    if (!w) {
        return;
    }
    switch (w->code) {
        case kWindWifiUp:
            wifi_up = true;
            wifi_lost.clear();
            if (!w->params.empty()) {
                wifi_ip = w->params.back();
            }
            return;
        case kWindNetworkLost: {
            wifi_up = false;
            wifi_lost = line;
            const Error e = makeError("network_lost", explainLine(line));
            breakAll(e);
            if (on_module_reset) {
                on_module_reset(e);
            }
            return;
        }
        case kWindHwFailure:
        case kWindHardFault: {
            const Error e = makeError("modem_fault", explainLine(line));
            breakAll(e);
            if (on_module_reset) {
                on_module_reset(e);
            }
            return;
        }
        case kWindPendingData: {
            const auto d = parsePendingData(line);
            if (!d) {
                return;
            }
            if (auto* s = sockets.find(d->socket)) {
                s->onPending(d->bytes);
            } else {
                sockets.early_data[d->socket] = d->cumulated;
            }
            return;
        }
        case kWindSocketClosed: {
            const auto c = parseSocketClosed(line);
            if (!c) {
                return;
            }
            sockets.early_data.erase(c->socket);
            if (auto* s = sockets.find(c->socket)) {
                s->onClosed();
            }
            return;
        }
        case kWindMqttClosed:
            if (on_mqtt_closed) {
                on_mqtt_closed(line);
            }
            return;
        default:
            return;  // informational
    }
}

void SpwfCore::onBoot(const std::string& line) {
    // The channel already failed every command in flight; result waits, sockets, the MQTT
    // session and a start under way end now. The supervisor runs start() again.
    wifi_up = false;
    const Error e = restartError(line);
    breakAll(e);
    failResultWaits(line);
    if (on_module_reset) {
        on_module_reset(e);
    }
    failStartOnRestart(line);
}

void SpwfCore::breakAll(const Error& e) {
    sockets.breakAll(e);
}

// ---- start --------------------------------------------------------------------------------------

void SpwfCore::start(StatusDone done) {
    startWith(std::move(done), kInitSteps, &SpwfCore::startStation);
}

void SpwfCore::startStation(uint64_t gen) {
    std::vector<modem_common::AtCommandStep> steps{modem_common::toCommandStep(kStationMode)};
    steps.push_back({privModeCommand(settings.psk.empty()), timing.command});
    if (!settings.psk.empty()) {
        steps.push_back({pskCommand(settings.psk), timing.command});
    }
    steps.push_back({ssidCommand(settings.ssid), timing.command});
    stepsStage(gen, std::move(steps), "Wi-Fi settings (check ssid and psk_file)",
               &SpwfCore::startWifi);
}

void SpwfCore::startWifi(uint64_t gen) {
    stepsStage(gen, {modem_common::toCommandStep(kWifiOff)}, "", &SpwfCore::waitWifiUp);
}

void SpwfCore::waitWifiUp(uint64_t gen) {
    wifi_up = false;
    wifi_lost.clear();
    // WiFi Up, or the module's own word that the join failed (deauthentication, no AP found).
    modem_common::commandThenUrc(
        loop, at, urcs, modem_common::toCommandStep(kWifiOn),
        {"+WIND:24:", "+WIND:40:", "+WIND:41:"}, timing.wifi_up, explain,
        [w = weak_from_this(), gen](Result<std::string> r) {
            auto c = w.lock();
            if (!c || !c->current(gen)) {
                return;
            }
            if (r && r->starts_with("+WIND:24:")) {
                c->onWind(*r);  // state: up, with its address
                c->finishStart(gen, okStatus());
                return;
            }
            if (r) {
                c->finishStart(gen,
                               fail("wifi_join", "the module did not join the Wi-Fi network \"" +
                                                     c->settings.ssid + "\": " + explainLine(*r)));
                return;
            }
            if (r.error().code != "timeout") {
                c->finishStart(gen, r.failure("Wi-Fi"));
                return;
            }
            std::string why = "the module did not join the Wi-Fi network \"" + c->settings.ssid +
                              "\" within " + std::to_string(c->timing.wifi_up.count() / 1000) +
                              " s: check ssid and psk_file (the WPA2 passphrase), that the "
                              "access point uses WPA2-Personal (or is open when psk_file is "
                              "unset) and that it is in range";
            if (!c->wifi_lost.empty()) {
                why += " (the module reported: " + explainLine(c->wifi_lost) + ")";
            }
            c->finishStart(gen, fail("wifi_join", why));
        });
}

// ---- info ---------------------------------------------------------------------------------------

void SpwfCore::info(std::span<const InfoQuery> queries,
                    std::function<void(Result<ModemInfo>)> done) {
    modem_common::runInfo(
        at, queries, [w = weak_from_this(), done = std::move(done)](Result<ModemInfo> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            if (r) {
                if (r->association.empty() || r->association.starts_with("state ")) {
                    const std::string state = r->association;
                    r->association = c->wifi_up ? "associated" : "not associated";
                    if (!c->wifi_up && !c->wifi_lost.empty()) {
                        r->association += " (network lost)";
                    }
                    if (!state.empty()) {
                        r->association += " (module " + state + ")";
                    }
                }
                if (r->ip_address.empty() || r->ip_address == "0.0.0.0") {
                    r->ip_address = c->wifi_ip;
                }
                if (r->ssid.empty()) {
                    r->ssid = c->settings.ssid;
                }
                if (r->manufacturer.empty()) {
                    r->manufacturer = "STMicroelectronics";
                }
            }
            done(std::move(r));
        });
}

// ---- open ---------------------------------------------------------------------------------------

void SpwfCore::open(const ModemSocketRequest& req, OpenDone done) {
    if (auto refusal =
            modem_common::socketRequestProblem(req, kSocketLimits.max_host_length, "the SPWF04S")) {
        failLater(std::move(done), *refusal);
        return;
    }
    if (!safeArgument(req.host)) {
        failLater(std::move(done),
                  makeError("bad_host", "the host name \"" + req.host.substr(0, 64) +
                                            "\" cannot be given to the module"));
        return;
    }
    at.command(sockonCommand(req.host, req.port, req.tls), timing.connect,
               [w = weak_from_this(), req, done = std::move(done)](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(Failure{connectError(r.error(), req)});
                       return;
                   }
                   auto id = parseSockOn(r->lines);
                   if (!id) {
                       done(id.failure("open " + hostPort(req)));
                       return;
                   }
                   auto s = modem_common::makeSocket(
                       c, &SpwfCore::sockets, *id,
                       modem_common::moduleSocketDescription("spwf04s socket", *id, req),
                       kSocketLimits.max_send_chunk);
                   if (c->sockets.early_data.erase(*id) > 0) {
                       s->onPending(std::nullopt);
                   }
                   done(ByteStreamPtr(std::move(s)));
               });
}

void SpwfCore::closeSocket(int id) {
    // Fire and forget. "AT-S.ERROR:77:Pending data": the bytes still held are read (and
    // dropped), then the close is sent again.
    at.command(sockcCommand(id), timing.command, [w = weak_from_this(), id](Result<AtResponse> r) {
        auto c = w.lock();
        if (!c || r || r.error().code != "at_error") {
            return;
        }
        const auto e = parseModuleError(r.error().message);
        if (!e || e->code != 77) {
            return;
        }
        c->at.command(sockqCommand(id), c->timing.command, [w, id](Result<AtResponse> q) {
            auto c2 = w.lock();
            if (!c2) {
                return;
            }
            const auto held = q ? parseSockQuery(q->lines) : Result<size_t>(size_t{0});
            if (held && *held > 0) {
                c2->at.commandReadingData(sockrCommand(id, *held), readingPhase(),
                                          c2->timing.receive, [](Result<AtResponse>) {});
            }
            c2->at.command(sockcCommand(id), c2->timing.command, [](Result<AtResponse>) {});
        });
    });
}

// ---- SpwfDriver ---------------------------------------------------------------------------------

SpwfDriver::SpwfDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                       SpwfTiming timing)
    : SpwfDriver(std::make_shared<SpwfCore>(loop, at, std::move(settings), timing, explainLine)) {}

SpwfDriver::SpwfDriver(std::shared_ptr<SpwfCore> core)
    : DriverFront(core, kInfoQueries, kSocketLimits.max_send_chunk),
      mqtt_(std::make_unique<SpwfMqtt>(core)) {}

SpwfDriver::~SpwfDriver() = default;

ModemMqtt* SpwfDriver::mqtt() {
    return mqtt_.get();
}

// ---- plugin entry points ------------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{{"SPWF04"}, true, true, true};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    if (settings.ssid.empty() || settings.ssid.size() > 32 ||
        !modem_common::safeForQuotedArgument(settings.ssid)) {
        return fail("config",
                    "ssid: the module needs an SSID of 1 to 32 characters without '\"' "
                    "or control characters");
    }
    if (!settings.psk.empty() &&
        (settings.psk.size() < 8 || settings.psk.size() > 63 || !safeArgument(settings.psk))) {
        // The passphrase itself is never shown.
        return fail("config",
                    "psk_file: the module takes a WPA2 passphrase of 8 to 63 printable "
                    "characters without ','");
    }
    return modem_common::createDriver<SpwfDriver>(loop, at, settings);
}

const PluginDescriptor* descriptor() {
    return modem_common::modemPluginDescriptor<&match, &create>(
        "st-spwf04s",
        "ST SPWF04SA/SPWF04SC Wi-Fi (AT+S. commands; TCP and TLS "
        "sockets and MQTT in the module)");
}

}  // namespace uplinkd::plugins::st_spwf04s
