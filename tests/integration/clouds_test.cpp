// SPDX-License-Identifier: Apache-2.0
// The clouds' look-alikes, end to end through uplinkd: real Mosquitto brokers (and HAProxy front
// ends) on ephemeral ports, configured like
// - AWS IoT Core: mutual TLS (the certificate's CN is the user name) behind a "443" front end
//   that only lets through a ClientHello offering ALPN x-amzn-mqtt-ca;
// - Azure IoT Hub: SAS tokens checked by the mosquitto_azure_sas_auth plugin (which also kicks
//   connections whose token expired), cloud-to-device messages, MQTT over WebSocket;
// - HiveMQ Cloud: user name and password behind a front end that refuses TLS without the SNI.
// Every test fails (never skips) when mosquitto, haproxy or the plugins are missing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <set>
#include <thread>

#include "api_helpers.hpp"
#include "broker_builder.hpp"
#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {
namespace {

using nlohmann::json;

constexpr const char* kAwsEndpoint = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";
constexpr const char* kThing = "gateway-1";  // also the CN of the test client certificate
constexpr const char* kAwsAlpn = "x-amzn-mqtt-ca";

constexpr const char* kCluster = "0123456789abcdef0123456789abcdef.s1.eu.hivemq.cloud";
constexpr const char* kHiveUser = "gateway-01";
constexpr const char* kHivePassword = "correct horse battery staple";
constexpr const char* kHiveClientId = "gw-hivemq";

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

/// Waits until `what` occurs at least `n` times in the text `log` returns.
bool waitForLog(const std::function<std::string()>& log, const std::string& what, size_t n,
                std::chrono::milliseconds timeout) {
    return waitUntil([&] { return occurrences(log(), what) >= n; }, timeout);
}

/// What a bare TLS handshake by the test (no MQTT) came to.
struct Handshake {
    bool ok = false;
    std::string error;
};

/// A TLS handshake with 127.0.0.1:port as any client could make it: `sni` empty sends no SNI
/// extension at all, `alpn` empty offers no ALPN. The broker's certificate is checked against
/// "localhost" either way, so a refusal can only come from what the client offered.
Handshake tlsHandshake(uint16_t port, const Pki& pki, const std::string& sni,
                       const std::string& alpn, bool client_certificate) {
    Handshake h;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx, pki.ca.c_str(), nullptr), 1);
    if (client_certificate) {
        EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx, pki.client_cert.c_str()), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx, pki.client_key.c_str(), SSL_FILETYPE_PEM), 1);
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        h.error = std::string("TCP connect failed: ") + std::strerror(errno);
    } else {
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        SSL_set1_host(ssl, "localhost");
        if (!sni.empty()) {
            SSL_set_tlsext_host_name(ssl, sni.c_str());
        }
        if (!alpn.empty()) {
            std::vector<unsigned char> wire{static_cast<unsigned char>(alpn.size())};
            wire.insert(wire.end(), alpn.begin(), alpn.end());
            SSL_set_alpn_protos(ssl, wire.data(), static_cast<unsigned>(wire.size()));
        }
        ERR_clear_error();
        const int rc = SSL_connect(ssl);
        h.ok = rc == 1;
        if (!h.ok) {
            char buf[256] = "";
            ERR_error_string_n(ERR_peek_last_error(), buf, sizeof buf);
            h.error =
                "SSL_connect: SSL_get_error " + std::to_string(SSL_get_error(ssl, rc)) + " " + buf;
        }
        SSL_free(ssl);
    }
    ::close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return h;
}

/// Reads lines until a message event arrives (or the timeout passes: then null).
json awaitEvent(ApiClient& c, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) {
            return {};
        }
        auto r = c.receive(left);
        if (!r) {
            return {};
        }
        if (r->contains("event")) {
            return *r;
        }
    }
}

json publishRequest(int id, const std::string& route, const std::string& topic,
                    const std::string& payload) {
    return json{{"op", "publish"}, {"id", id},           {"route", route},
                {"topic", topic},  {"payload", payload}, {"qos", 1}};
}

