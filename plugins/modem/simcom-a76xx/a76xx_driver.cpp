// SPDX-License-Identifier: Apache-2.0
// The A76xx driver: bring-up (start), URC routing, the network gate (NETOPEN), opening sockets
// (the plain and TLS specifics are in a76xx_tcp.cpp and a76xx_tls.cpp), provisioning the
// certificate store, and the plugin's entry points. Thread: loop.
#include "a76xx_driver.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "a76xx_core.hpp"
#include "a76xx_parsers.hpp"
#include "common/at_steps.hpp"
#include "common/driver_core.hpp"
#include "common/generic_at.hpp"
#include "common/pem.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandError;
using modem_common::commandThenUrc;
using modem_common::Fetched;
using modem_common::hostPort;
using modem_common::toCommandStep;

/// "+NETOPEN: 0", "+CCHSTART: 0": success; another code fails as `code`, in plain words.
Status resultCodeStatus(const Result<int>& result, std::string code, const std::string& line) {
    if (result && *result == 0) {
        return okStatus();
    }
    return fail(std::move(code), explainLine(line));
}

/// A fetch command that failed: an error answer means nothing is buffered after all ("+IP
/// ERROR: No data"); anything else breaks the socket.
Result<Fetched> failedFetch(std::string_view command, const Error& e) {
    if (e.code == "at_error") {
        return Fetched{};
    }
    return Failure{commandError(command, e, explainLine)};
}

// ---- Core -------------------------------------------------------------------------------------

A76xxCore::~A76xxCore() = default;

void A76xxCore::registerUrcs() {
    mqtt = std::make_unique<A76xxMqtt>(A76xxMqtt::Host{
        loop, at, timing, explain, [w = weak_from_this()](std::function<void(Status)> done) {
            if (auto c = w.lock()) {
                c->sslContext(std::move(done));
            }
        }});
    routeUrcs({"+CIPRXGET: 1,", "+IPCLOSE:", "+CIPEVENT:", "+CIPOPEN:", "+CIPSEND:", "+CIPCLOSE:",
               "+NETOPEN:", "+NETCLOSE:", "+CCHEVENT:", "+CCH_PEER_CLOSED:", "+CCH_RECV_CLOSED:",
               "+CCHSEND:", "+CCHOPEN:", "+CCHCLOSE:", "+CCHSTART:", "+CCHSTOP:", "+CCH: ",
               "+CCHRECV: 0,", "+CCHRECV: 1,"});
    routeBoots(kBootIndications);
    at.onUrcWithData(
        "+CCHRECV: DATA,",
        [](const std::string& line) -> size_t {
            const auto d = parseCchRecvData(line);
            return d ? d->length : 0;
        },
        [w = weak_from_this()](const std::string& line, std::string data) {
            if (auto c = w.lock()) {
                c->onCchData(line, std::move(data));
            }
        });
    for (const char* prefix : kMqttUrcPrefixes) {
        at.onUrc(prefix, [w = weak_from_this()](const std::string& line) {
            if (auto c = w.lock()) {
                c->onUrc(line);
            }
        });
    }
    for (const auto prefix : {kMqttRxTopic, kMqttRxPayload}) {
        at.onUrcWithData(
            std::string(prefix),
            [](const std::string& line) -> size_t { return mqttRxBlockLength(line); },
            [w = weak_from_this()](const std::string& line, std::string data) {
                if (auto c = w.lock()) {
                    c->mqtt->onRxData(line, std::move(data));
                }
            });
    }
}

void A76xxCore::onUrc(const std::string& line) {
    if (urcs->offer(line)) {
        return;
    }
    if (onLinkUrc(line) || onSessionUrc(line) || mqtt->onUrc(line)) {
        return;
    }
    // Late results (+CIPOPEN, +NETOPEN, +CCHOPEN, +CIPCLOSE, ...) need nothing.
}

void A76xxCore::onBoot(const std::string& line) {
    // The channel already failed every command in flight; result waits, gates, sockets and a
    // start under way end now. The supervisor runs start() again.
    const Error e =
        makeError("modem_reset", "the module restarted (" + line + "): its sockets are gone");
    breakAll(e);
    const Error reset = makeError("at_reset", "the module restarted (" + line + ")");
    urcs->failAll(reset);
    mqtt->moduleGone(makeError("modem_reset",
                               "the module restarted (" + line + "): its MQTT connection is gone"),
                     true);
    for (Gate* g : {&net, &cch}) {
        auto waiters = std::move(g->waiters);
        *g = Gate{};
        for (auto& wt : waiters) {
            failLater(std::move(wt), reset);
        }
    }
    failStartOnRestart(line);
}

