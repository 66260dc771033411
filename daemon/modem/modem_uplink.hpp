// SPDX-License-Identifier: Apache-2.0
// ModemUplink: an uplink through a cellular module on a UART. Owns the serial line, the AT
// channel, the driver (made by its modem plugin), power control and the supervisor. connect()
// opens a plain socket in the module (the route then does TLS with OpenSSL over it); with
// tls = "modem", connectTls() has the module do TLS, with the route's CA and client certificate
// provisioned into the module's store whenever they changed. Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "modem/at_channel_impl.hpp"
#include "modem/modem_supervisor.hpp"
#include "modem/power_control.hpp"
#include "modem/serial_port.hpp"
#include "uplink/uplink.hpp"
#include "uplinkd/modem_driver.hpp"

namespace uplinkd {

class ModemUplink final : public Uplink {
  public:
    /// `api` is the driver's plugin (it stays loaded for the life of the uplink).
    ModemUplink(asio::io_context& loop, const UplinkConfig& config, const ModemPluginApi& api);
    ~ModemUplink() override;
    ModemUplink(const ModemUplink&) = delete;
    ModemUplink& operator=(const ModemUplink&) = delete;

    /// Opens the line and brings the module up (in the background).
    void start();

    void connect(const std::string& host, uint16_t port, ConnectHandler handler) override;
    bool offloadsTls() const override { return config_.tls == "modem"; }
    int keepAliveSeconds() const override { return config_.keepalive_seconds; }
    bool frugal() const override { return true; }
    void connectTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                    ConnectHandler handler) override;
    void openMqtt(const std::optional<TlsOptions>& tls,
                  std::function<void(Result<ModemMqtt*>)> handler) override;
    const ModemMqtt* moduleMqtt() const override;
    const std::string& name() const override { return config_.name; }
    std::string describe() const override;

    /// What `uplinkctl modem info` shows: identity, SIM, registration, signal, supervisor state
    /// and line counters.
    void info(std::function<void(Result<nlohmann::json>)> done);
    /// Runs one AT command for `uplinkctl modem at`: {"lines":[…],"final":"OK"} (a module error
    /// comes with an "explanation").
    void at(const std::string& command, std::chrono::milliseconds timeout,
            std::function<void(Result<nlohmann::json>)> done);

    /// What the doctor sees of the module: the supervisor's state and, when the module answers
    /// AT, the driver's info (read also while it is not ready: the queries queue on the AT
    /// channel behind whatever runs, and change nothing).
    struct Examination {
        std::string state;       ///< "ready", "starting", "waiting", ..., or "unavailable"
        std::string problem;     ///< why the module cannot be used now; empty when ready
        bool line_open = false;  ///< the serial line is open
        bool answered = false;   ///< the module answered AT just now
        std::optional<ModemInfo> info;
        std::string info_error;  ///< why there is no info although the module answered
    };
    void examine(std::chrono::milliseconds probe_timeout, std::function<void(Examination)> done);
    /// The first bring-up is over: the module is ready, or an attempt failed and the supervisor
    /// waits before the next one (the doctor then reports why).
    bool settled() const;
    /// True when this process wrote exactly the certificate files of `tls` into the module's
    /// store and has not seen them refused since (it will not write them again on its own).
    bool wroteCredentials(const TlsOptions& tls) const;

    const UplinkConfig& config() const { return config_; }
    SerialAtChannel& channel() { return *channel_; }
    bool ready() const;

  private:
    Status openLine();
    /// Ready to open a socket, or why not.
    Status usable() const;
    void open(const ModemSocketRequest& request, ConnectHandler handler);
    /// One connectTls() at a time: routes with different CAs share one certificate store.
    void nextTls();
    void startTls(const std::string& host, uint16_t port, const TlsOptions& tls,
                  ConnectHandler handler);
    /// The route's certificate files for the module, checked (a root CA; the key of the
    /// certificate) before anything is written.
    Result<ModemCredentials> credentialsFor(const TlsOptions& tls) const;
    /// Writes `creds` into the module's store unless they are there already.
    void provisionIfChanged(const ModemCredentials& creds, const std::string& ca_file,
                            ModemDriver::StatusDone done);
    /// The driver's words for a module error, added to the error.
    Error explain(const Error& error) const;
    void fail(ConnectHandler handler, Error error);

    asio::io_context& loop_;
    UplinkConfig config_;
    std::unique_ptr<SerialPort> port_;
    std::unique_ptr<SerialAtChannel> channel_;
    ModemDriverPtr driver_;
    Error driver_error_;  ///< why there is no driver
    PowerControlPtr power_;
    std::string power_error_;  ///< why the configured power control is not available
    std::unique_ptr<ModemSupervisor> supervisor_;
    std::string provisioned_;  ///< hash of the credentials last written into the module
    struct TlsJob {
        std::string host;
        uint16_t port;
        TlsOptions tls;
        ConnectHandler handler;
    };
    std::deque<TlsJob> tls_jobs_;
    bool tls_running_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
