// SPDX-License-Identifier: Apache-2.0
// MqttLink against a real Mosquitto: publish/subscribe round trip, MQTT 3.1 on the wire, TLS
// with a CA (and a wrong one), CONNACK refusal codes, a broker that closes before CONNACK, SNI
// sent or not, and the loss of an established connection.
#include "mqtt_link.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "support/test_broker.hpp"
#include "support/test_pki.hpp"
#include "support/test_servers.hpp"

using namespace uplinkd::emulator;
using namespace emutest;

namespace {

/// Runs the loop (on the test thread) until `done` holds or 15 s pass.
class Loop {
  public:
    Loop() : guard_(asio::make_work_guard(io_)) {}
    asio::io_context& io() { return io_; }
    bool until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            io_.run_for(10ms);
        }
        return true;
    }

  private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
};

MqttSession session(const std::string& id, int version = 4) {
    MqttSession s;
    s.client_id = id;
    s.version = version;
    s.keep_alive_s = 30;
    s.timeout = 10s;
    return s;
}

/// Connects and waits for the outcome.
MqttConnectOutcome connectNow(Loop& loop, MqttLink& link, uint16_t port, TlsOptions tls,
                              MqttSession s) {
    std::optional<MqttConnectOutcome> out;
    link.connect("127.0.0.1", port, std::move(tls), std::move(s),
                 [&](const MqttConnectOutcome& o) { out = o; });
    if (!loop.until([&] { return out.has_value(); })) {
        return {MqttConnectResult::Failed, 0, "no outcome within 15 s"};
    }
    return *out;
}

std::string binaryPayload() {
    std::string p = "\r\nOK\r\n+QMTRECV: 0,1,\"t\",3,\"abc\"\r\n";
    for (int i = 0; i < 256; ++i) {
        p.push_back(static_cast<char>(i));
    }
    return p;
}

}  // namespace

TEST(MqttLinkTest, PublishAndSubscribeRoundTripThroughMosquitto) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "dev/up"), "");

    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    std::vector<std::pair<std::string, std::string>> got;
    link->onMessage(
        [&](const std::string& t, const std::string& p, int, bool) { got.emplace_back(t, p); });
    auto out = connectNow(loop, *link, broker.port(), {}, session("module-1"));
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail << broker.log();
    EXPECT_EQ(link->sentProtocolName(), "MQTT");
    EXPECT_EQ(link->sentProtocolLevel(), 4);

    std::optional<int> granted;
    link->subscribe("dev/down/#", 1, [&](int g) { granted = g; });
    ASSERT_TRUE(loop.until([&] { return granted.has_value(); }));
    EXPECT_EQ(*granted, 1);

    std::optional<bool> acked;
    const std::string payload = binaryPayload();
    link->publish("dev/up", payload, 1, false, [&](bool ok, const std::string&) { acked = ok; });
    ASSERT_TRUE(loop.until([&] { return acked.has_value(); }));
    EXPECT_TRUE(*acked);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].topic, "dev/up");
    EXPECT_EQ(msgs[0].payload, payload);
    EXPECT_EQ(msgs[0].qos, 1);

    ASSERT_TRUE(cloud.publish("dev/down/cmd", payload, 1));
    ASSERT_TRUE(loop.until([&] { return !got.empty(); }));
    EXPECT_EQ(got[0].first, "dev/down/cmd");
    EXPECT_EQ(got[0].second, payload);

    std::optional<bool> unsubscribed;
    link->unsubscribe("dev/down/#", [&](bool ok, const std::string&) { unsubscribed = ok; });
    ASSERT_TRUE(loop.until([&] { return unsubscribed.has_value(); }));
    EXPECT_TRUE(*unsubscribed);

    bool lost = false;
    link->onLost([&](MqttLostReason, const std::string&) { lost = true; });
    std::optional<bool> disconnected;
    link->disconnect([&](bool ok, const std::string&) { disconnected = ok; });
    ASSERT_TRUE(loop.until([&] { return disconnected.has_value(); }));
    EXPECT_EQ(link->state(), MqttLink::State::Idle);
    EXPECT_FALSE(lost);
}

TEST(MqttLinkTest, Mqtt31ConnectGoesOnTheWireAsMQIsdp) {
    TestBroker broker;
    ASSERT_EQ(broker.startError(), "");
    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    auto out = connectNow(loop, *link, broker.port(), {}, session("module-31", 3));
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail << broker.log();
    EXPECT_EQ(link->sentProtocolName(), "MQIsdp");
    EXPECT_EQ(link->sentProtocolLevel(), 3);
    EXPECT_EQ(link->status()["connect_level"], 3);
    link->close();
}

