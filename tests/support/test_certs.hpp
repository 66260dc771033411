// SPDX-License-Identifier: Apache-2.0
// Certificates made by a test with the OpenSSL API: any validity window (expired, not yet
// valid), CA or leaf, signed by a given CA. For the doctor's and `uplinkctl certs`' tests.
// Thread: the test's.
#pragma once

#include <string>

namespace uplinkd::testing {

struct TestCert {
    std::string cert, key;  ///< PEM file paths
};

/// A P-256 key and a certificate with subject CN=`cn`, valid from now + `from_days` to now +
/// `to_days`, signed by the CA in `ca_cert`/`ca_key` (self-signed when both are empty), with
/// basicConstraints CA:TRUE when `ca`. Files `<dir>/<name>.crt` and `<dir>/<name>.key` (0600).
TestCert makeCert(const std::string& dir, const std::string& name, const std::string& cn,
                  const std::string& ca_cert, const std::string& ca_key, int from_days, int to_days,
                  bool ca = false);

}  // namespace uplinkd::testing
