// SPDX-License-Identifier: Apache-2.0
// The doctor's TLS checks (layer tls): a handshake with the route's TLS settings over its uplink
// (or the module's own, for tls = "modem"), then what it shows: version and cipher, the chain as
// received and whether it verifies, SNI (retried without it, and with ALPN, when the broker
// closes right after the ClientHello), ALPN agreed, the client certificate asked for and taken.
// Thread: loop.
#include <algorithm>
#include <memory>
#include <utility>

#include "doctor/doctor.hpp"
#include "doctor/probe.hpp"
#include "doctor/tls_findings.hpp"
#include "session/mqtt_session.hpp"

namespace uplinkd::doctor {

namespace {

/// How long the module may take for its own TLS connection (AT commands, a slow link).
constexpr std::chrono::milliseconds kModuleTlsTimeout{30000};

struct TlsRun {
    RouteUnderTest route;
    BrokerEndpoint ep;
    TlsOptions options;
    std::function<void(std::vector<Finding>)> done;

    void finish(std::vector<Finding> found) {
        auto d = std::move(done);
        d(std::move(found));
    }
};

/// One handshake with `options` over the route's uplinks; `then` gets the probe or why there was
/// none (no connection, a TLS setting that does not load).
void handshakeOnce(const std::shared_ptr<TlsRun>& run, const TlsOptions& options,
                   std::function<void(Result<TlsProbe>, std::string uplink)> then) {
    dial(*run->route.loop, run->route.uplinks, run->ep.host, run->ep.port, kStepTimeout,
         [run, options, then = std::move(then)](Result<Dialed> d) mutable {
             if (!d) {
                 then(d.failure(), "");
                 return;
             }
             const std::string uplink = d->uplink;
             probeTls(*run->route.loop, options, std::move(d->stream),
                      [then = std::move(then), uplink](Result<TlsProbe> p) {
                          then(std::move(p), uplink);
                      });
         });
}

/// The broker closed right after the ClientHello, and nothing it said tells why: retry with
/// ALPN candidates (when none was offered) to tell whether it wants one.
void retryWithAlpn(const std::shared_ptr<TlsRun>& run, TlsProbe first,
                   std::vector<std::string> candidates, size_t index) {
    if (index >= candidates.size() || !run->options.alpn.empty()) {
        run->finish({closedAfterHello(run->route, run->ep, run->options, first)});
        return;
    }
    TlsOptions o = run->options;
    o.alpn = {candidates[index]};
    handshakeOnce(run, o, [run, first, candidates, index](Result<TlsProbe> p, const std::string&) {
        if (p && p->answer.bytes > 0) {
            run->finish({alpnNeeded(run->route, run->ep, candidates[index])});
            return;
        }
        retryWithAlpn(run, first, candidates, index + 1);
    });
}

/// The broker closed right after a ClientHello that carried SNI: does it answer one without?
void retryWithoutSni(const std::shared_ptr<TlsRun>& run, TlsProbe first) {
    TlsOptions o = run->options;
    o.server_name.clear();
    handshakeOnce(run, o, [run, first](Result<TlsProbe> p, const std::string&) {
        if (p && p->answer.bytes > 0) {
            run->finish({sniRefused(run->route, run->options, first)});
            return;
        }
        std::vector<std::string> candidates;
        for (const auto& alt : run->route.cloud->diagnosis().alternatives) {
            for (const auto& a : alt.endpoint.alpn) {
                candidates.push_back(a);
            }
        }
        for (const char* a : {"x-amzn-mqtt-ca", "mqtt"}) {
            if (std::find(candidates.begin(), candidates.end(), a) == candidates.end()) {
                candidates.push_back(a);
            }
        }
        retryWithAlpn(run, first, candidates, 0);
    });
}

void onFirstHandshake(const std::shared_ptr<TlsRun>& run, Result<TlsProbe> p,
                      const std::string& uplink) {
    if (!p) {
        const bool setup = p.error().code == "tls_setup";
        run->finish({Finding{
            CheckLayer::Tls, "tls.handshake", CheckOutcome::Fail,
            setup ? p.error().message : "no connection for the handshake: " + p.error().message,
            setup ? "correct the file named above in [routes." + run->route.route->name + ".tls]"
                  : "see the network checks above"}});
        return;
    }
    if (p->status) {
        run->finish(handshakeFindings(run->route, run->options, *p, uplink));
        return;
    }
    const TlsFacts& f = p->facts;
    if (f.verify_error != 0 || f.alert_received > 0 || p->answer.timed_out || p->answer.bytes > 0) {
        run->finish({failureFinding(run->route, run->ep, run->options, *p)});
        return;
    }
    // Closed without a word after the ClientHello.
    if (!f.sni_sent || run->options.server_name.empty()) {
        run->finish({sniMissing(run->route, run->ep, *p)});
        return;
    }
    retryWithoutSni(run, std::move(p.value()));
}

/// tls = "modem": the module does the handshake; report what it says.
void moduleHandshake(const std::shared_ptr<TlsRun>& run, Uplink* up) {
    struct Wait {
        asio::steady_timer timer;
        bool done = false;
    };
    auto w = std::make_shared<Wait>(Wait{asio::steady_timer(*run->route.loop)});
    auto answer = [run, w, up](Result<ByteStreamPtr> r) {
        if (w->done) {
            return;
        }
        w->done = true;
        w->timer.cancel();
        if (r) {
            run->finish({Finding{CheckLayer::Tls,
                                 "tls.handshake",
                                 CheckOutcome::Ok,
                                 "the module of uplink " + up->name() +
                                     " completed the TLS handshake (tls = \"modem\"; it does "
                                     "not tell the chain, version or cipher)",
                                 {}}});
            return;
        }
        run->finish({Finding{CheckLayer::Tls, "tls.handshake", CheckOutcome::Fail,
                             "the module of uplink " + up->name() +
                                 " could not make the TLS connection: " + r.error().message,
                             "check " + setting(run->route, "tls", "ca_file") +
                                 " (the root CA, loaded into the module's store), " +
                                 setting(run->route, "tls", "server_name") +
                                 " and the module checks above"}});
    };
    w->timer.expires_after(kModuleTlsTimeout);
    w->timer.async_wait([answer](const asio::error_code& ec) {
        if (!ec) {
            answer(fail("timeout", "no answer within " +
                                       std::to_string(kModuleTlsTimeout.count() / 1000) + " s"));
        }
    });
    up->connectTls(run->ep.host, run->ep.port, run->options, answer);
}

}  // namespace

void checkTls(const RouteUnderTest& route, const std::vector<Finding>& so_far,
              std::function<void(std::vector<Finding>)> done) {
    auto skip = [&done](std::string why) {
        done(
            {Finding{CheckLayer::Tls, "tls.handshake", CheckOutcome::Skipped, std::move(why), {}}});
    };
    if (route.cloud == nullptr || route.route == nullptr || route.uplinks.empty()) {
        skip("the route's configuration or uplinks are not usable");
        return;
    }
    if (failedAt(so_far, CheckLayer::Network)) {
        skip("the network checks failed");
        return;
    }
    const BrokerEndpoint ep = route.cloud->endpoint();
    if (!ep.tls) {
        skip("the route uses plain MQTT (tls = false)");
        return;
    }
    if (route.route->mqtt == "modem") {
        skip(
            "the module's own MQTT client makes the TLS connection (mqtt = \"modem\"); the MQTT "
            "check tells how it went");
        return;
    }
    auto run = std::make_shared<TlsRun>(TlsRun{route, ep, {}, std::move(done)});
    run->options = routeTlsOptions(*route.route, ep);
    run->options.ciphers_tls12 = route.route->tls.ciphers_tls12;
    if (route.uplinks.front()->offloadsTls()) {
        moduleHandshake(run, route.uplinks.front());
        return;
    }
    handshakeOnce(run, run->options, [run](Result<TlsProbe> p, const std::string& uplink) {
        onFirstHandshake(run, std::move(p), uplink);
    });
}

}  // namespace uplinkd::doctor
