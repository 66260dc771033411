// SPDX-License-Identifier: Apache-2.0
#include "bg9x_driver.hpp"

#include <algorithm>

#include "bg9x_core.hpp"
#include "bg9x_errors.hpp"
#include "bg9x_parsers.hpp"
#include "common/at_steps.hpp"
#include "common/core_mqtt.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using modem_common::commandError;
using modem_common::commandThenUrc;
using modem_common::Fetched;
using modem_common::hostPort;

namespace {

/// The error for an open that ended in "+QIOPEN: <id>,<err>" / "+QSSLOPEN: <id>,<err>".
Error openError(bool tls, int err, const std::string& line, const ModemSocketRequest& req) {
    const std::string to = hostPort(req);
    const std::string seen = " (" + line + ")";
    switch (err) {
        case 565:
            return modem_common::openFailure(modem_common::OpenFailure::Dns, req, line);
        case 569:
            return modem_common::openFailure(modem_common::OpenFailure::Timeout, req, line);
        case 561:
        case 570:
        case 573:
            return makeError("network",
                             "the module has no data connection: " + socketErrorWords(err) + seen);
        case 553:
        case 554:
            return makeError("modem_no_sessions",
                             "the module has no free socket: " + socketErrorWords(err) + seen);
        case 566:
            if (tls) {
                return makeError(
                    "tls_handshake",
                    "the TLS connection to " + to +
                        " failed in the module (refused, or the handshake or the certificate "
                        "check failed): the usual causes are a CA in the module (from "
                        "tls.ca_file) that is not the root CA that signed " +
                        req.host +
                        "'s certificate, a broker that wants a client certificate (tls.cert_file "
                        "and tls.key_file), and a wrong clock in the module; SNI is sent (" +
                        req.host + ")" + seen);
            }
            return modem_common::openFailure(modem_common::OpenFailure::Refused, req, line);
        default:
            return modem_common::openFailure(req, explainLine(line));
    }
}

}  // namespace

// ---- sockets ----------------------------------------------------------------------------------

/// A socket in the module, plain (AT+QISEND / AT+QIRD) or TLS (AT+QSSLSEND / AT+QSSLRECV), both
/// in buffer mode: a "recv" URC says bytes wait; they are read by count. Thread: loop.
class Bg9xSocket final : public modem_common::RetryingSocket<Bg9xCore> {
  public:
    Bg9xSocket(const std::shared_ptr<Bg9xCore>& core, int id, bool tls, std::string description)
        : RetryingSocket(core, id, std::move(description), kSocketLimits.max_send_chunk),
          tls_(tls) {}
    ~Bg9xSocket() override { close(); }

