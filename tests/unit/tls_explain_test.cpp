// SPDX-License-Identifier: Apache-2.0
// Plain words for TLS failures: each common failure names its cause and the fix.
#include "tls/tls_explain.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

namespace uplinkd {
namespace {

struct Case {
    const char* what;
    TlsFacts facts;
    std::vector<std::string> expected;
};

class TlsExplanations : public ::testing::TestWithParam<Case> {};

TEST_P(TlsExplanations, NameCauseAndFix) {
    const auto& c = GetParam();
    const std::string text = explainTlsFailure(c.facts);
    for (const auto& e : c.expected) {
        EXPECT_NE(text.find(e), std::string::npos)
            << c.what << ": \"" << e << "\" not in: " << text;
    }
}

TlsFacts verify(long err, std::string subject = "/CN=broker", std::string issuer = "/CN=Some CA") {
    TlsFacts f;
    f.server_name = "broker.example.com";
    f.verify_error = err;
    f.verify_depth = 0;
    f.verify_subject = std::move(subject);
    f.verify_issuer = std::move(issuer);
    return f;
}

TlsFacts alert(int a, bool cert_configured = false, bool sni = true) {
    TlsFacts f;
    f.server_name = "broker.example.com";
    f.alert_received = a;
    f.client_cert_configured = cert_configured;
    f.sni_sent = sni;
    f.alpn_offered = "x-amzn-mqtt-ca";
    return f;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TlsExplanations,
    ::testing::Values(
        Case{"root CA missing",
             verify(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
             {"issued by \"/CN=Some CA\"", "not in the trusted CAs", "tls.ca_file",
              "verify error 20"}},
        Case{"intermediate instead of root",
             verify(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT),
             {"intermediate but not the root", "verify error 2"}},
        Case{"host name mismatch",
             verify(X509_V_ERR_HOSTNAME_MISMATCH),
             {"not valid for the name \"broker.example.com\"", "verify error 62"}},
        Case{"clock behind", verify(X509_V_ERR_CERT_NOT_YET_VALID), {"clock", "NTP"}},
        Case{"self-signed server",
             verify(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
             {"self-signed", "SNI"}},
        Case{"client cert required, TLS 1.3",
             alert(116),
             {"requires a client certificate", "none is configured",
              "alert 116 certificate_required"}},
        Case{"client cert required, TLS 1.2",
             [] {
                 auto f = alert(40);
                 f.cert_requested = true;
                 return f;
             }(),
             {"requires a client certificate", "alert 40 handshake_failure"}},
        Case{"client cert from unknown CA",
             alert(48, true),
             {"does not trust the issuer", "alert 48"}},
        Case{"SNI missing", alert(112, false, false), {"needs SNI", "alert 112"}},
        Case{"wrong SNI", alert(112), {"does not serve the name \"broker.example.com\""}},
        Case{"ALPN refused", alert(120), {"ALPN", "x-amzn-mqtt-ca", "alert 120"}},
        Case{"plain port",
             [] {
                 TlsFacts f;
                 f.openssl_error = "wrong version number";
                 return f;
             }(),
             {"does not speak TLS"}}));

TEST(TlsExplain, AlertNames) {
    EXPECT_EQ(tlsAlertName(40), "handshake_failure");
    EXPECT_EQ(tlsAlertName(116), "certificate_required");
    EXPECT_EQ(tlsAlertName(250), "alert_250");
}

}  // namespace
}  // namespace uplinkd