/// Subscribes `c` on the local API and checks the answer.
void subscribeLocally(ApiClient& c, const std::string& route, const std::string& filter) {
    ASSERT_TRUE(c.send(
        {{"op", "subscribe"}, {"id", "sub"}, {"route", route}, {"filter", filter}, {"qos", 1}}));
    const json ok = awaitApiReply(c, "sub", "ok");
    ASSERT_EQ(ok["status"], "ok") << ok.dump();
}

/// A ClientHello shown to a gate: what it offers, and whether the gate must let it through.
struct Hello {
    const char* what;  ///< "without ALPN", ...
    std::string sni;
    std::string alpn;
    bool passes;
};

/// The gate lets through exactly those of `hellos` that pass (each made with a client certificate
/// when `client_certificate`) and logs a refusal for each other one.
void expectGateSorts(Haproxy& gate, const Pki& pki, bool client_certificate,
                     const std::vector<Hello>& hellos) {
    size_t refusals = 0;
    for (const Hello& h : hellos) {
        const Handshake hs = tlsHandshake(gate.port(), pki, h.sni, h.alpn, client_certificate);
        EXPECT_EQ(hs.ok, h.passes) << "a ClientHello " << h.what
                                   << (hs.ok ? " got through" : " was refused: " + hs.error) << "\n"
                                   << gate.log();
        refusals += h.passes ? 0 : 1;
    }
    // HAProxy writes its log line as the connection ends, maybe after the client saw the end.
    EXPECT_TRUE(waitUntil([&] { return gate.refused() >= refusals; }, 5s)) << gate.log();
    EXPECT_EQ(gate.refused(), refusals) << gate.log();
}

/// Waits until the route reports an error, and returns its status.
json awaitRouteError(Daemon& d, const std::string& route) {
    json st;
    EXPECT_TRUE(routeFailed(d, route, 20s, &st));
    return st;
}

std::string deliveryToml(const std::string& route) {
    return "[routes." + route +
           ".delivery]\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\nrefused_backoff_ms = "
           "1000\n";
}

class Clouds : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"), kThing);

    // ---- AWS IoT look-alike ----------------------------------------------------------------

    /// An aws-iot route to the front end at `port`, with the client certificate of `client`
    /// (none when it is null). `aws_port` is the AWS port it believes it dials (443: ALPN).
    std::string awsRoute(uint16_t port, const Pki* client, int aws_port = 443) const {
        std::string t = std::string("[routes.aws.cloud]\ntype = \"aws-iot\"\nendpoint = \"") +
                        kAwsEndpoint + "\"\nthing_name = \"" + kThing +
                        "\"\nport = " + std::to_string(aws_port) +
                        "\nendpoint_override = \"localhost:" + std::to_string(port) +
                        "\"\ntopic_template = \"dt/{thing}/{topic}\"\n" +
                        "[routes.aws.tls]\nca_file = \"" + pki.ca + "\"\n";
        if (client != nullptr) {
            t += "cert_file = \"" + client->client_cert + "\"\nkey_file = \"" + client->client_key +
                 "\"\n";
        }
        return t + deliveryToml("aws");
    }

    // ---- Azure IoT Hub look-alike ----------------------------------------------------------

    std::string azureRoute(uint16_t port, const std::string& extra_cloud = "") const {
        const std::string key_file = dir.file("dev1.key");
        writeFile(key_file, std::string(kDeviceKey) + "\n", 0600);
        return std::string("[routes.azure.cloud]\ntype = \"azure-iot-hub\"\nhub = \"") + kHub +
               "\"\ndevice_id = \"" + kDevice + "\"\nsas_key_file = \"" + key_file +
               "\"\ngateway_host = \"localhost\"\nport = " + std::to_string(port) + "\n" +
               extra_cloud + "[routes.azure.tls]\nca_file = \"" + pki.ca + "\"\n" +
               deliveryToml("azure");
    }

    // ---- HiveMQ Cloud look-alike -----------------------------------------------------------

    Subscriber::Options hivemqClient(const std::string& client_id) const {
        Subscriber::Options o;
        o.username = kHiveUser;
        o.password = kHivePassword;
        o.client_id = client_id;
        return o;
    }

    /// A hivemq-cloud route that dials `host`:`port` (the SNI front end) instead of the cluster.
    std::string hivemqRoute(const std::string& host, uint16_t port,
                            const std::string& password = kHivePassword) const {
        const std::string password_file = dir.file("hivemq.password");
        writeFile(password_file, password + "\n", 0600);
        return std::string("[routes.hive.cloud]\ntype = \"hivemq-cloud\"\ncluster = \"") +
               kCluster + "\"\nusername = \"" + kHiveUser + "\"\npassword_file = \"" +
               password_file + "\"\nclient_id = \"" + kHiveClientId + "\"\nendpoint_override = \"" +
               host + ":" + std::to_string(port) + "\"\n" + "[routes.hive.tls]\nca_file = \"" +
               pki.ca + "\"\n" + deliveryToml("hive");
    }
};

