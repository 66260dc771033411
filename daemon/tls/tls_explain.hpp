// SPDX-License-Identifier: Apache-2.0
// Plain words for TLS failures: OpenSSL verify errors and TLS alerts, with the hint that fixes
// them. Pure tables. Thread: any.
#pragma once

#include <string>

namespace uplinkd {

/// What the session saw while the handshake (or the first reads) ran.
struct TlsFacts {
    std::string server_name;  ///< SNI sent (empty: none)
    bool sni_sent = false;
    bool client_cert_configured = false;
    bool cert_requested = false;  ///< the server sent a CertificateRequest
    int alert_received = -1;      ///< TLS alert description from the server, -1 none
    int alert_sent = -1;          ///< TLS alert description we sent, -1 none
    long verify_error = 0;        ///< X509_V_ERR_*, 0 = none
    int verify_depth = -1;        ///< depth of the certificate that failed
    std::string verify_subject;   ///< subject of that certificate
    std::string verify_issuer;    ///< its issuer
    std::string peer_subject;     ///< the broker's leaf certificate subject
    std::string alpn_offered;
    std::string openssl_error;  ///< drained OpenSSL error queue, for the details
};

/// Name of a TLS alert, e.g. 40 → "handshake_failure".
std::string tlsAlertName(int alert);
/// Plain words for a verify error with what to do about it.
std::string explainVerifyError(const TlsFacts& facts);
/// Plain words for a received alert, using what else is known (client cert configured, SNI, ALPN).
std::string explainAlert(const TlsFacts& facts);
/// The best one-paragraph explanation of a failed TLS connection.
std::string explainTlsFailure(const TlsFacts& facts);

}  // namespace uplinkd
