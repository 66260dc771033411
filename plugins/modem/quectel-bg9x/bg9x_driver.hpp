// SPDX-License-Identifier: Apache-2.0
// quectel-bg9x: the modem plugin for Quectel BG96 / BG95 / BG77 and the EG9x / EC2x modules that
// share their command set: bring-up (RDY / APP RDY as boot indications, PIN, QICSGP, QIACT),
// `modem info` (with AT+QNWINFO and the file store), the certificate store (QFUPL), plain
// sockets (QIOPEN in buffer mode, QISEND, QIRD), TLS sockets done by the module (QSSLCFG with
// SNI always on, QSSLOPEN, QSSLSEND, QSSLRECV), the module's MQTT client (QMT*) and plain words
// for its codes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "bg9x_commands.hpp"
#include "common/driver_core.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/modem_mqtt.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::quectel_bg9x {

struct Bg9xCore;

/// ModemDriver for the BG9x family: every I/O goes through the AtChannel. Sockets it opened
/// keep working until the driver is destroyed, then fail with "closed". Thread: loop.
///  - start(): ATE0, AT+CMEE=1, SIM (PIN if configured), AT+QICSGP with the APN, registration
///    (+CEREG / +CGREG polled), AT+QIACT=1 unless active, and (mqtt = "modem") a check that the
///    firmware has the MQTT client. A second start() cancels the first one.
///  - provision(): AT+QFDEL then AT+QFUPL of uplinkd_ca.pem (and uplinkd_cert.pem /
///    uplinkd_key.pem), each checked against the module's +QFUPL size (and checksum); the SSL
///    context with SNI; the module's clock against the certificates' validity.
///  - open(): plain: AT+QIOPEN (buffer mode). TLS: the SSL context, AT+QSSLOPEN.
///  - mqtt(): the module's MQTT client (AT+QMT*).
class Bg9xDriver final : public modem_common::DriverFront {
  public:
    Bg9xDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
               Bg9xTiming timing = kBg9xTiming);
    ~Bg9xDriver() override;
    ModemMqtt* mqtt() override { return mqtt_.get(); }

  private:
    explicit Bg9xDriver(std::shared_ptr<Bg9xCore> core);
    std::unique_ptr<ModemMqtt> mqtt_;  ///< the module's client (run by the core)
};

/// The plugin's ModemPluginApi::create: checks the settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (ATI / AT+CGMM answers).
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::quectel_bg9x