void A76xxCore::breakAll(const Error& e) {
    breakLinks(e);
    breakSessions(e);
}

std::optional<int> A76xxCore::allocate(bool tls) {
    const int count = tls ? kSessions : kLinks;
    int& next = tls ? next_session : next_link;
    const std::set<int>& busy = busyIds(tls);
    for (int i = 0; i < count; ++i) {
        const int id = (next + i) % count;
        const bool used = tls ? sessions.contains(id) : links.contains(id);
        if (!used && !busy.contains(id)) {
            // Round robin: a link that was just closed is not reused at once.
            next = (id + 1) % count;
            return id;
        }
    }
    return std::nullopt;
}

std::function<void(AtChannel::Done)> A76xxCore::promptedWrite(std::string command,
                                                              std::string payload) {
    return [&at = at, command = std::move(command), payload = std::move(payload),
            timeout = timing.send](AtChannel::Done d) {
        AtDataWrite w;
        w.prompt = ">";
        w.payload = payload;
        at.commandWithData(command, w, timeout, std::move(d));
    };
}

void A76xxCore::closeInModule(bool tls, int id, std::string command) {
    busyIds(tls).insert(id);
    at.command(command, timing.command, [w = weak_from_this(), tls, id](Result<AtResponse>) {
        if (auto c = w.lock()) {
            c->busyIds(tls).erase(id);
        }
    });
}

// ---- start ------------------------------------------------------------------------------------

void A76xxCore::start(StatusDone done) {
    const uint64_t gen = beginStart(std::move(done));
    const Error e =
        makeError("modem_reset", "the module is being started again: its sockets are gone");
    breakAll(e);
    mqtt->moduleGone(
        makeError("modem_reset", "the module is being started again: its MQTT connection is gone"),
        false);
    for (Gate* g : {&net, &cch}) {
        auto waiters = std::move(g->waiters);
        *g = Gate{};
        for (auto& wt : waiters) {
            failLater(std::move(wt), e);
        }
    }
    stepsStage(gen, modem_common::toCommandSteps(kInitSteps), "", &A76xxCore::startSim);
}

void A76xxCore::startSim(uint64_t gen) {
    simStage(gen, &A76xxCore::startApn);
}

void A76xxCore::startApn(uint64_t gen) {
    // The APN goes in before the registration wait so that the attach can use it.
    std::vector<AtCommandStep> steps = {{cgdcontCommand(settings), timing.command}};
    if (!settings.apn_user.empty() || !settings.apn_password.empty()) {
        steps.push_back({cgauthCommand(settings), timing.command});
    }
    stepsStage(gen, std::move(steps), "APN (check apn, apn_user, apn_password_file)",
               &A76xxCore::startRegistration);
}

void A76xxCore::startRegistration(uint64_t gen) {
    std::vector<modem_common::RegistrationPlan::Query> queries;
    for (const auto& q : kRegistrationQueries) {
        queries.push_back({std::string(q[0]), std::string(q[1])});
    }
    registrationStage(gen, std::move(queries), &A76xxCore::startManualReceive);
}

void A76xxCore::startManualReceive(uint64_t gen) {
    auto then = stageDone(gen, "", &A76xxCore::startNetwork);
    at.command(
        std::string(kManualReceive.command), kManualReceive.timeout,
        [w = weak_from_this(), gen, then](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c || !c->current(gen)) {
                return;
            }
            if (r || r.error().code != "at_error") {
                then(modem_common::commandStatus(kManualReceive.command, r, c->explain));
                return;
            }
            // Refused while the network is open (a restart of uplinkd, not of the module):
            // close the network, then set manual receive again.
            commandThenUrc(
                c->loop, c->at, c->urcs, toCommandStep(kNetClose), {"+NETCLOSE: "},
                c->timing.net_open, c->explain, [w, then](Result<std::string>) {
                    auto c2 = w.lock();
                    if (!c2) {
                        return;
                    }
                    c2->at.command(
                        std::string(kManualReceive.command), kManualReceive.timeout,
                        [then, explain = c2->explain](Result<AtResponse> a) {
                            then(modem_common::commandStatus(kManualReceive.command, a, explain));
                        });
                });
        });
}