TEST(MqttLinkTest, TlsWithTheStoredRootConnectsAndAWrongRootFailsVerification) {
    TestPki pki = TestPki::make();
    TestPki other = TestPki::make("some other root");
    ASSERT_TRUE(pki.ok && other.ok);
    TestBroker broker(TestBroker::Options::overTls(pki));
    BrokerPeer cloud(broker.port(), pki.ca.cert_pem);
    ASSERT_EQ(peerReady(broker, cloud, "tls/up"), "");

    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    TlsOptions tls;
    tls.enabled = true;
    tls.verify_server = true;
    tls.ca_pems = {pki.ca.cert_pem};
    tls.check_host = "localhost";
    tls.sni = "localhost";
    auto out = connectNow(loop, *link, broker.port(), tls, session("module-tls"));
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail << broker.log();
    std::optional<bool> acked;
    link->publish("tls/up", "over tls", 1, false, [&](bool ok, const std::string&) { acked = ok; });
    ASSERT_TRUE(loop.until([&] { return acked.has_value(); }));
    EXPECT_TRUE(*acked);
    auto msgs = cloud.waitFor(1);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].payload, "over tls");
    link->close();

    tls.ca_pems = {other.ca.cert_pem};
    auto bad = connectNow(loop, *link, broker.port(), tls, session("module-tls"));
    EXPECT_EQ(bad.result, MqttConnectResult::TlsVerify) << bad.detail;
}

TEST(MqttLinkTest, ConnackRefusalReportsItsReturnCode) {
    TestBroker broker(TestBroker::Options::refusing());
    ASSERT_EQ(broker.startError(), "");
    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    auto out = connectNow(loop, *link, broker.port(), {}, session("anonymous"));
    EXPECT_EQ(out.result, MqttConnectResult::ConnackRefused) << out.detail;
    EXPECT_EQ(out.connack_code, 5);
    EXPECT_EQ(link->state(), MqttLink::State::Idle);

    // MQTT 3.1 too (the module default).
    out = connectNow(loop, *link, broker.port(), {}, session("anonymous", 3));
    EXPECT_EQ(out.result, MqttConnectResult::ConnackRefused) << out.detail;
    EXPECT_EQ(out.connack_code, 5);
}

