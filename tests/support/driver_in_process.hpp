// SPDX-License-Identifier: Apache-2.0
// DriverInProcess: a modem driver plugin run in the test's own process over the modem emulator,
// the way the daemon's modem uplink runs it: the plugin loaded from the build's plugin directory,
// a SerialAtChannel on the emulator's pty, the driver created on it, and the loop run by the test
// until each answer comes. For the tests that drive a plugin's ModemDriver or ModemMqtt directly.
// Thread: the test's (it runs the loop).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "modem/at_channel_impl.hpp"
#include "modem/serial_port.hpp"
#include "modem_emulator.hpp"
#include "plugin/plugin_registry.hpp"

namespace uplinkd::testing {

class DriverInProcess {
  public:
    using StatusCall = std::function<void(ModemDriver::StatusDone)>;

    /// Loads the plugin `driver` ("quectel-bg9x") and opens the emulator's pty; fails the test
    /// when either cannot be done.
    DriverInProcess(const ModemEmulator& emu, const std::string& driver);
    ~DriverInProcess();
    DriverInProcess(const DriverInProcess&) = delete;
    DriverInProcess& operator=(const DriverInProcess&) = delete;

    /// Creates the driver with `settings` on the channel, or on `over` (a channel of the test's
    /// that wraps channel(); kept until the driver is gone).
    Status create(const ModemSettings& settings, std::unique_ptr<AtChannel> over = nullptr);
    /// The AT channel on the pty (its observers may be set before the loop runs).
    SerialAtChannel& channel() { return channel_; }
    ModemDriver& driver() { return *driver_; }
    ModemMqtt& mqtt() { return *driver_->mqtt(); }

    /// Runs the loop until `done()` holds (a generous deadline: the emulator and the broker are
    /// real processes on a busy machine).
    bool run(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s);
    /// Calls `call` with a StatusDone and runs the loop until it answered.
    Status await(const StatusCall& call, std::chrono::milliseconds timeout = 60s);
    /// As the supervisor does: waits until the module answers AT (it boots after the emulator
    /// starts), then start().
    Status start();
    Status provision(const ModemCredentials& credentials);

  private:
    asio::io_context loop_;
    PluginRegistry plugins_;
    const ModemPluginApi* api_ = nullptr;
    std::unique_ptr<SerialPort> line_;
    SerialAtChannel channel_{loop_};
    std::unique_ptr<AtChannel> over_;
    ModemDriverPtr driver_;
};

}  // namespace uplinkd::testing
