// SPDX-License-Identifier: Apache-2.0
// The doctor's MQTT checks (layer mqtt): a CONNECT with the route's credentials through the
// route's own path (PahoSession: uplinks, TLS, tunnel, Paho; or the module's MQTT client for
// mqtt = "modem"), the CONNACK in the cloud's words, then a round trip on the cloud's round-trip
// topic (subscribe, publish, see it come back) where the cloud has one. Thread: loop.
#include <chrono>
#include <memory>
#include <utility>

#include "doctor/doctor.hpp"
#include "doctor/doctor_cloud.hpp"
#include "doctor/probe.hpp"
#include "session/modem_mqtt_session.hpp"
#include "session/paho_session.hpp"
#include "session/uplink_selector.hpp"

namespace uplinkd::doctor {

bool cloudPinsClientId(const CloudProfile& cloud) {
    const std::string kind = cloud.kind();
    return kind == "azure-iot-hub" || kind == "aws-iot";
}

namespace {

/// How long the CONNECT may take, dial and TLS included (bounded again by the route's timeout).
constexpr std::chrono::milliseconds kConnectTimeout{20000};
/// How long the round-trip message may take to come back.
constexpr std::chrono::milliseconds kRoundTripTimeout{10000};

Finding finding(const char* id, CheckOutcome outcome, std::string found, std::string fix = {}) {
    return Finding{CheckLayer::Mqtt, id, outcome, std::move(found), std::move(fix)};
}

/// The setting to correct when the broker refused the CONNECT with `code` (0: no CONNACK).
std::string credentialsFix(const RouteUnderTest& r, int code) {
    const std::string kind = r.cloud->kind();
    if (kind == "azure-iot-hub") {
        return "check " + setting(r, "cloud", "sas_key_file") +
               " (the device's own primary or secondary key), device_id and hub (see the "
               "credentials checks above), and the clock";
    }
    if (kind == "aws-iot") {
        return "check that the policy attached to the certificate in " +
               setting(r, "tls", "cert_file") + " allows iot:Connect for the client id " +
               setting(r, "cloud", "thing_name") + ", and that the certificate is active";
    }
    if (code == 2 || code == 0x85) {
        return "check " + setting(r, "cloud", "client_id") +
               " (the broker refuses that id: in use, too long or not allowed)";
    }
    return "check " + setting(r, "cloud", "username") + " and " +
           setting(r, "cloud", "password_file") + " (the password the broker has for that user)";
}

struct MqttRun {
    RouteUnderTest route;
    std::unique_ptr<DoctorCloud> cloud;
    RouteConfig config;  ///< the route's, under a name and client id of the doctor's own
    /// The uplinks in the route's order of preference; before `session`, which uses it.
    std::unique_ptr<UplinkSelector> selector;
    std::unique_ptr<MqttSession> session;
    asio::steady_timer timer;
    MqttCredentials creds;
    std::string topic;    ///< round-trip topic, empty: none
    std::string payload;  ///< what the round trip waits for
    std::string displaced_note;
    bool connected = false;
    std::vector<Finding> found;
    std::function<void(std::vector<Finding>)> done;

    explicit MqttRun(asio::io_context& loop) : timer(loop) {}

