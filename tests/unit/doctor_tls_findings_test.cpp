// SPDX-License-Identifier: Apache-2.0
// What the doctor's TLS handshakes mean (doctor/tls_findings): for each way a handshake ends, the
// check id that FAILs and the setting its fix names. Pure, from a table.
#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include "doctor/tls_findings.hpp"

namespace uplinkd::doctor {
namespace {

struct Row {
    const char* what;
    long verify_error;
    int alert;
    bool cert_requested;
    bool cert_configured;
    int first_byte;  ///< -1: the server sent nothing
    bool timed_out;
    const char* id;
    const char* fix_names;
};

// clang-format off
const Row kRows[] = {
    {"root CA missing", X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, -1, false, false, 0x16, false, "tls.chain", "[routes.r.tls] ca_file"},
    {"issuer unknown", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, -1, false, false, 0x16, false, "tls.chain", "[routes.r.tls] ca_file"},
    {"intermediate only", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, -1, false, false, 0x16, false, "tls.chain", "[routes.r.tls] ca_file"},
    {"name mismatch", X509_V_ERR_HOSTNAME_MISMATCH, -1, false, false, 0x16, false, "tls.chain", "[routes.r.tls] server_name"},
    {"not yet valid", X509_V_ERR_CERT_NOT_YET_VALID, -1, false, false, 0x16, false, "tls.chain", "clock"},
    {"certificate required", 0, 116, true, false, 0x16, false, "tls.client_cert", "[routes.r.tls] cert_file"},
    {"40 after a request, none configured", 0, 40, true, false, 0x16, false, "tls.client_cert", "[routes.r.tls] key_file"},
    {"bad certificate", 0, 42, true, true, 0x16, false, "tls.client_cert", "[routes.r.tls] cert_file"},
    {"unknown CA", 0, 48, true, true, 0x16, false, "tls.client_cert", "[routes.r.tls] cert_file"},
    {"no application protocol", 0, 120, false, false, 0x16, false, "tls.alpn", "[routes.r.tls] alpn"},
    {"unrecognized name", 0, 112, false, false, 0x16, false, "tls.sni", "[routes.r.tls] server_name"},
    {"no shared cipher", 0, 40, false, false, 0x16, false, "tls.handshake", "[routes.r.tls] ciphers_tls12"},
    {"silent port", 0, -1, false, false, -1, true, "tls.handshake", "[routes.r.cloud] port"},
    {"plain MQTT answer", 0, -1, false, false, 0x20, false, "tls.handshake", "[routes.r.cloud] port"},
};
// clang-format on

/// The doctor's TLS checks on route "r".
class DoctorTlsFindings : public ::testing::Test {
  protected:
    DoctorTlsFindings() {
        rc.name = "r";
        route.route = &rc;
        o.server_name = "broker.example";
    }
    static BrokerEndpoint endpoint(const std::string& host, uint16_t port) {
        BrokerEndpoint ep;
        ep.host = host;
        ep.port = port;
        return ep;
    }
    RouteConfig rc;
    RouteUnderTest route;
    TlsOptions o;  ///< server_name "broker.example"
};

TEST_F(DoctorTlsFindings, EachEndOfAFailedHandshakeFailsTheRightCheckAndNamesTheSetting) {
    const BrokerEndpoint ep = endpoint("broker.example", 8883);
    o.ca_file = "/etc/uplinkd/ca.pem";
    for (const Row& row : kRows) {
        TlsProbe p;
        p.status = fail("tls", "failed");
        p.facts.verify_error = row.verify_error;
        p.facts.alert_received = row.alert;
        p.facts.cert_requested = row.cert_requested;
        p.facts.client_cert_configured = row.cert_configured;
        p.facts.sni_sent = true;
        p.facts.server_name = o.server_name;
        p.answer.bytes = row.first_byte < 0 ? 0 : 5;
        p.answer.first_byte = row.first_byte;
        p.answer.timed_out = row.timed_out;
        const Finding f = failureFinding(route, ep, o, p);
        EXPECT_EQ(f.layer, CheckLayer::Tls) << row.what;
        EXPECT_EQ(f.outcome, CheckOutcome::Fail) << row.what;
        EXPECT_EQ(f.id, row.id) << row.what << ": " << f.found;
        EXPECT_NE(f.fix.find(row.fix_names), std::string::npos) << row.what << ": " << f.fix;
        EXPECT_FALSE(f.found.empty()) << row.what;
    }
}

TEST_F(DoctorTlsFindings, AHandshakeThatWorkedReportsEveryCheckAndWarnsOnAnUnaskedCertificate) {
    route.now = std::chrono::system_clock::from_time_t(1'800'000'000);
    o.cert_file = "/etc/uplinkd/device.crt";
    TlsProbe p;
    p.version = "TLSv1.3";
    p.cipher = "TLS_AES_128_GCM_SHA256";
    p.chain = {"/CN=broker.example (issued by /CN=Root)"};
    p.facts.sni_sent = true;
    p.leaf_validity = std::make_pair(std::time_t{1'700'000'000}, std::time_t{1'900'000'000});
    const auto found = handshakeFindings(route, o, p, "network (eth0)");
    ASSERT_EQ(found.size(), 5u);
    EXPECT_EQ(found[0].id, "tls.handshake");
    EXPECT_NE(found[0].found.find("TLSv1.3"), std::string::npos);
    EXPECT_EQ(found[1].id, "tls.chain");
    EXPECT_EQ(found[1].outcome, CheckOutcome::Ok) << found[1].found;
    EXPECT_EQ(found[4].id, "tls.client_cert");
    EXPECT_EQ(found[4].outcome, CheckOutcome::Warn);
    EXPECT_NE(found[4].fix.find("[routes.r.tls] cert_file"), std::string::npos);

    // A clock outside the broker certificate's validity is a warning on the chain.
    route.now = std::chrono::system_clock::from_time_t(86400);
    const auto early = handshakeFindings(route, o, p, "network (eth0)");
    EXPECT_EQ(early[1].outcome, CheckOutcome::Warn) << early[1].found;
    EXPECT_NE(early[1].fix.find("clock"), std::string::npos);
}

TEST_F(DoctorTlsFindings, ClosedAfterTheHelloSaysWhetherSniOrAlpnWasTheCause) {
    const BrokerEndpoint ep = endpoint("192.0.2.7", 443);
    TlsProbe p;
    EXPECT_EQ(sniMissing(route, ep, p).id, "tls.sni");
    EXPECT_NE(sniMissing(route, ep, p).found.find("IP address"), std::string::npos);
    EXPECT_NE(sniRefused(route, o, p).fix.find("[routes.r.tls] server_name"), std::string::npos);
    const Finding alpn = alpnNeeded(route, ep, "x-amzn-mqtt-ca");
    EXPECT_EQ(alpn.id, "tls.alpn");
    EXPECT_NE(alpn.fix.find("8883"), std::string::npos);
    EXPECT_EQ(closedAfterHello(route, ep, o, p).id, "tls.handshake");
}

}  // namespace
}  // namespace uplinkd::doctor
