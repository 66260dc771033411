// SPDX-License-Identifier: Apache-2.0
// The A76xx driver's TLS side: the SSL service (AT+CCHSET, AT+CCHSTART), the SSL context every
// TLS connection of the module uses (AT+CSSLCFG with SNI on), the certificate list, and
// TlsSocket (AT+CCHOPEN, AT+CCHSEND, AT+CCHRECV with counted data URCs). Thread: loop.
#include <algorithm>
#include <optional>
#include <utility>

#include "a76xx_core.hpp"

namespace uplinkd::plugins::simcom_a76xx {

using modem_common::commandThenUrc;
using modem_common::driverGone;
using modem_common::Fetched;
using modem_common::hostPort;
using modem_common::toCommandStep;

namespace {

using modem_common::OpenFailure;

/// What the <err> of a "+CCHOPEN: <s>,<err>" that ends an open means.
constexpr modem_common::OpenFailureRow kTlsOpenFailures[] = {
    {15,
     {},
     "tls_handshake",
     "the TLS handshake with {to} failed in the module: the usual causes are a broker that needs "
     "SNI (the module sends {host} as SNI only when \"enableSNI\" is set, which uplinkd does) and "
     "a CA in the module (from tls.ca_file) that is not the root CA that signed {host}'s "
     "certificate; a broker that wants a client certificate (tls.cert_file and tls.key_file, "
     "provisioned) is another"},
    {19,
     {},
     "tls_certificates",
     "the module's SSL context names certificate files that are not in its store: provision "
     "tls.ca_file (and tls.cert_file/key_file)"},
    {13, OpenFailure::Dns},
    {14, OpenFailure::Refused},
    {5, {}, "timeout", "the TLS connection to {to} timed out"},
    {9,
     {},
     "network",
     "the module has no data connection (not registered, or the network is not open)"},
    {17,
     {},
     "network",
     "the module has no data connection (not registered, or the network is not open)"},
};

/// The error for a CCHOPEN that ended in "+CCHOPEN: <s>,<err>".
Error tlsOpenError(int err, const std::string& line, const ModemSocketRequest& req) {
    return modem_common::openFailure(kTlsOpenFailures, err, req, line, explainLine);
}

/// A TLS session's failed send or read ("+CCHSEND: <s>,<err>", "+CCHRECV: <s>,<err>"): 4 is the
/// peer's close.
Error sessionError(int err, const std::string& line) {
    return makeError(err == 4 ? "eof" : "socket_error", explainLine(line));
}

}  // namespace

/// A TLS session in the module: AT+CCHSEND out; on "+CCHEVENT: <s>,RECV EVENT" AT+CCHRECV? then
/// AT+CCHRECV=<s>,<n>, whose bytes arrive as "+CCHRECV: DATA,<s>,<len>" URCs. Thread: loop.
class TlsSocket final : public modem_common::CoreSocket<A76xxCore> {
  public:
    using CoreSocket::CoreSocket;
    ~TlsSocket() override { close(); }

    /// "+CCHRECV: DATA,<s>,<len>" and its bytes.
    void onData(std::string bytes) {
        received_ += bytes.size();
        pushData(bytes);
    }

  protected:
    void sendChunk(std::span<const uint8_t> chunk,
                   std::function<void(Result<size_t>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        const size_t n = chunk.size();
        const std::string cmd = cchsendCommand(id(), n);
        commandThenUrc(
            core->loop, core->urcs,
            core->promptedWrite(cmd, std::string(reinterpret_cast<const char*>(chunk.data()), n)),
            cmd, {"+CCHSEND: " + std::to_string(id()) + ","}, core->timing.send_result, explainLine,
            [alive = token(), n, done = std::move(done)](Result<std::string> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(r.failure());
                    return;
                }
                const auto s = parseIdResult(*r, "+CCHSEND:");
                if (!s) {
                    done(s.failure());
                    return;
                }
                if (s->err != 0) {
                    done(Failure{sessionError(s->err, *r)});
                    return;
                }
                done(n);
            });
    }

