// SPDX-License-Identifier: Apache-2.0
// The doctor's modem findings from what was read of one module: AT answer, identity, SIM,
// registration, signal, bearer or Wi-Fi association, clock, SNI and certificate store. Pure (no
// I/O): check_modem.cpp gathers the facts, this file judges them. Thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uplinkd/diagnosis.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd::doctor {

/// A certificate file of the route, as the module must hold it.
struct ConfiguredCert {
    std::string setting;  ///< "[routes.aws.tls] ca_file"
    std::string path;
    std::string subject;     ///< "CN=uplinkd test CA"; empty when it does not parse
    std::string sha256;      ///< fingerprint (hex of the DER) of its first certificate
    int64_t not_before = 0;  ///< Unix seconds
    int64_t not_after = 0;   ///< Unix seconds
    bool parsed = false;     ///< the dates and fingerprint above are known
    int64_t size = 0;        ///< bytes of the file
};

/// Everything the modem findings of one uplink are judged from.
struct ModemFacts {
    std::string uplink;  ///< "lte"
    std::string route;   ///< "aws"
    std::string driver;  ///< "quectel-bg9x"
    std::string device;  ///< "/dev/ttyUSB2"
    bool wifi = false;   ///< a Wi-Fi module (ssid instead of SIM and APN)
    /// The module does TLS for this route (tls = "modem" or mqtt = "modem" on a TLS endpoint).
    bool module_tls = false;
    // What the uplink said (ModemUplink::Examination).
    std::string state;
    std::string problem;
    bool line_open = false;
    bool answered = false;
    std::optional<ModemInfo> info;
    std::string info_error;
    /// The module did not settle (ready, or a failed attempt) within the doctor's bound.
    bool still_starting = false;
    // The route's certificate files (module TLS only).
    std::optional<ConfiguredCert> ca;
    std::optional<ConfiguredCert> client_cert;
    /// uplinkd wrote exactly these files into the module and will not write them again by itself.
    bool uplinkd_wrote = false;
    int64_t system_now = 0;  ///< Unix seconds
};

/// Below this the signal gets a warning (dBm; about CSQ 6).
inline constexpr int kWeakSignalDbm = -101;
/// A module clock further off the system clock than this gets a warning (seconds).
inline constexpr int64_t kClockWarnSeconds = 5 * 60;

/// One finding per check, in order; after a failure that the later checks need, one
/// "skipped" finding says why.
std::vector<Finding> modemFindings(const ModemFacts& facts);

}  // namespace uplinkd::doctor