// ---- AWS IoT ---------------------------------------------------------------------------------

TEST_F(Clouds, AwsLikeMutualTlsThroughTheAlpnGateOn443Delivers) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::alpnGate(kAwsAlpn));
    Subscriber sub(pki, broker.port(), "dt/#", true, pki.client_cert, pki.client_key);
    Daemon d(dir, awsRoute(gate.port(), &pki));
    ASSERT_TRUE(routeOnline(d, "aws", 20s)) << "\n" << gate.log();

    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(publishDelivered(c, publishRequest(1, "aws", "sensors/temp", "21.5")));
    ASSERT_TRUE(received(sub, 0, "dt/gateway-1/sensors/temp", "21.5"));
    // The broker knew the thing by its certificate.
    EXPECT_NE(broker.log().find("u'gateway-1'"), std::string::npos) << broker.log();
    EXPECT_EQ(d.routeStatus("aws")["broker"], "localhost:" + std::to_string(gate.port()));
}

TEST_F(Clouds, AwsLikeTheGateRefusesClientsWithoutTheAwsAlpn) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::alpnGate(kAwsAlpn));
    expectGateSorts(gate, pki, true,
                    {{"with the AWS ALPN", "localhost", kAwsAlpn, true},
                     {"without ALPN", "localhost", "", false},
                     {"with ALPN \"mqtt\"", "localhost", "mqtt", false}});

    // uplinkd offers the ALPN only for port 443; configured for 8883 it is refused, and told why.
    Daemon d(dir, awsRoute(gate.port(), &pki, 8883));
    const json st = awaitRouteError(d, "aws");
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("closed without answering the ClientHello"), std::string::npos) << err;
    EXPECT_NE(err.find("AWS IoT on port 443 needs x-amzn-mqtt-ca"), std::string::npos) << err;
    EXPECT_TRUE(waitUntil([&] { return gate.refused() > 2; }, 5s)) << gate.log();
}

TEST_F(Clouds, AwsLikeAMissingClientCertificateIsExplained) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::alpnGate(kAwsAlpn));
    Daemon d(dir, awsRoute(gate.port(), nullptr));
    const json st = awaitRouteError(d, "aws");
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("the broker requires a client certificate, but none is configured"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("tls.cert_file"), std::string::npos) << err;
    EXPECT_NE(st["state"], "online");
}

TEST_F(Clouds, AwsLikeAClientCertificateFromAnotherCaIsExplained) {
    Mosquitto broker = BrokerBuilder(dir).certificateAsUsername().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::alpnGate(kAwsAlpn));
    const Pki stranger = makePki(dir.file("stranger"), kThing);
    Daemon d(dir, awsRoute(gate.port(), &stranger));
    const json st = awaitRouteError(d, "aws");
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("does not trust the issuer of the client certificate"), std::string::npos)
        << err;
    EXPECT_EQ(st["last_error_code"], "tls_alert") << st.dump();
    EXPECT_NE(st["state"], "online");
}