    void finish(std::shared_ptr<MqttRun> self) {
        if (!done) {
            return;
        }
        timer.cancel();
        auto d = std::move(done);
        done = nullptr;
        // The session may be inside one of its own callbacks: it goes from the loop.
        asio::post(*route.loop, [self] {
            if (self->session) {
                self->session->disconnect();
            }
            self->session.reset();
        });
        d(std::move(found));
    }
};

std::string identity(const MqttRun& run) {
    std::string s = "client id \"" + run.creds.client_id + "\"";
    if (!run.creds.username.empty()) {
        s += ", user name \"" + run.creds.username + "\"";
    }
    return s;
}

void startRoundTrip(const std::shared_ptr<MqttRun>& run) {
    if (run->topic.empty()) {
        run->found.push_back(finding("mqtt.round_trip", CheckOutcome::Skipped,
                                     "the " + run->route.cloud->kind() +
                                         " cloud names no topic the device may both publish "
                                         "and subscribe to: CONNECT only"));
        run->finish(run);
        return;
    }
    run->timer.expires_after(kRoundTripTimeout);
    run->timer.async_wait([run](const asio::error_code& ec) {
        if (ec || !run->done) {
            return;
        }
        run->found.push_back(
            finding("mqtt.round_trip", CheckOutcome::Fail,
                    "a message published to \"" + run->topic + "\" did not come back within " +
                        std::to_string(kRoundTripTimeout.count() / 1000) + " s",
                    "check the broker's access rules for this device on \"" + run->topic +
                        "\" (publish and subscribe), e.g. the ACL for " +
                        setting(run->route, "cloud", "username")));
        run->finish(run);
    });
    run->session->subscribe(run->topic, 1);
    MqttSession::Outgoing out;
    out.seq = 1;
    out.topic = run->topic;
    out.payload = std::make_shared<const std::string>(run->payload);
    out.qos = 1;
    run->session->publish({std::move(out)});
}

MqttSession::Callbacks callbacks(const std::shared_ptr<MqttRun>& owner) {
    std::weak_ptr<MqttRun> weak = owner;
    MqttSession::Callbacks cb;
    cb.connected = [weak] {
        auto run = weak.lock();
        if (!run || !run->done) {
            return;
        }
        run->connected = true;
        run->timer.cancel();
        run->found.push_back(finding("mqtt.connect", CheckOutcome::Ok,
                                     "CONNACK 0: the broker accepted " + identity(*run) + " over " +
                                         run->session->uplinkDescription() + run->displaced_note));
        startRoundTrip(run);
    };
    cb.connect_failed = [weak](Error e, bool /*refused*/) {
        auto run = weak.lock();
        if (!run || !run->done) {
            return;
        }
        if (e.code.starts_with("connack_")) {
            const int code = std::atoi(e.code.c_str() + 8);
            run->found.push_back(finding(
                "mqtt.connect", CheckOutcome::Fail,
                "CONNACK " + std::to_string(code) + " for " + identity(*run) + ": " + e.message,
                credentialsFix(run->route, code)));
        } else if (e.code == "closed_without_connack") {
            run->found.push_back(finding("mqtt.connect", CheckOutcome::Fail,
                                         "no CONNACK for " + identity(*run) + ": " + e.message,
                                         credentialsFix(run->route, 0)));
        } else {
            run->found.push_back(finding("mqtt.connect", CheckOutcome::Fail,
                                         "the CONNECT did not get through: " + e.message,
                                         "see the network and TLS checks above; check " +
                                             setting(run->route, "cloud", "port")));
        }
        run->finish(run);
    };
    cb.lost = [weak](Error e) {
        auto run = weak.lock();
        if (!run || !run->done) {
            return;
        }
        run->found.push_back(
            finding("mqtt.round_trip", CheckOutcome::Fail,
                    "the broker closed the connection during the round trip: " + e.message,
                    "check the broker's access rules for this device on \"" + run->topic +
                        "\"; some brokers disconnect a client that publishes where it may not"));
        run->finish(run);
    };
    cb.message = [weak](std::string topic, std::string payload, int, bool, Properties) {
        auto run = weak.lock();
        if (!run || !run->done || payload != run->payload) {
            return;
        }
        run->found.push_back(
            finding("mqtt.round_trip", CheckOutcome::Ok,
                    "published to \"" + topic + "\", subscribed to it, and the message came back"));
        run->finish(run);
    };
    cb.published = [weak](uint64_t, bool ok, int reason) {
        auto run = weak.lock();
        if (!run || !run->done || ok) {
            return;
        }
        run->found.push_back(
            finding("mqtt.round_trip", CheckOutcome::Fail,
                    "the broker refused the round-trip message on \"" + run->topic + "\"" +
                        (reason > 0 ? " (reason code " + std::to_string(reason) + ")" : ""),
                    "check the broker's access rules for this device on \"" + run->topic + "\""));
        run->finish(run);
    };
    cb.batch_done = [](size_t, std::string) {};
    cb.setup_failed = [weak](std::string message) {
        auto run = weak.lock();
        if (!run || !run->done) {
            return;
        }
        run->found.push_back(
            finding("mqtt.connect", CheckOutcome::Fail, "no MQTT client: " + message,
                    "see the uplinkd log; check " + setting(run->route, "", "mqtt")));
        run->finish(run);
    };
    return cb;
}

}  // namespace

void checkMqtt(const RouteUnderTest& route, const std::vector<Finding>& so_far,
               std::function<void(std::vector<Finding>)> done) {
    auto skip = [&done](std::string why) {
        done({finding("mqtt.connect", CheckOutcome::Skipped, std::move(why))});
    };
    if (route.cloud == nullptr || route.route == nullptr || route.uplinks.empty() ||
        route.loop == nullptr) {
        skip("the route's configuration or uplinks are not usable");
        return;
    }
    if (failedAt(so_far, CheckLayer::Network) || failedAt(so_far, CheckLayer::Tls)) {
        skip(std::string("the ") + (failedAt(so_far, CheckLayer::Network) ? "network" : "TLS") +
             " checks failed");
        return;
    }
    const bool module_mqtt = route.route->mqtt == "modem";
    if (!module_mqtt && (route.tunnel == nullptr || route.paho == nullptr)) {
        skip("no MQTT client to connect with here");
        return;
    }
    auto run = std::make_shared<MqttRun>(*route.loop);
    run->route = route;
    // Inside the daemon the route is connected already: the doctor's connection takes an id of
    // its own, unless the cloud allows only the route's (then it displaces the route briefly).
    const bool pinned = cloudPinsClientId(*route.cloud);
    const std::string suffix = route.inside_daemon && !pinned ? "-doctor" : "";
    if (route.inside_daemon && pinned) {
        run->displaced_note =
            " (the " + route.cloud->kind() +
            " cloud takes only the route's own client id, so the running route was displaced "
            "for a moment; it reconnects by itself)";
    }
    run->cloud = std::make_unique<DoctorCloud>(*route.cloud, suffix);
    auto creds = run->cloud->credentials(route.now);
    if (!creds) {
        skip("no credentials to connect with: " + creds.error().message);
        return;
    }
    run->creds = *creds;
    run->config = *route.route;
    run->config.name = route.route->name + "-doctor";
    run->config.cloud = std::shared_ptr<CloudProfile>(run->cloud.get(), [](CloudProfile*) {});
    run->config.delivery.connect_timeout_ms = std::min(
        run->config.delivery.connect_timeout_ms, static_cast<int>(kConnectTimeout.count() / 2));
    run->topic = route.cloud->diagnosis().round_trip_topic;
    run->payload = "uplinkd doctor round trip " + route.route->name + " " +
                   std::to_string(route.now.time_since_epoch().count());
    run->done = std::move(done);

    if (module_mqtt) {
        run->session = std::make_unique<ModemMqttSession>(*route.loop, run->config,
                                                          *route.uplinks.front(), callbacks(run));
    } else {
        std::vector<std::string> names;
        for (const Uplink* u : route.uplinks) {
            names.push_back(u->name());
        }
        run->selector =
            std::make_unique<UplinkSelector>(std::move(names), UplinkSelector::Settings{});
        auto s = PahoSession::create(*route.loop, run->config, *route.tunnel, route.uplinks,
                                     *run->selector, *route.paho, callbacks(run));
        if (!s) {
            run->found.push_back(
                finding("mqtt.connect", CheckOutcome::Fail, s.error().message,
                        "correct the file named above in [routes." + route.route->name + ".tls]"));
            run->finish(run);
            return;
        }
        run->session = std::move(s.value());
    }
    run->timer.expires_after(kConnectTimeout);
    run->timer.async_wait([run](const asio::error_code& ec) {
        if (ec || !run->done || run->connected) {
            return;
        }
        run->found.push_back(
            finding("mqtt.connect", CheckOutcome::Fail,
                    "no CONNACK within " + std::to_string(kConnectTimeout.count() / 1000) +
                        " s for " + identity(*run),
                    "check " + setting(run->route, "cloud", "port") +
                        " (an MQTT port of this broker?) and the broker's limits on connections"));
        run->finish(run);
    });
    run->session->connect(run->creds);
}

}  // namespace uplinkd::doctor