TEST(MqttLinkTest, BrokerThatClosesBeforeConnackAndClosedPortAreTold) {
    Loop loop;
    // A "broker" that reads the CONNECT and hangs up.
    asio::ip::tcp::acceptor acceptor(loop.io(), {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket peer(loop.io());
    std::array<char, 256> buf{};
    acceptor.async_accept(peer, [&](std::error_code ec) {
        if (!ec) {
            peer.async_read_some(asio::buffer(buf), [&](std::error_code, size_t) { peer.close(); });
        }
    });
    auto link = std::make_shared<MqttLink>(loop.io());
    auto out = connectNow(loop, *link, acceptor.local_endpoint().port(), {}, session("x"));
    EXPECT_EQ(out.result, MqttConnectResult::ClosedWithoutConnack) << out.detail;

    const uint16_t closed_port = acceptor.local_endpoint().port();
    acceptor.close();
    out = connectNow(loop, *link, closed_port, {}, session("x"));
    EXPECT_EQ(out.result, MqttConnectResult::Refused) << out.detail;
}

TEST(MqttLinkTest, SniIsSentOnlyWhenTheModuleSetsIt) {
    TlsEchoSetup peer;
    ASSERT_TRUE(peer.ready());
    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    for (bool with_sni : {true, false}) {
        TlsOptions tls;
        tls.enabled = true;
        tls.verify_server = true;
        tls.ca_pems = {peer.pki.ca.cert_pem};
        if (with_sni) {
            tls.sni = "broker.example.com";
        }
        std::optional<ConnectError> opened;
        link->open("127.0.0.1", peer.server.port(), tls, 10s,
                   [&](ConnectError e, const std::string&) { opened = e; });
        ASSERT_TRUE(loop.until([&] { return opened.has_value(); }));
        EXPECT_EQ(*opened, ConnectError::None);
        EXPECT_EQ(link->state(), MqttLink::State::Open);
        link->close();
    }
    auto hs = peer.server.waitHandshakes(2, 10s);
    ASSERT_TRUE(hs);
    ASSERT_EQ(hs->size(), 2U);
    EXPECT_EQ((*hs)[0].sni, "broker.example.com");
    EXPECT_EQ((*hs)[1].sni, "");
}

TEST(MqttLinkTest, ADroppedConnectionIsReportedAsLostByThePeer) {
    TestBroker broker;
    ASSERT_EQ(broker.startError(), "");
    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    std::optional<MqttLostReason> lost;
    link->onLost([&](MqttLostReason r, const std::string&) { lost = r; });
    auto out = connectNow(loop, *link, broker.port(), {}, session("dropper"));
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail;
    link->dropAsRemote();
    ASSERT_TRUE(loop.until([&] { return lost.has_value(); }));
    EXPECT_EQ(*lost, MqttLostReason::PeerClosed);
    EXPECT_EQ(link->state(), MqttLink::State::Idle);

    // Connects again afterwards; a publish after the loss fails cleanly.
    std::optional<bool> acked;
    link->publish("x", "y", 1, false, [&](bool ok, const std::string&) { acked = ok; });
    ASSERT_TRUE(loop.until([&] { return acked.has_value(); }));
    EXPECT_FALSE(*acked);
    out = connectNow(loop, *link, broker.port(), {}, session("dropper"));
    EXPECT_EQ(out.result, MqttConnectResult::Ok) << out.detail;
    link->close();
}

TEST(MqttLinkTest, DisconnectReachesTheBrokerSoOnlyALostLinkSendsTheWill) {
    TestBroker broker;
    BrokerPeer cloud(broker.port());
    ASSERT_EQ(peerReady(broker, cloud, "will/#"), "");
    Loop loop;
    auto link = std::make_shared<MqttLink>(loop.io());
    MqttSession s = session("with-will");
    s.will = MqttWill{"will/module", "gone", 1, false};

    auto out = connectNow(loop, *link, broker.port(), {}, s);
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail;
    std::optional<bool> disconnected;
    link->disconnect([&](bool ok, const std::string&) { disconnected = ok; });
    ASSERT_TRUE(loop.until([&] { return disconnected.has_value(); }));
    // A marker after the clean disconnect: the will must not come before it.
    ASSERT_TRUE(cloud.publish("will/marker", "m", 1));
    auto msgs = cloud.waitFor(1);
    ASSERT_GE(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].topic, "will/marker");

    out = connectNow(loop, *link, broker.port(), {}, s);
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail;
    link->dropAsRemote();
    msgs = cloud.waitFor(2);
    ASSERT_EQ(msgs.size(), 2U);
    EXPECT_EQ(msgs[1].topic, "will/module");
    EXPECT_EQ(msgs[1].payload, "gone");
}

TEST(MqttLinkTest, NoPingResponseIsALossByTheClient) {
    Loop loop;
    // A "broker" that accepts the CONNECT and then never answers again (no PINGRESP).
    asio::ip::tcp::acceptor acceptor(loop.io(), {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket peer(loop.io());
    std::array<char, 256> buf{};
    std::function<void()> drain = [&] {
        peer.async_read_some(asio::buffer(buf), [&](std::error_code ec, size_t) {
            if (!ec) {
                drain();
            }
        });
    };
    const std::string connack("\x20\x02\x00\x00", 4);
    acceptor.async_accept(peer, [&](std::error_code ec) {
        if (!ec) {
            asio::write(peer, asio::buffer(connack), ec);
            drain();
        }
    });
    auto link = std::make_shared<MqttLink>(loop.io());
    std::optional<MqttLostReason> lost;
    link->onLost([&](MqttLostReason r, const std::string&) { lost = r; });
    MqttSession s = session("silent-broker");
    s.keep_alive_s = 1;
    auto out = connectNow(loop, *link, acceptor.local_endpoint().port(), {}, s);
    ASSERT_EQ(out.result, MqttConnectResult::Ok) << out.detail;
    ASSERT_TRUE(loop.until([&] { return lost.has_value(); }));
    EXPECT_EQ(*lost, MqttLostReason::ClientClosed);
}

TEST(MqttLinkTest, NoConnackInTimeIsATimeout) {
    Loop loop;
    // A "broker" that accepts the connection and never answers the CONNECT.
    asio::ip::tcp::acceptor acceptor(loop.io(), {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket peer(loop.io());
    acceptor.async_accept(peer, [](std::error_code) {});
    auto link = std::make_shared<MqttLink>(loop.io());
    MqttSession s = session("waiting");
    s.timeout = 1s;
    auto out = connectNow(loop, *link, acceptor.local_endpoint().port(), {}, s);
    EXPECT_EQ(out.result, MqttConnectResult::Timeout) << out.detail;
    EXPECT_EQ(link->state(), MqttLink::State::Idle);
}
