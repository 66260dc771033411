// SPDX-License-Identifier: Apache-2.0
// sierra-bx310x: the modem plugin for the Sierra Wireless BX3105 / BX310x Wi-Fi/BLE module (the
// "K" command set): Wi-Fi station bring-up, `modem info`, the certificate store, the module's
// MQTT client (MQTT offload, TLS by the module) and plain words for its codes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "bx_commands.hpp"
#include "common/driver_core.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::sierra_bx310x {

struct BxCore;

/// ModemDriver for the BX310x: every I/O goes through the AtChannel. Thread: loop.
///  - start(): AT, ATE0, AT+CMEE=1, the MQTT client check (when a route offloads MQTT),
///    AT+SRWCFG=1, AT+SRWSTACFG with ssid/psk, AT+SRWSTACON=1, then +SRWSTASTATUS: 1 and
///    +SRWSTAIP. A second start() cancels the first.
///  - provision(): local checks (root CA self-signed, key matching the certificate), then
///    AT+KCERTSTORE (root, client certificate) and AT+KPRIVKSTORE, each CONNECT + PEM with
///    CR+LF + guard time + "+++"; AT+KCERTSTORE? is compared.
///  - mqtt(): the module's MQTT client (AT+KMQTT*).
///  - open(): not offered (no socket support in this driver): routes use mqtt = "modem".
class BxDriver final : public modem_common::DriverFront {
  public:
    BxDriver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
             BxTiming timing = kBxTiming);
    ~BxDriver() override;
    ModemMqtt* mqtt() override { return mqtt_.get(); }

  private:
    explicit BxDriver(const std::shared_ptr<BxCore>& core);
    std::unique_ptr<ModemMqtt> mqtt_;
};

/// OK when the Wi-Fi settings can be given to the module (an SSID of 1-32 bytes, a passphrase
/// of 8-63 characters or none, neither with '"' or control characters); else a "config" error
/// that never shows the passphrase.
Status checkWifiSettings(const ModemSettings& settings);

/// The plugin's ModemPluginApi::create: checks the settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (ATI answers).
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::sierra_bx310x
