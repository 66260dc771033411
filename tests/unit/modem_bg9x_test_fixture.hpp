// SPDX-License-Identifier: Apache-2.0
// The fixture of the quectel-bg9x driver tests (modem_bg9x_test.cpp, modem_bg9x_mqtt_test.cpp): the
// driver with short waits on a scripted AtChannel, the start-up, socket and MQTT client exchanges
// the tests build their scripts from. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bg9x_commands.hpp"
#include "bg9x_driver.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::quectel_bg9x {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

inline Bg9xTiming fastTiming() {
    using T = Bg9xTiming;
    T t = cellularShortWaits<T>(
        200ms, {&T::pdp_activate, &T::connect, &T::tls_connect, &T::send, &T::receive,
                &T::file_upload, &T::mqtt_open, &T::mqtt_connect, &T::mqtt_ack, &T::mqtt_close});
    t.send_retry = 1ms;
    t.send_retries = 3;
    return t;
}

/// A Bg9xDriver on the scripted channel, with the exchanges its tests build on. Thread: the test's.
class Bg9xDriverTest : public uplinkd::testing::ModemDriverTest<Bg9xDriver, Bg9xTiming> {
  protected:
    Bg9xDriverTest() : ModemDriverTest(fastTiming()) {}

    /// Echo off, numeric errors, the SIM, the context with the APN, registered on LTE.
    const AtScript kUntilRegistered = kEchoOff + kSimReady +
                                      AtScript{{"AT+QICSGP=1,1,\"internet.example\",\"\",\"\",0"},
                                               {"AT+CEREG?", {"+CEREG: 0,1"}},
                                               {"AT+CGREG?", {"+CGREG: 0,0"}}};
    /// The PDP context is active already.
    const AtScript kActive = {{"AT+QIACT?", {"+QIACT: 1,1,1,\"10.0.0.2\""}}};

    void scriptStartUntilRegistered() { expectScript(at_, kUntilRegistered); }

    void started() { expectStart(kUntilRegistered + kActive, succeeds()); }

    /// A started driver with TCP socket 0 open to the plain broker (null after a test failure).
    ByteStreamPtr startedWithTcp() {
        started();
        return openTcp();
    }

    ByteStreamPtr openTcp(int id = 0) {
        const std::string i = std::to_string(id);
        return openAfter(
            {{.command = "AT+QIOPEN=1," + i + ",\"TCP\",\"broker.example.com\",1883,0,0",
              .urcs = {"+QIOPEN: " + i + ",0"}}},
            kPlainBroker);
    }

    void scriptSslContext(bool client = false) {
        expectCommands(at_, sslContextSteps(client, 1s));
        at_.expect("AT+QSSLCFG=\"sni\",1,1");
    }

    ByteStreamPtr openTls(int id = 0) {
        const std::string i = std::to_string(id);
        return openAfter({{.command = "AT+QSSLOPEN=1,1," + i + ",\"broker.example.com\",8883,0",
                           .urcs = {"+QSSLOPEN: " + i + ",0"}}},
                         kTlsBroker);
    }

    ModemMqtt& mqtt() { return *driver().mqtt(); }

    Status mqttCall(const std::function<void(ModemMqtt::StatusDone)>& call) {
        return uplinkd::testing::await<void>(loop_, call);
    }

    /// connect(p) of the module's client, without events.
    Status mqttConnect(const ModemMqttConnect& p) {
        return mqttCall([&](auto done) { mqtt().connect(p, {}, done); });
    }

    ModemMqttConnect connectParams(bool tls = true) {
        ModemMqttConnect p;
        p.host = "broker.example.com";
        p.port = tls ? 8883 : 1883;
        p.tls = tls;
        p.server_name = p.host;
        p.client_id = "dev1";
        p.keep_alive_s = 60;
        return p;
    }

    /// What comes before AT+QMTOPEN: nothing held from before, for TLS the store (with the CA)
    /// and the SSL context, then the client's configuration.
    void scriptMqttBeforeOpen(bool tls = true, bool ssl_listed = true) {
        at_.expect("AT+QMTCLOSE=0").error("ERROR");  // nothing held from before
        if (tls && ssl_listed) {
            at_.expect("AT+QFLST=\"*\"").line("+QFLST: \"UFS:uplinkd_ca.pem\",1184");
            scriptSslContext();
        }
        expectCommands(at_, mqttConfigSteps(tls, 60, true, 30, 1s));
    }

    void scriptMqttConnect(bool tls = true, bool ssl_listed = true) {
        scriptMqttBeforeOpen(tls, ssl_listed);
        at_.expect(std::string("AT+QMTOPEN=0,\"broker.example.com\",") + (tls ? "8883" : "1883"))
            .urcAfter("+QMTOPEN: 0,0");
        at_.expect("AT+QMTCONN=0,\"dev1\"").urcAfter("+QMTCONN: 0,0,0");
    }

    /// A started driver whose MQTT client is connected (TLS); messages and losses are kept.
    void mqttConnected() {
        started();
        scriptMqttConnect();
        ModemMqttEvents ev;
        ev.message = [this](std::string topic, std::string payload, int, bool) {
            messages_.emplace_back(std::move(topic), std::move(payload));
        };
        ev.lost = [this](Error e) { lost_.push_back(std::move(e)); };
        const Status s = mqttCall([&](auto done) { mqtt().connect(connectParams(), ev, done); });
        ASSERT_TRUE(s) << s.error().message;
    }

    /// A QoS 1 publish of "x" to "t" waiting for its acknowledgement when `interrupt` runs: its
    /// result, once the loss was reported too (none when either did not come).
    std::optional<Status> publishInterrupted(const std::function<void()>& interrupt) {
        at_.expect("AT+QMTPUB=0,1,1,0,\"t\",1");
        std::optional<Status> done;
        mqtt().publish("t", "x", 1, false, [&](Status s) { done = s; });
        drain(loop_);
        interrupt();
        EXPECT_TRUE(runUntil(loop_, [&] { return done.has_value() && !lost_.empty(); }));
        return done;
    }

    std::vector<std::pair<std::string, std::string>> messages_;
    std::vector<Error> lost_;
};

}  // namespace uplinkd::plugins::quectel_bg9x
