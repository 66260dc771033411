// SPDX-License-Identifier: Apache-2.0
// The doctor's network checks (layer network): name resolution of the broker, TCP reachability
// on the configured port over the route's uplinks (and, when that fails, the cloud's other
// ways in), and what the port speaks (plain MQTT or TLS) against what the route expects.
// Thread: loop.
#include <memory>
#include <utility>

#include "doctor/doctor.hpp"
#include "doctor/probe.hpp"

namespace uplinkd::doctor {

namespace {

Finding finding(const char* id, CheckOutcome outcome, std::string found, std::string fix = {}) {
    return Finding{CheckLayer::Network, id, outcome, std::move(found), std::move(fix)};
}

std::string hostPort(const BrokerEndpoint& ep) {
    return ep.host + ":" + std::to_string(ep.port);
}

/// The run of the network group: its findings so far and what the later steps need.
struct NetworkRun {
    RouteUnderTest route;
    BrokerEndpoint ep;
    std::vector<Finding> found;
    std::function<void(std::vector<Finding>)> done;

    void finish() {
        auto d = std::move(done);
        d(std::move(found));
    }
};

bool onlyModemUplinks(const RouteUnderTest& r) {
    if (r.config == nullptr || r.route == nullptr || r.route->uplinks.empty()) {
        return false;
    }
    for (const auto& name : r.route->uplinks) {
        auto it = r.config->uplinks.find(name);
        if (it == r.config->uplinks.end() || it->second.type != "modem") {
            return false;
        }
    }
    return true;
}

void checkProtocol(const std::shared_ptr<NetworkRun>& run);

/// The configured port did not answer: does one of the cloud's other ways in?
void tryAlternatives(const std::shared_ptr<NetworkRun>& run, std::string why, size_t index) {
    const auto alts = run->route.cloud->diagnosis().alternatives;
    const std::string port_setting = setting(run->route, "cloud", "port");
    if (index >= alts.size()) {
        std::string fix = "check " + port_setting + " and " + hostSetting(run->route) +
                          ", and that a firewall lets the gateway out to port " +
                          std::to_string(run->ep.port);
        if (!alts.empty()) {
            why += "; the cloud's other ways in did not answer either";
        }
        run->found.push_back(finding("network.connect", CheckOutcome::Fail,
                                     "no TCP connection to " + hostPort(run->ep) + ": " + why,
                                     fix));
        run->finish();
        return;
    }
    const EndpointAlternative alt = alts[index];
    dial(*run->route.loop, run->route.uplinks, alt.endpoint.host, alt.endpoint.port,
         kStepTimeout / 2, [run, why, index, alt](Result<Dialed> r) {
             if (!r) {
                 tryAlternatives(run, why, index + 1);
                 return;
             }
             run->found.push_back(finding("network.connect", CheckOutcome::Fail,
                                          "no TCP connection to " + hostPort(run->ep) + ": " + why +
                                              "; but " + alt.label + " (" + hostPort(alt.endpoint) +
                                              ") answers over " + r->uplink,
                                          "use " + alt.label + ": set " + alt.setting +
                                              " in [routes." + run->route.route->name + ".cloud]"));
             run->finish();
         });
}

void checkConnect(const std::shared_ptr<NetworkRun>& run) {
    dial(*run->route.loop, run->route.uplinks, run->ep.host, run->ep.port, kStepTimeout,
         [run](Result<Dialed> r) {
             if (!r) {
                 tryAlternatives(run, r.error().message, 0);
                 return;
             }
             run->found.push_back(finding("network.connect", CheckOutcome::Ok,
                                          "port " + std::to_string(run->ep.port) + " of " +
                                              run->ep.host + " accepts TCP connections over " +
                                              r->uplink));
             checkProtocol(run);
         });
}

void checkResolve(const std::shared_ptr<NetworkRun>& run) {
    const std::string& host = run->ep.host;
    if (isIpAddress(host)) {
        run->found.push_back(finding("network.resolve", CheckOutcome::Ok,
                                     host + " is an IP address: nothing to resolve"));
        checkConnect(run);
        return;
    }
    if (onlyModemUplinks(run->route)) {
        run->found.push_back(finding(
            "network.resolve", CheckOutcome::Ok,
            "the module resolves " + host + " itself (modem uplink): the connect below tells"));
        checkConnect(run);
        return;
    }
    struct Resolve {
        asio::ip::tcp::resolver resolver;
        asio::steady_timer timer;
        bool done = false;
    };
    auto res = std::make_shared<Resolve>(
        Resolve{asio::ip::tcp::resolver(*run->route.loop), asio::steady_timer(*run->route.loop)});
    auto answer = [run, res, host](const std::string& error, const std::string& addresses) {
        if (res->done) {
            return;
        }
        res->done = true;
        res->timer.cancel();
        res->resolver.cancel();
        if (!error.empty()) {
            run->found.push_back(
                finding("network.resolve", CheckOutcome::Fail, host + " does not resolve: " + error,
                        "check " + hostSetting(run->route) +
                            " (a typo?) and the gateway's DNS servers (/etc/resolv.conf)"));
            run->found.push_back(finding("network.connect", CheckOutcome::Skipped,
                                         "the broker's name did not resolve"));
            run->finish();
            return;
        }
        run->found.push_back(
            finding("network.resolve", CheckOutcome::Ok, host + " resolves to " + addresses));
        checkConnect(run);
    };
    res->timer.expires_after(kStepTimeout);
    res->timer.async_wait([answer](const asio::error_code& ec) {
        if (!ec) {
            answer("no answer from the DNS servers within " +
                       std::to_string(kStepTimeout.count() / 1000) + " s",
                   "");
        }
    });
    res->resolver.async_resolve(
        host, std::to_string(run->ep.port),
        [answer](const asio::error_code& ec, const asio::ip::tcp::resolver::results_type& rs) {
            if (ec) {
                answer(ec.message(), "");
                return;
            }
            std::string addresses;
            for (const auto& e : rs) {
                const std::string a = e.endpoint().address().to_string();
                if (addresses.find(a) == std::string::npos) {
                    addresses += (addresses.empty() ? "" : ", ") + a;
                }
            }
            answer("", addresses);
        });
}

std::string byteName(int b) {
    static const char* hex = "0123456789abcdef";
    return std::string("0x") + hex[(b >> 4) & 0xf] + hex[b & 0xf];
}

bool isTlsRecord(int b) {
    return b == 0x15 || b == 0x16;  // alert, handshake
}

/// A route without TLS whose port did not answer MQTT: does it speak TLS?
void checkPlainPortForTls(const std::shared_ptr<NetworkRun>& run, const PortAnswer& mqtt) {
    const std::string port = std::to_string(run->ep.port);
    dial(*run->route.loop, run->route.uplinks, run->ep.host, run->ep.port, kStepTimeout,
         [run, port, mqtt](Result<Dialed> r) {
             if (!r) {
                 run->finish();
                 return;
             }
             TlsOptions o;
             o.server_name = run->ep.host;
             probeTls(
                 *run->route.loop, o, std::move(r->stream), [run, port, mqtt](Result<TlsProbe> p) {
                     if (p && p->answer.bytes > 0 && isTlsRecord(p->answer.first_byte)) {
                         run->found.push_back(
                             finding("network.protocol", CheckOutcome::Fail,
                                     "port " + port +
                                         " speaks TLS (it answered a TLS ClientHello), but the "
                                         "route is configured for plain MQTT (tls = false)",
                                     "set " + setting(run->route, "cloud", "tls") +
                                         " = true (with " + setting(run->route, "tls", "ca_file") +
                                         "), or set " + setting(run->route, "cloud", "port") +
                                         " to the broker's plain MQTT port (1883)"));
                     } else {
                         run->found.push_back(
                             finding("network.protocol", CheckOutcome::Warn,
                                     "port " + port + " answered neither a plain MQTT CONNECT (" +
                                         (mqtt.timed_out ? "no answer" : "closed") +
                                         ") nor a TLS ClientHello",
                                     "check " + setting(run->route, "cloud", "port") +
                                         ": it may not be an MQTT port"));
                     }
                     run->finish();
                 });
         });
}

/// What the port answers to a plain MQTT CONNECT, against what the route expects.
void checkProtocol(const std::shared_ptr<NetworkRun>& run) {
    dial(*run->route.loop, run->route.uplinks, run->ep.host, run->ep.port, kStepTimeout,
         [run](Result<Dialed> r) {
             if (!r) {
                 run->found.push_back(finding("network.protocol", CheckOutcome::Skipped,
                                              "a second connection failed: " + r.error().message));
                 run->finish();
                 return;
             }
             const std::string client_id =
                 "uplinkd-doctor-" + (run->route.route ? run->route.route->name : std::string());
             probePlainMqtt(*run->route.loop, std::move(r->stream), client_id, [run](PortAnswer a) {
                 const std::string port = std::to_string(run->ep.port);
                 const bool connack = a.bytes > 0 && a.first_byte == 0x20;
                 const bool tls = a.bytes > 0 && isTlsRecord(a.first_byte);
                 const bool ws = !run->ep.websocket_path.empty();
                 if (run->ep.tls) {
                     if (connack) {
                         run->found.push_back(
                             finding("network.protocol", CheckOutcome::Fail,
                                     "port " + port +
                                         " speaks plain MQTT, not TLS: it answered a plain MQTT "
                                         "CONNECT with a CONNACK, so a TLS client only sees the "
                                         "connection close",
                                     "set " + setting(run->route, "cloud", "port") +
                                         " to the broker's TLS port (8883), or tls = false if the "
                                         "broker offers no TLS"));
                     } else {
                         run->found.push_back(
                             finding("network.protocol", CheckOutcome::Ok,
                                     "port " + port +
                                         (tls ? " speaks TLS (it answered plain bytes with a TLS "
                                                "record)"
                                              : " does not answer plain MQTT, as a TLS port should "
                                                "not; the TLS checks follow")));
                     }
                     run->finish();
                     return;
                 }
                 if (connack || (ws && a.first_byte == 'H')) {
                     run->found.push_back(
                         finding("network.protocol", CheckOutcome::Ok,
                                 "port " + port +
                                     (connack ? " speaks plain MQTT (it answered CONNECT with a "
                                                "CONNACK)"
                                              : " speaks HTTP (for MQTT over WebSocket)")));
                     run->finish();
                     return;
                 }
                 if (tls) {
                     run->found.push_back(finding(
                         "network.protocol", CheckOutcome::Fail,
                         "port " + port + " speaks TLS (it answered plain MQTT with a TLS " +
                             (a.first_byte == 0x15 ? "alert" : "record") + ", first byte " +
                             byteName(a.first_byte) +
                             "), but the route is configured for plain MQTT (tls = false)",
                         "set " + setting(run->route, "cloud", "tls") + " = true (with " +
                             setting(run->route, "tls", "ca_file") + "), or set " +
                             setting(run->route, "cloud", "port") +
                             " to the broker's plain MQTT port (1883)"));
                     run->finish();
                     return;
                 }
                 checkPlainPortForTls(run, a);
             });
         });
}

}  // namespace

void checkNetwork(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                  std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    if (route.cloud == nullptr || route.route == nullptr || route.loop == nullptr) {
        done({finding("network.resolve", CheckOutcome::Skipped,
                      "the route's configuration did not load")});
        return;
    }
    if (route.uplinks.empty()) {
        done({finding("network.resolve", CheckOutcome::Skipped, "the route has no uplink")});
        return;
    }
    auto run = std::make_shared<NetworkRun>(
        NetworkRun{route, route.cloud->endpoint(), {}, std::move(done)});
    checkResolve(run);
}

}  // namespace uplinkd::doctor