// ---- Azure IoT Hub ---------------------------------------------------------------------------

TEST_F(Clouds, AzureLikeSasTokensAreRenewedWithoutARefusalOrALostMessage) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Subscriber service(pki, broker.port(), "devices/dev1/messages/events/#", azureServiceClient());
    Daemon d(dir, azureRoute(broker.port(), "sas_token_lifetime_seconds = 10\n"));
    ASSERT_TRUE(routeOnline(d, "azure", 20s)) << "\n" << broker.log();

    // One message every 100 ms for 60 s: six token lifetimes.
    constexpr int kCount = 600;
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCount; ++i) {
        std::this_thread::sleep_until(start + i * 100ms);  // the pace of the stream
        ASSERT_TRUE(c.send(publishRequest(i, "azure", "stream/seq", "m" + std::to_string(i))));
    }
    ASSERT_TRUE(awaitQueued(c, kCount, 20s));
    ASSERT_TRUE(waitUntil(
        [&] {
            std::set<std::string> got;
            for (const auto& m : service.messages())
                got.insert(m.payload);
            return got.size() == kCount;
        },
        20s))
        << service.messages().size() << " of " << kCount << " arrived";
    std::set<std::string> payloads;
    for (const auto& m : service.messages()) {
        EXPECT_EQ(m.topic, "devices/dev1/messages/events/topic=stream%2Fseq");
        payloads.insert(m.payload);
    }
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(payloads.count("m" + std::to_string(i)), 1u) << "m" << i << " did not arrive";
    }

    json st = d.routeStatus("azure");
    EXPECT_EQ(st["failures"], 0) << st.dump();
    EXPECT_GE(st["connects"].get<int>(), 6) << st.dump();
    EXPECT_EQ(st["delivered"], kCount) << st.dump();
    const std::string log = broker.log();
    EXPECT_EQ(occurrences(log, "azure-sas-auth: refused client"), 0u) << log;
    EXPECT_EQ(occurrences(log, "expired; disconnecting"), 0u) << log;
    EXPECT_GE(occurrences(log, "azure-sas-auth: accepted \"dev1\""), 6u);
    EXPECT_GE(occurrences(d.log(), "credentials expire soon, reconnecting"), 5u);
    EXPECT_EQ(d.log().find("connection lost"), std::string::npos) << d.log();
    // The token is a secret: uplinkd never writes it to its log.
    EXPECT_EQ(d.log().find("SharedAccessSignature"), std::string::npos);
    EXPECT_EQ(d.log().find("sig="), std::string::npos);
}

TEST_F(Clouds, AzureLikeCloudToDeviceMessagesReachALocalSubscriber) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    Subscriber service(pki, broker.port(), "nothing/here", azureServiceClient());
    Daemon d(dir, azureRoute(broker.port()));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_NO_FATAL_FAILURE(subscribeLocally(c, "azure", "cmd/#"));
    // The route subscribes to the device's C2D topic when it is online.
    ASSERT_TRUE(waitForLog([&] { return broker.log(); }, "Sending SUBACK to dev1", 1, 20s))
        << broker.log();

    service.publish(
        "devices/dev1/messages/devicebound/%24.mid=42&topic=cmd%2Freboot&color=dark%20red", "now");
    const json ev = awaitEvent(c, 10s);
    ASSERT_FALSE(ev.is_null()) << "no event\n" << broker.log();
    EXPECT_EQ(ev["event"], "message");
    EXPECT_EQ(ev["route"], "azure");
    EXPECT_EQ(ev["subscription"], "cmd/#");
    EXPECT_EQ(ev["topic"], "cmd/reboot");
    EXPECT_EQ(ev["payload"], "now");
    EXPECT_EQ(ev["qos"], 1);
    EXPECT_EQ(ev["properties"], (json{{"$.mid", "42"}, {"color", "dark red"}})) << ev.dump();
    EXPECT_EQ(ev["broker_topic"],
              "devices/dev1/messages/devicebound/%24.mid=42&topic=cmd%2Freboot&color=dark%20red");

    // A message without a usable local topic arrives as "c2d", and not for "cmd/#".
    ASSERT_NO_FATAL_FAILURE(subscribeLocally(c, "azure", "c2d"));
    service.publish("devices/dev1/messages/devicebound/", "bare");
    const json bare = awaitEvent(c, 10s);
    ASSERT_FALSE(bare.is_null());
    EXPECT_EQ(bare["topic"], "c2d");
    EXPECT_EQ(bare["subscription"], "c2d");
    EXPECT_EQ(bare["payload"], "bare");
}

