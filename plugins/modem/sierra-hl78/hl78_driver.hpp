// sierra-hl78: the modem plugin for Sierra Wireless HL7800 / HL7802 / HL7812 (the "K" command
// set): bring-up, `modem info`, the certificate store, plain and TLS sockets (TLS done by the
// module), and plain words for its error codes. Thread: loop.
#pragma once

#include <asio.hpp>
#include <memory>

#include "hl78_commands.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/plugin_abi.hpp"

namespace uplinkd::plugins::sierra_hl78 {

/// ModemDriver for the HL78xx: every I/O goes through the AtChannel. Sockets it opened keep
/// working until the driver is destroyed, then fail with "closed". Thread: loop.
class Hl78Driver final : public ModemDriver {
  public:
    Hl78Driver(asio::io_context& loop, AtChannel& at, ModemSettings settings,
               Hl78Timing timing = kHl78Timing);
    ~Hl78Driver() override;
    Hl78Driver(const Hl78Driver&) = delete;
    Hl78Driver& operator=(const Hl78Driver&) = delete;

    /// ATE0, AT+CMEE=1, AT+KPATTERN, SIM (PIN if configured), registration (+CEREG polled),
    /// AT+KCNXCFG with the APN, bearer up. A second start() cancels the first one.
    void start(StatusDone done) override;
    void info(std::function<void(Result<ModemInfo>)> done) override;
    /// Root CA(s) with AT+KCERTSTORE=0 (index 0-3), client certificate with AT+KCERTSTORE=1 and
    /// key with AT+KPRIVKSTORE=0, PEM with CR+LF line ends; then AT+KCERTSTORE? is compared.
    void provision(const ModemCredentials& creds, StatusDone done) override;
    /// AT+KTCPCFG (mode 0, or 3 for TLS with the host as SNI) and AT+KTCPCNX.
    void open(const ModemSocketRequest& request,
              std::function<void(Result<ByteStreamPtr>)> done) override;
    std::string explain(const std::string& error_line) const override;
    size_t maxSendChunk() const override { return kMaxSendChunk; }

    struct Core;  // shared with the sockets and the URC handlers

  private:
    std::shared_ptr<Core> core_;
};

/// The plugin's ModemPluginApi::create: checks the settings, then makes a driver.
Result<ModemDriverPtr> create(asio::io_context& loop, AtChannel& at, const ModemSettings& settings);
/// The modules this plugin drives (ATI / AT+CGMM answers).
const ModemMatch& match();
const PluginDescriptor* descriptor();

}  // namespace uplinkd::plugins::sierra_hl78