  protected:
    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        const std::string header = tls_ ? "+QSSLRECV:" : "+QIRD:";
        AtDataRead rd;
        rd.kind = AtDataRead::Kind::CountedAfterHeader;
        rd.header = header;
        rd.count = [header](const std::string& line) -> size_t {
            auto n = parseReadHeader(line, header);
            return n ? *n : 0;
        };
        const std::string cmd = tls_ ? qsslrecvCommand(id(), kSocketLimits.max_read_chunk)
                                     : qirdCommand(id(), kSocketLimits.max_read_chunk);
        core->at.commandReadingData(
            cmd, rd, core->timing.receive,
            [alive = token(), cmd, tls = tls_, done = std::move(done)](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    if (r.error().code == "at_error") {
                        done(Fetched{});  // nothing buffered (or the socket is closing)
                        return;
                    }
                    done(Failure{commandError(cmd, r.error(), explainLine)});
                    return;
                }
                // Plain sockets: the module announces new bytes (+QIURC "recv") once everything
                // it held was read, so a read that got fewer bytes than asked for emptied the
                // buffer and the next bytes come with a URC: no AT+QIRD that answers 0 after it.
                // TLS sockets read until the module says 0: whether +QSSLURC "recv" follows the
                // same rule is not documented for the BG96.
                const bool more =
                    tls ? !r->data.empty() : r->data.size() >= kSocketLimits.max_read_chunk;
                done(Fetched{std::move(r->data), more});
            });
    }

    void closeSocket() override {
        if (auto core = leave(&Bg9xCore::sockets, this)) {
            core->closeInModule(id(), tls_ ? qsslcloseCommand(id()) : qicloseCommand(id()));
        }
    }

  private:
    /// AT+QISEND / AT+QSSLSEND with the chunk after the ">" prompt; "SEND FAIL" is a full buffer.
    void trySend(Bg9xCore& core, const std::string& payload,
                 std::function<void(Result<size_t>)> done,
                 std::function<void(const std::string&)> full) override {
        const size_t n = payload.size();
        const std::string cmd = tls_ ? qsslsendCommand(id(), n) : qisendCommand(id(), n);
        AtDataWrite w;
        w.prompt = ">";
        w.payload = payload;
        core.at.commandWithData(
            cmd, w, core.timing.send,
            [alive = token(), cmd, n, done = std::move(done),
             full = std::move(full)](Result<AtResponse> r) {
                if (alive.expired()) {
                    return;
                }
                if (r) {
                    done(n);
                    return;
                }
                if (r.error().code != "at_error" ||
                    r.error().message.find("SEND FAIL") == std::string::npos) {
                    if (r.error().code == "at_error") {
                        done(fail("eof", "the connection is not open any more (" +
                                             r.error().message + ")"));
                    } else {
                        done(Failure{commandError(cmd, r.error(), explainLine)});
                    }
                    return;
                }
                full("SEND FAIL");
            });
    }

    bool tls_;
};

// ---- URCs and resets --------------------------------------------------------------------------

void Bg9xCore::registerUrcs() {
    routeUrcs(
        {"+QIURC:", "+QSSLURC:", "+QIOPEN:", "+QSSLOPEN:", "+QMTOPEN:", "+QMTCONN:", "+QMTPUB:",
         "+QMTSUB:", "+QMTUNS:", "+QMTDISC:", "+QMTCLOSE:", "+QMTSTAT:", "+QMTPING:"});
    routeBoots(kBootIndications);
    at.onUrcWithData(
        "+QMTRECV:",
        [](const std::string& line) -> size_t {
            const auto in = parseQmtrecv(line);
            return in ? in->missing : 0;
        },
        [w = weak_from_this()](const std::string& line, std::string rest) {
            if (auto c = w.lock()) {
                c->mqttMessage(line, std::move(rest));
            }
        });
}

void Bg9xCore::onUrc(const std::string& line) {
    if (line.starts_with("+QMT")) {
        if (mqtt.urcs->offer(line)) {
            return;
        }
        if (line.starts_with("+QMTSTAT:")) {
            const auto r = parseIdResult(line, "+QMTSTAT:");
            if (r && r->id == kMqttClient) {
                mqttLost(makeError("mqtt_lost",
                                   "the module's MQTT connection ended: " + explainLine(line)));
            }
        }
        return;  // late results of an ended session, pings
    }
    if (urcs->offer(line)) {
        return;
    }
    for (const std::string_view prefix : {"+QIURC:", "+QSSLURC:"}) {
        if (!line.starts_with(prefix)) {
            continue;
        }
        const auto u = parseSocketUrc(line, prefix);
        if (!u) {
            return;
        }
        switch (u->kind) {
            case SocketUrc::Kind::Recv:
                if (auto* s = sockets.find(u->id)) {
                    s->dataWaiting();
                }
                break;
            case SocketUrc::Kind::Closed:
                if (auto* s = sockets.find(u->id)) {
                    s->peerClosed();
                }
                break;
            case SocketUrc::Kind::PdpDeact:
                pdp_ready = false;
                sockets.breakAll(makeError("network", explainLine(line)));
                break;
        }
        return;
    }
    // Late results (+QIOPEN, +QSSLOPEN after a timeout) need nothing.
}

void Bg9xCore::onBoot(const std::string& line) {
    // The channel already failed every command in flight; result waits, sockets, the MQTT
    // session and a start under way end now. The supervisor runs start() again.
    const Error e =
        makeError("modem_reset", "the module restarted (" + line + "): its sockets are gone");
    breakAll(e);
    pdp_ready = false;
    ssl_ready = false;
    failResultWaits(line);
    mqttLost(makeError("modem_reset",
                       "the module restarted (" + line + "): its MQTT connection is gone"));
    failStartOnRestart(line);
}

