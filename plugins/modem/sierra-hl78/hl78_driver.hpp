// SPDX-License-Identifier: Apache-2.0
// sierra-hl78: the modem plugin for Sierra Wireless HL7800 / HL7802 / HL7812 (the "K" command
// set): bring-up, `modem info`, the certificate store, plain and TLS sockets (TLS done by the
// module), and plain words for its error codes. Thread: loop.
#pragma once

#include <asio.hpp>

#include "common/driver_core.hpp"
#include "hl78_commands.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::sierra_hl78 {

/// ModemDriver for the HL78xx: every I/O goes through the AtChannel. Sockets it opened keep
/// working until the driver is destroyed, then fail with "closed". Thread: loop.
///  - start(): ATE0, AT+CMEE=1, AT+KPATTERN, SIM (PIN if configured), registration (+CEREG
///    polled), AT+KCNXCFG with the APN, bearer up. A second start() cancels the first one.
///  - provision(): root CA(s) with AT+KCERTSTORE=0 (index 0-3), client certificate with
///    AT+KCERTSTORE=1 and key with AT+KPRIVKSTORE=0, PEM with CR+LF line ends; then
///    AT+KCERTSTORE? is compared.
///  - open(): AT+KTCPCFG (mode 0, or 3 for TLS with the host as SNI) and AT+KTCPCNX.
class Hl78Driver final : public modem_common::DriverFront {
  public:
    Hl78Driver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
               Hl78Timing timing = kHl78Timing);
    ~Hl78Driver() override;
};

/// The plugin's ModemPluginApi::create: checks the settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (ATI / AT+CGMM answers).
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::sierra_hl78