    void fetch(std::function<void(Result<Fetched>)> done) override {
        auto core = attachedOr(done);
        if (!core) {
            return;
        }
        // Ask how much is cached first: asking for more than that can hang the module.
        core->at.command(
            std::string(kCchRecvQuery.command), kCchRecvQuery.timeout,
            [alive = token(), this, done = std::move(done)](Result<AtResponse> r) mutable {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(failedFetch(kCchRecvQuery.command, r.error()));
                    return;
                }
                std::optional<std::pair<size_t, size_t>> len;
                for (const auto& line : r->lines) {
                    if (auto l = parseCchRecvLen(line)) {
                        len = *l;
                    }
                }
                if (!len) {
                    done(fail("bad_reply", "AT+CCHRECV?: no +CCHRECV: LEN line"));
                    return;
                }
                const size_t cached = id() == 0 ? len->first : len->second;
                if (cached == 0) {
                    done(Fetched{});
                    return;
                }
                receiveCached(std::min(cached, kSocketLimits.max_read_chunk), std::move(done));
            });
    }

    void closeSocket() override {
        if (auto core = leave(&A76xxCore::sessions, this)) {
            core->closeInModule(true, id(), cchcloseCommand(id()));
        }
    }

  private:
    void receiveCached(size_t n, std::function<void(Result<Fetched>)> done) {
        auto core = lockCore();
        if (!core) {
            done(Failure{driverGone()});
            return;
        }
        received_ = 0;
        commandThenUrc(
            core->loop, core->at, core->urcs, {cchrecvCommand(id(), n), core->timing.command},
            {"+CCHRECV: " + std::to_string(id()) + ","}, core->timing.receive, explainLine,
            [alive = token(), this, done = std::move(done)](Result<std::string> r) {
                if (alive.expired()) {
                    return;
                }
                if (!r) {
                    done(r.failure());
                    return;
                }
                const auto end = parseIdResult(*r, "+CCHRECV:");
                if (end && end->err != 0 && received_ == 0) {
                    done(Failure{sessionError(end->err, *r)});
                    return;
                }
                // The bytes came as URCs already. More may have arrived meanwhile without a
                // new event (the cache never went empty): look again while bytes come.
                done(Fetched{{}, received_ > 0});
            });
    }

    size_t received_ = 0;
};

// ---- the core's TLS side ----------------------------------------------------------------------

void A76xxCore::openTls(int session, const ModemSocketRequest& req, OpenDone done) {
    auto fail_with = [done, req](const Status& s) { done(s.failure("open " + hostPort(req))); };
    auto connect = withCore([session, req, done](const CorePtr& c) {
        const std::string what = "a76xx ssl session " + std::to_string(session) + ": tls " +
                                 hostPort(req) + " (TLS in the module, SNI " + req.host + ")";
        c->connect(session,
                   Opening{.tls = true,
                           .open = {cchopenCommand(session, req.host, req.port), c->timing.command},
                           .result = "+CCHOPEN:",
                           .timeout = c->timing.tls_connect,
                           .close = cchcloseCommand(session),
                           .error = &tlsOpenError,
                           .make =
                               [session, what](const std::shared_ptr<A76xxCore>& c2) {
                                   return ByteStreamPtr(modem_common::makeSocket(
                                       c2, &A76xxCore::sessions, session, what,
                                       kSocketLimits.max_send_chunk));
                               }},
                   req, done);
    });
    through(
        &A76xxCore::cch, &A76xxCore::cchStart,
        whenOk("SSL service", fail_with, [session, connect, fail_with](const CorePtr& c) {
            c->sslContext(c->withCore([session, connect, fail_with](const CorePtr& c2, Status ctx) {
                if (!ctx) {
                    fail_with(ctx);
                    return;
                }
                modem_common::runSteps(c2->at, {{cchsslcfgCommand(session), c2->timing.command}},
                                       c2->explain, [connect, fail_with](Status s2) {
                                           if (!s2) {
                                               fail_with(s2.failure("SSL context"));
                                               return;
                                           }
                                           connect();
                                       });
            }));
        }));
}

