// SPDX-License-Identifier: Apache-2.0
// TestPki: a throw-away CA and server certificate made with the OpenSSL API for one test.
#pragma once

#include <string>

namespace emutest {

/// A key and certificate in PEM.
struct Credential {
    std::string cert_pem;
    std::string key_pem;
};

/// A root CA (EC P-256) and a server certificate it signed, for DNS:localhost and
/// IP:127.0.0.1. `ok` is false when OpenSSL failed. Value type.
struct TestPki {
    bool ok = false;
    Credential ca;
    Credential server;

    /// Makes a new CA named `ca_name` and a server certificate for "localhost".
    static TestPki make(const std::string& ca_name = "uplinkd emulator test root");
};

/// Turns LF line ends into CR LF.
std::string toCrlf(const std::string& text);

}  // namespace emutest