TEST_F(Clouds, AzureLikeMqttOverWebSocketWorksThroughTheTunnel) {
    // The hub's listener speaks MQTT over WebSocket (TLS by mosquitto, path not checked); a
    // second, plain MQTT listener serves the service side, which libmosquitto needs.
    const uint16_t service_port = freePort();
    Mosquitto broker = BrokerBuilder(dir)
                           .sasTokens()
                           .logAll()
                           .extra("protocol websockets\nlistener " + std::to_string(service_port) +
                                  " 127.0.0.1\ncafile " + pki.ca + "\ncertfile " + pki.server_cert +
                                  "\nkeyfile " + pki.server_key + "\n" + sasAuthLines())
                           .start(pki);
    ASSERT_TRUE(waitForPort(service_port, 10s)) << broker.log();
    Subscriber service(pki, service_port, "devices/dev1/messages/events/#", azureServiceClient());
    Daemon d(dir, azureRoute(broker.port(), "websocket = true\n"));
    ASSERT_TRUE(routeOnline(d, "azure", 20s)) << "\n" << broker.log();

    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_NO_FATAL_FAILURE(subscribeLocally(c, "azure", "cmd/#"));
    ASSERT_TRUE(publishDelivered(c, publishRequest(1, "azure", "over/ws", "hello")));
    ASSERT_TRUE(received(service, 0, "devices/dev1/messages/events/topic=over%2Fws", "hello"))
        << broker.log();

    ASSERT_TRUE(waitForLog([&] { return broker.log(); }, "Sending SUBACK to dev1", 1, 20s));
    service.publish("devices/dev1/messages/devicebound/topic=cmd%2Fws", "back");
    const json ev = awaitEvent(c, 10s);
    ASSERT_FALSE(ev.is_null()) << "no event\n" << broker.log();
    EXPECT_EQ(ev["topic"], "cmd/ws");
    EXPECT_EQ(ev["payload"], "back");
}

