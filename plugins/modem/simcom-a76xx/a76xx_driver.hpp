// SPDX-License-Identifier: Apache-2.0
// simcom-a76xx: the modem plugin for SIMCom A7670 / A7672 (A76xx) and SIM7600: bring-up,
// `modem info`, the certificate store, plain sockets (NETOPEN / CIPOPEN / CIPSEND / CIPRXGET),
// TLS sockets done by the module (CSSLCFG with SNI, CCHOPEN / CCHSEND / CCHRECV), the module's
// MQTT client (CMQTT*, see a76xx_mqtt.hpp), and plain words for its error codes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "a76xx_commands.hpp"
#include "common/driver_core.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::simcom_a76xx {

struct A76xxCore;

/// ModemDriver for the A76xx / SIM7600: every I/O goes through the AtChannel. Sockets it opened
/// keep working until the driver is destroyed, then fail with "closed". Thread: loop.
///  - start(): ATE0, AT+CMEE=1, SIM (PIN if configured), AT+CGDCONT (and AT+CGAUTH) with the
///    APN, registration (+CEREG / +CGREG polled), AT+CIPRXGET=1, AT+NETOPEN. A second start()
///    cancels the first one.
///  - provision(): AT+CCERTDOWN of uplinkd_ca.pem (and uplinkd_cert.pem / uplinkd_key.pem),
///    then AT+CCERTLIST must list them (the module cannot show a file's content).
///  - open(): plain: AT+CIPOPEN. TLS: AT+CCHSTART once, the SSL context (SNI on), AT+CCHOPEN.
///  - mqtt(): the module's MQTT client; with settings.mqtt_offload, start() also starts its
///    service and fails in plain words on firmware without it.
class A76xxDriver final : public modem_common::DriverFront {
  public:
    A76xxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
                A76xxTiming timing = kA76xxTiming);
    ~A76xxDriver() override;
    ModemMqtt* mqtt() override { return mqtt_; }

  private:
    explicit A76xxDriver(const std::shared_ptr<A76xxCore>& core);
    ModemMqtt* mqtt_;  ///< owned by the core, which lives as long as this driver
};

/// The plugin's ModemPluginApi::create: checks the settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (ATI / AT+CGMM answers).
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::simcom_a76xx