void A76xxCore::startNetwork(uint64_t gen) {
    through(&A76xxCore::net, &A76xxCore::netOpen,
            stageDone(gen, "network", &A76xxCore::startLinks));
}

void A76xxCore::startLinks(uint64_t gen) {
    // Links left open by a hung module (or an earlier run) would hold ids forever.
    reconcileLinks([w = weak_from_this(), gen] {
        auto c = w.lock();
        if (!c || !c->current(gen)) {
            return;
        }
        if (c->settings.mqtt_offload) {
            c->startMqtt(gen);
        } else {
            c->finishStart(gen, okStatus());
        }
    });
}

void A76xxCore::startMqtt(uint64_t gen) {
    // A route has mqtt = "modem": firmware without the client is reported now, in plain words.
    mqtt->checkFirmware(stageDone(gen, "MQTT", nullptr));
}

// ---- gates ------------------------------------------------------------------------------------

void A76xxCore::through(Gate A76xxCore::*gate, void (A76xxCore::*run)(std::function<void(Status)>),
                        std::function<void(Status)> then) {
    Gate& g = this->*gate;
    if (g.ready) {
        then(okStatus());
        return;
    }
    g.waiters.push_back(std::move(then));
    if (g.running) {
        return;
    }
    g.running = true;
    (this->*run)([w = weak_from_this(), gate](Status s) {
        auto c = w.lock();
        if (!c) {
            return;
        }
        Gate& gg = (*c).*gate;
        gg.running = false;
        gg.ready = s.ok();
        auto waiters = std::move(gg.waiters);
        gg.waiters.clear();
        for (auto& wt : waiters) {
            wt(s);
        }
    });
}

void A76xxCore::netOpen(std::function<void(Status)> done) {
    commandThenUrc(loop, at, urcs, toCommandStep(kNetOpen), {"+NETOPEN: "}, timing.net_open,
                   explain, [w = weak_from_this(), done](Result<std::string> r) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       if (r) {
                           done(resultCodeStatus(parseNetOpen(*r), "network", *r));
                           return;
                       }
                       if (r.error().message.find("already opened") != std::string::npos) {
                           done(okStatus());
                           return;
                       }
                       if (r.error().code != "at_error") {
                           done(r.failure());
                           return;
                       }
                       // A bare ERROR is also what an open network answers: ask.
                       commandThenUrc(
                           c->loop, c->at, c->urcs, toCommandStep(kNetOpenQuery), {"+NETOPEN: "},
                           c->timing.command, c->explain,
                           [done, original = r.error()](Result<std::string> q) {
                               if (q && parseNetOpen(*q).ok() && *parseNetOpen(*q) == 1) {
                                   done(okStatus());
                                   return;
                               }
                               done(Failure{original});
                           });
                   });
}

// ---- open -------------------------------------------------------------------------------------

void A76xxCore::open(const ModemSocketRequest& req, OpenDone done) {
    std::optional<Error> refusal =
        modem_common::socketRequestProblem(req, kSocketLimits.max_host_length, "the module");
    const auto id = refusal ? std::nullopt : allocate(req.tls);
    if (!refusal && !id) {
        refusal = makeError("no_socket", req.tls ? "both SSL sessions of the module are in use"
                                                 : "all 10 links of the module are in use");
    }
    if (refusal) {
        failLater(std::move(done), *refusal);
        return;
    }
    busyIds(req.tls).insert(*id);
    auto finish = [w = weak_from_this(), tls = req.tls, id = *id,
                   done = std::move(done)](Result<ByteStreamPtr> r) {
        if (auto c = w.lock()) {
            c->busyIds(tls).erase(id);
            done(std::move(r));
        }
    };
    through(&A76xxCore::net, &A76xxCore::netOpen,
            whenOk("open " + hostPort(req), finish, [id = *id, req, finish](const CorePtr& c) {
                if (req.tls) {
                    c->openTls(id, req, finish);
                } else {
                    c->openTcp(id, req, finish);
                }
            }));
}