void Bg9xCore::breakAll(const Error& e) {
    sockets.breakAll(e);
}

std::optional<int> Bg9xCore::allocate() {
    for (int i = 0; i < kSockets; ++i) {
        const int id = (next_id + i) % kSockets;
        if (!sockets.owns(id)) {
            next_id = (id + 1) % kSockets;  // round robin: a closed id is not reused at once
            return id;
        }
    }
    return std::nullopt;
}

void Bg9xCore::closeInModule(int id, std::string command) {
    sockets.busy.insert(id);
    at.command(command, timing.command, [w = weak_from_this(), id](Result<AtResponse>) {
        if (auto c = w.lock()) {
            c->sockets.busy.erase(id);
        }
    });
}

// ---- start ------------------------------------------------------------------------------------

void Bg9xCore::start(StatusDone done) {
    pdp_ready = false;
    ssl_ready = false;
    startWith(std::move(done), kInitSteps, &Bg9xCore::startSim);
}

void Bg9xCore::startSim(uint64_t gen) {
    simStage(gen, &Bg9xCore::startApn);
}

void Bg9xCore::startApn(uint64_t gen) {
    // The APN goes in before the registration wait so that the attach can use it.
    stepsStage(gen, {{qicsgpCommand(settings), timing.command}},
               "APN (check apn, apn_user, apn_password_file)", &Bg9xCore::startRegistration);
}

void Bg9xCore::startRegistration(uint64_t gen) {
    std::vector<modem_common::RegistrationPlan::Query> queries;
    for (const auto& q : kRegistrationQueries) {
        queries.push_back({std::string(q[0]), std::string(q[1])});
    }
    registrationStage(gen, std::move(queries), &Bg9xCore::startPdp);
}

void Bg9xCore::startPdp(uint64_t gen) {
    activatePdp(stageDone(gen, "data connection (AT+QIACT; check apn)",
                          settings.mqtt_offload ? &Bg9xCore::startMqttCheck : nullptr));
}

void Bg9xCore::startMqttCheck(uint64_t gen) {
    // A firmware without the MQTT client refuses AT+QMTCFG.
    auto then = stageDone(gen, "", nullptr);
    at.command(mqttConfigSteps(false, 60, true, 30, timing.command).front().command, timing.command,
               [then](Result<AtResponse> r) {
                   if (r) {
                       then(okStatus());
                       return;
                   }
                   if (r.error().code != "at_error") {
                       then(r.failure("MQTT client check"));
                       return;
                   }
                   then(fail("mqtt_unsupported", "this firmware has no MQTT client (AT+QMTCFG: " +
                                                     explainLine(r.error().message) +
                                                     "): use mqtt = \"uplinkd\""));
               });
}

void Bg9xCore::activatePdp(std::function<void(Status)> done) {
    if (pdp_ready) {
        done(okStatus());
        return;
    }
    at.command(
        std::string(kQiactQuery.command), kQiactQuery.timeout,
        [w = weak_from_this(), done](Result<AtResponse> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            const std::string active = "+QIACT: " + std::to_string(kPdpContext) + ",1";
            if (r && std::any_of(r->lines.begin(), r->lines.end(),
                                 [&](const std::string& l) { return l.starts_with(active); })) {
                c->pdp_ready = true;
                done(okStatus());
                return;
            }
            c->at.command(qiactCommand(), c->timing.pdp_activate, [w, done](Result<AtResponse> a) {
                auto c2 = w.lock();
                if (!c2) {
                    return;
                }
                if (!a) {
                    done(modem_common::commandStatus("AT+QIACT", a, c2->explain));
                    return;
                }
                c2->pdp_ready = true;
                done(okStatus());
            });
        });
}

// ---- open -------------------------------------------------------------------------------------