TEST_F(Clouds, AzureLikeUplinkctlSasTokenPrintsATokenTheHubAccepts) {
    Mosquitto broker = BrokerBuilder(dir).sasTokens().logAll().start(pki);
    const std::string config = dir.file("uplinkd.toml");
    writeFile(config, azureRoute(broker.port()) + awsRoute(8883, &pki));
    const std::string ctl = buildDir() + "/daemon/uplinkctl sas-token --plugin-dir " + pluginDir() +
                            " --config " + config;
    const auto run = [&](const std::string& args) {
        const int status = std::system(
            (ctl + " " + args + " >" + dir.file("out.txt") + " 2>" + dir.file("err.txt")).c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };

    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    ASSERT_EQ(run("--route azure"), 0) << readFile(dir.file("err.txt"));
    std::string token = readFile(dir.file("out.txt"));
    ASSERT_FALSE(token.empty());
    ASSERT_EQ(token.back(), '\n');
    token.pop_back();
    EXPECT_EQ(token.find('\n'), std::string::npos) << "one line only: " << token;
    EXPECT_TRUE(token.starts_with(
        "SharedAccessSignature sr=testhub.azure-devices.net%2Fdevices%2Fdev1&sig="))
        << token;
    const size_t se = token.rfind("&se=");
    ASSERT_NE(se, std::string::npos) << token;
    const int64_t expiry = std::stoll(token.substr(se + 4));
    EXPECT_GE(expiry, now + 3600 - 5);
    EXPECT_LE(expiry, now + 3600 + 60);
    EXPECT_NE(readFile(dir.file("err.txt")).find("valid for"), std::string::npos);
    EXPECT_EQ(readFile(dir.file("err.txt")).find("SharedAccessSignature"), std::string::npos);

    // The hub look-alike accepts it, as a person checking by hand would use it.
    {
        Subscriber::Options o;
        o.username = std::string(kHub) + "/dev1/?api-version=2021-04-12";
        o.password = token;
        o.client_id = kDevice;
        Subscriber device(pki, broker.port(), "devices/dev1/messages/devicebound/#", o);
    }
    EXPECT_EQ(occurrences(broker.log(), "azure-sas-auth: accepted \"dev1\""), 1u) << broker.log();
    EXPECT_EQ(occurrences(broker.log(), "azure-sas-auth: refused client"), 0u) << broker.log();

    // A route whose cloud has no SAS token is refused, and so is an unknown route.
    EXPECT_EQ(run("--route aws"), 1);
    EXPECT_NE(readFile(dir.file("err.txt")).find("does not authenticate with a SAS token"),
              std::string::npos)
        << readFile(dir.file("err.txt"));
    EXPECT_EQ(readFile(dir.file("out.txt")), "");
    EXPECT_EQ(run("--route nowhere"), 1);
    EXPECT_NE(readFile(dir.file("err.txt")).find("no route \"nowhere\""), std::string::npos)
        << readFile(dir.file("err.txt"));
    EXPECT_EQ(readFile(dir.file("out.txt")), "");
}

// ---- HiveMQ Cloud ----------------------------------------------------------------------------

TEST_F(Clouds, HiveMqLikePasswordLoginBehindTheSniGateDelivers) {
    Mosquitto broker = BrokerBuilder(dir).passwords(kHiveUser, kHivePassword).logAll().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    Subscriber sub(pki, broker.port(), "plant/#", hivemqClient("reader"));
    Daemon d(dir, hivemqRoute("localhost", gate.port()));
    ASSERT_TRUE(routeOnline(d, "hive", 20s)) << "\n" << gate.log();
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(publishDelivered(c, publishRequest(1, "hive", "plant/line1/temp", "22.0")));
    ASSERT_TRUE(received(sub, 0, "plant/line1/temp", "22.0"));
    EXPECT_NE(broker.log().find("as gw-hivemq"), std::string::npos);
    EXPECT_NE(broker.log().find("u'gateway-01'"), std::string::npos);
}

TEST_F(Clouds, HiveMqLikeTheGateRefusesTlsWithoutTheServerName) {
    Mosquitto broker = BrokerBuilder(dir).passwords(kHiveUser, kHivePassword).logAll().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    expectGateSorts(gate, pki, false,
                    {{"with the server name", "localhost", "", true},
                     {"without SNI", "", "", false},
                     {"with another name", "other.s1.eu.hivemq.cloud", "", false}});

    // uplinkd sends no SNI for an IP address: the gate refuses it, and the error says why.
    Daemon d(dir, hivemqRoute("127.0.0.1", gate.port()));
    const json st = awaitRouteError(d, "hive");
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("carried no server name (SNI) because the host is an IP address"),
              std::string::npos)
        << err;
    EXPECT_NE(st["state"], "online");
    EXPECT_TRUE(waitUntil([&] { return gate.refused() > 2; }, 5s)) << gate.log();
}