void A76xxCore::connect(int id, Opening o, const ModemSocketRequest& req, OpenDone done) {
    const std::string prefix = std::string(o.result) + " " + std::to_string(id) + ",";
    const AtCommandStep open = o.open;
    const auto timeout = o.timeout;
    commandThenUrc(loop, at, urcs, open, {prefix}, timeout, explain,
                   [w = weak_from_this(), id, o = std::move(o), req, done](Result<std::string> r) {
                       auto c = w.lock();
                       if (!c) {
                           return;
                       }
                       if (!r) {
                           if (r.error().code == "timeout") {
                               // No result: the link may still be connecting; free it.
                               c->at.command(o.close, c->timing.command, [](Result<AtResponse>) {});
                           }
                           done(r.failure("open " + hostPort(req)));
                           return;
                       }
                       const auto res = parseIdResult(*r, o.result);
                       if (!res || res->err != 0) {
                           done(Failure{o.error(res ? res->err : -1, *r, req)});
                           return;
                       }
                       c->busyIds(o.tls).erase(id);
                       done(o.make(c));
                   });
}

// ---- provision --------------------------------------------------------------------------------

/// Writes the files one after the other, removes stale client files when none is configured
/// (so that authmode 1 is used), then checks that AT+CCERTLIST shows what was written.
void A76xxCore::provision(const ModemCredentials& creds, StatusDone done) {
    auto files = modem_common::storeFiles(creds.ca_pem, creds.cert_pem, creds.key_pem, kMaxCertFile,
                                          "the module takes at most {max}");
    if (!files) {
        failLater(done, files.error().withContext("provision"));
        return;
    }
    const bool client = files->size() > 1;
    std::vector<modem_common::AtDataStep> steps;
    for (auto& f : *files) {
        std::string command = ccertdownCommand(f.name, f.content.size());
        AtDataWrite w{">", std::move(f.content), ""};
        steps.push_back({std::move(command), std::move(w), timing.cert_store, std::move(f.what)});
    }
    modem_common::runDataSteps(at, std::move(steps), explain, alive(),
                               whenOk("provision", done, [client, done](const CorePtr& c) {
                                   if (client) {
                                       c->verifyCerts(true, done);
                                   } else {
                                       c->removeStaleCerts(done);
                                   }
                               }));
}

void A76xxCore::removeStaleCerts(StatusDone done) {
    // Deleting a file that is not there gives ERROR: fine.
    at.command(ccertdeleCommand(kCertFile), timing.command,
               withCore([done](const CorePtr& c, Result<AtResponse>) {
                   c->at.command(ccertdeleCommand(kKeyFile), c->timing.command,
                                 c->withCore([done](const CorePtr& c2, Result<AtResponse>) {
                                     c2->verifyCerts(false, done);
                                 }));
               }));
}

void A76xxCore::verifyCerts(bool client, StatusDone done) {
    listCerts(whenOk("provision: listing the store", done, [client, done](const CorePtr& c) {
        const auto& have = *c->certs;
        if (!have.ca || (client && (!have.cert || !have.key))) {
            done(fail("provision_mismatch",
                      "provision: AT+CCERTLIST does not list the files just written"));
            return;
        }
        done(okStatus());
    }));
}

// ---- A76xxDriver ------------------------------------------------------------------------------

A76xxDriver::A76xxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                         A76xxTiming timing)
    : A76xxDriver(std::make_shared<A76xxCore>(loop, at, std::move(settings), timing, explainLine)) {
}

A76xxDriver::A76xxDriver(const std::shared_ptr<A76xxCore>& core)
    : DriverFront(core, kInfoQueries, kSocketLimits.max_send_chunk), mqtt_(core->mqtt.get()) {}

A76xxDriver::~A76xxDriver() = default;

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{.model_patterns = {"A7670", "A7672", "SIM7600"},
                              .supports_tls_offload = true,
                              .supports_mqtt_offload = true,
                              .wifi = false};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    return modem_common::createDriver<A76xxDriver>(loop, at, settings);
}

const PluginDescriptor* descriptor() {
    return modem_common::modemPluginDescriptor<&match, &create>(
        "simcom-a76xx",
        "SIMCom A7670/A7672 (A76xx) and SIM7600 (TCP sockets; TLS "
        "in the module with SNI; the module's MQTT client)");
}

}  // namespace uplinkd::plugins::simcom_a76xx