void Bg9xCore::open(const ModemSocketRequest& req, OpenDone done) {
    std::optional<Error> refusal =
        modem_common::socketRequestProblem(req, kSocketLimits.max_host_length, "the module");
    const auto id = refusal ? std::nullopt : allocate();
    if (!refusal && !id) {
        refusal = makeError("modem_no_sessions", "all 12 sockets of the module are in use");
    }
    if (refusal) {
        failLater(std::move(done), *refusal);
        return;
    }
    sockets.busy.insert(*id);
    auto finish = [w = weak_from_this(), id = *id,
                   done = std::move(done)](Result<ByteStreamPtr> r) {
        if (auto c = w.lock()) {
            c->sockets.busy.erase(id);
            done(std::move(r));
        }
    };
    const std::string context = "open " + hostPort(req);
    activatePdp(whenOk(context, finish, [context, id = *id, req, finish](const CorePtr& c) {
        if (!req.tls) {
            c->connectSocket(id, req, finish);
            return;
        }
        c->ensureSsl(c->whenOk(context, finish, [id, req, finish](const CorePtr& c2) {
            c2->connectSocket(id, req, finish);
        }));
    }));
}

void Bg9xCore::connectSocket(int id, const ModemSocketRequest& req, OpenDone done) {
    const bool tls = req.tls;
    const std::string result = tls ? "+QSSLOPEN:" : "+QIOPEN:";
    const AtCommandStep step{
        tls ? qsslopenCommand(id, req.host, req.port) : qiopenCommand(id, req.host, req.port),
        timing.command};
    commandThenUrc(
        loop, at, urcs, step, {result + " " + std::to_string(id) + ","},
        tls ? timing.tls_connect : timing.connect, explain,
        [w = weak_from_this(), id, tls, result, req, done](Result<std::string> r) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            const std::string close = tls ? qsslcloseCommand(id) : qicloseCommand(id);
            if (!r) {
                if (r.error().code == "timeout") {
                    // No result: the socket may still be connecting; free it.
                    c->at.command(close, c->timing.command, [](Result<AtResponse>) {});
                }
                done(r.failure("open " + hostPort(req)));
                return;
            }
            const auto res = parseIdResult(*r, result);
            if (!res || res->err != 0) {
                // The id stays taken in the module until it is closed.
                c->at.command(close, c->timing.command, [](Result<AtResponse>) {});
                done(Failure{openError(tls, res ? res->err : -1, *r, req)});
                return;
            }
            c->sockets.busy.erase(id);
            const std::string what = "bg9x socket " + std::to_string(id) + ": " +
                                     (tls ? "tls " : "tcp ") + hostPort(req) +
                                     (tls ? " (TLS in the module, SNI " + req.host + ")" : "");
            done(ByteStreamPtr(modem_common::makeSocket(c, &Bg9xCore::sockets, id, tls, what)));
        });
}

// ---- Bg9xDriver -------------------------------------------------------------------------------

Bg9xDriver::Bg9xDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                       Bg9xTiming timing)
    : Bg9xDriver(std::make_shared<Bg9xCore>(loop, at, std::move(settings), timing, explainLine)) {}

Bg9xDriver::Bg9xDriver(std::shared_ptr<Bg9xCore> core)
    : DriverFront(core, infoQueries(), kSocketLimits.max_send_chunk),
      mqtt_(std::make_unique<modem_common::CoreMqtt<Bg9xCore>>(core)) {}

Bg9xDriver::~Bg9xDriver() = default;

// ---- plugin entry points ----------------------------------------------------------------------

const ModemMatch& match() {
    static const ModemMatch m{
        {"BG96", "BG95", "BG77", "BG600", "EG91", "EG95", "EC21", "EC25"}, true, true, false};
    return m;
}

Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at,
                              const ModemSettings& settings) {
    return modem_common::createDriver<Bg9xDriver>(loop, at, settings);
}

const PluginDescriptor* descriptor() {
    return modem_common::modemPluginDescriptor<&match, &create>(
        "quectel-bg9x",
        "Quectel BG96/BG95/BG77 and EG9x/EC2x (TCP sockets; TLS in "
        "the module with SNI; the module's MQTT client)");
}

}  // namespace uplinkd::plugins::quectel_bg9x