TEST_F(Clouds, HiveMqLikeAWrongPasswordIsExplained) {
    Mosquitto broker = BrokerBuilder(dir).passwords(kHiveUser, kHivePassword).logAll().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    Daemon d(dir, hivemqRoute("localhost", gate.port(), "wrong password"));
    const json st = awaitRouteError(d, "hive");
    EXPECT_EQ(st["last_error_code"], "connack_5") << st.dump();
    const std::string err = st["last_error"];
    EXPECT_NE(err.find("HiveMQ Cloud refused the connection"), std::string::npos) << err;
    EXPECT_NE(err.find("credentials may be wrong"), std::string::npos) << err;
}

// ---- All clouds ------------------------------------------------------------------------------

TEST_F(Clouds, AMalformedEndpointOverrideIsAConfigurationError) {
    writeFile(dir.file("bad.toml"),
              std::string("[routes.aws.cloud]\ntype = \"aws-iot\"\nendpoint = \"") + kAwsEndpoint +
                  "\"\nthing_name = \"t1\"\n" + "endpoint_override = \"mqtts://localhost:8883\"\n" +
                  "[routes.hive.cloud]\ntype = \"hivemq-cloud\"\ncluster = \"" + kCluster +
                  "\"\nusername = \"u\"\npassword_file = \"" + dir.file("hive.pw") +
                  "\"\nclient_id = \"c\"\nendpoint_override = \"localhost:70000\"\n");
    writeFile(dir.file("hive.pw"), "secret\n", 0600);
    Process check({buildDir() + "/daemon/uplinkd", "--check-config", dir.file("bad.toml"),
                   "--plugin-dir", pluginDir()},
                  dir.file("check.log"));
    EXPECT_EQ(check.waitExit(10s), 78);
    EXPECT_NE(check.log().find("bad.toml:5:21: routes.aws.cloud.endpoint_override: write "
                               "\"host\" or \"host:port\", without a scheme"),
              std::string::npos)
        << check.log();
    EXPECT_NE(check.log().find("bad.toml:12:21: routes.hive.cloud.endpoint_override: expected "
                               "\"host\" or \"host:port\" with a port from 1 to 65535"),
              std::string::npos)
        << check.log();
}

TEST_F(Clouds, LocalSubscriptionsSurviveABrokerRestart) {
    Mosquitto broker = BrokerBuilder(dir).passwords(kHiveUser, kHivePassword).logAll().start(pki);
    Haproxy gate(dir, broker.port(), Haproxy::sniGate("localhost"));
    Daemon d(dir, hivemqRoute("localhost", gate.port()));
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_NO_FATAL_FAILURE(subscribeLocally(c, "hive", "cmd/#"));
    const std::string suback = std::string("Sending SUBACK to ") + kHiveClientId;
    ASSERT_TRUE(waitForLog([&] { return broker.log(); }, suback, 1, 20s)) << broker.log();
    {
        Subscriber sender(pki, broker.port(), "unused", hivemqClient("sender-1"));
        sender.publish("cmd/before", "1");
        const json ev = awaitEvent(c, 10s);
        ASSERT_FALSE(ev.is_null()) << "no event before the restart";
        EXPECT_EQ(ev["topic"], "cmd/before");
        EXPECT_EQ(ev["payload"], "1");
    }

    broker.restart();
    ASSERT_TRUE(d.waitRoute(
        "hive",
        [](const json& s) { return s["state"] == "online" && s["connects"].get<int>() >= 2; }, 20s))
        << d.routeStatus("hive").dump();
    // The log of the restarted broker is appended to the first one's.
    ASSERT_TRUE(waitForLog([&] { return broker.log(); }, suback, 2, 20s)) << broker.log();
    Subscriber sender(pki, broker.port(), "unused", hivemqClient("sender-2"));
    sender.publish("cmd/after", "2");
    const json ev = awaitEvent(c, 10s);
    ASSERT_FALSE(ev.is_null()) << "no event after the restart\n" << broker.log();
    EXPECT_EQ(ev["topic"], "cmd/after");
    EXPECT_EQ(ev["payload"], "2");
    EXPECT_EQ(d.routeStatus("hive")["received"], 2);
}

}  // namespace
}  // namespace uplinkd::testing