void A76xxCore::sslContext(std::function<void(Status)> done) {
    auto configure = [w = weak_from_this(), done]() {
        auto c = w.lock();
        if (!c) {
            return;
        }
        if (!c->certs->ca) {
            done(fail("tls_no_ca",
                      "TLS: the module's certificate store holds no " + std::string(kCaFile) +
                          ": provision tls.ca_file (the root CA of the broker) first"));
            return;
        }
        modem_common::runSteps(
            c->at, sslContextSteps(c->certs->cert && c->certs->key, c->timing.command), c->explain,
            [done](Status s) { done(s ? okStatus() : Status(s.failure("SSL context"))); });
    };
    if (certs) {
        configure();
        return;
    }
    listCerts([configure, done](Status l) {
        if (!l) {
            done(l.failure("certificate list"));
            return;
        }
        configure();
    });
}

void A76xxCore::cchStart(std::function<void(Status)> done) {
    cchStartOnce(true, std::move(done));
}

void A76xxCore::cchStartOnce(bool retry, std::function<void(Status)> done) {
    at.command(
        std::string(kCchSet.command), kCchSet.timeout,
        [w = weak_from_this(), retry, done](Result<AtResponse>) {
            auto c = w.lock();
            if (!c) {
                return;
            }
            commandThenUrc(
                c->loop, c->at, c->urcs, toCommandStep(kCchStart), {"+CCHSTART: "},
                c->timing.cch_start, c->explain, [w, retry, done](Result<std::string> r) {
                    auto c2 = w.lock();
                    if (!c2) {
                        return;
                    }
                    if (r) {
                        done(resultCodeStatus(parseCchStatus(*r, "+CCHSTART:"), "tls_service", *r));
                        return;
                    }
                    if (!retry || r.error().code != "at_error") {
                        done(r.failure("starting the module's SSL service"));
                        return;
                    }
                    // Already started (by an earlier run of uplinkd, with settings we do not
                    // know): stop it and start again.
                    commandThenUrc(c2->loop, c2->at, c2->urcs, toCommandStep(kCchStop),
                                   {"+CCHSTOP: "}, c2->timing.cch_start, c2->explain,
                                   [w, done](Result<std::string>) {
                                       if (auto c3 = w.lock()) {
                                           c3->cchStartOnce(false, done);
                                       }
                                   });
                });
        });
}

void A76xxCore::listCerts(std::function<void(Status)> done) {
    at.command(std::string(kCertList.command), kCertList.timeout,
               [w = weak_from_this(), done](Result<AtResponse> r) {
                   auto c = w.lock();
                   if (!c) {
                       return;
                   }
                   if (!r) {
                       done(modem_common::commandStatus(kCertList.command, r, c->explain));
                       return;
                   }
                   const auto names = parseCertList(r->lines);
                   auto has = [&](std::string_view n) {
                       return std::find(names.begin(), names.end(), n) != names.end();
                   };
                   c->certs = Certs{has(kCaFile), has(kCertFile), has(kKeyFile)};
                   done(okStatus());
               });
}

bool A76xxCore::onSessionUrc(const std::string& line) {
    if (line.starts_with("+CCHEVENT:")) {
        if (const auto s = parseCchRecvEvent(line)) {
            if (auto* sock = sessions.find(*s)) {
                sock->dataWaiting();
            }
        }
        return true;
    }
    if (line.starts_with("+CCH_PEER_CLOSED:")) {
        if (const auto s = parseCchPeerClosed(line)) {
            if (auto* sock = sessions.find(*s)) {
                sock->peerClosed();
            }
        }
        return true;
    }
    for (const std::string_view prefix : {"+CCH_RECV_CLOSED:", "+CCHSEND:"}) {
        if (line.starts_with(prefix)) {
            const auto r = parseIdResult(line, prefix);
            if (r && r->err != 0) {
                if (auto* sock = sessions.find(r->id)) {
                    sock->breakWith(makeError("socket_error", explainLine(line)));
                }
            }
            return true;
        }
    }
    if (line.starts_with("+CCH: CCHSTOP")) {
        cch.ready = false;
        sessions.breakAll(makeError("network", explainLine(line)));
        return true;
    }
    return false;
}

void A76xxCore::onCchData(const std::string& line, std::string data) {
    const auto d = parseCchRecvData(line);
    if (!d) {
        return;
    }
    if (auto* s = sessions.find(d->session)) {
        s->onData(std::move(data));
    }
}

void A76xxCore::breakSessions(const Error& e) {
    sessions.breakAll(e);
}

}  // namespace uplinkd::plugins::simcom_a76xx
