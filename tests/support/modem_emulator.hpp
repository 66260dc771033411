// SPDX-License-Identifier: Apache-2.0
// ModemEmulator: uplinkd-modem-emulator as a child process for one test: a pty linked at a path
// in the test's directory, its control socket, and its AT trace (printed when the test failed).
// Started with --ready-fd, so nothing sleeps. Thread: the test's.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/api_client.hpp"
#include "test_env.hpp"

namespace uplinkd::testing {

class ModemEmulator {
  public:
    /// `model` is "hl78" or "a76xx"; `baud` 0 means unthrottled; `extra_args` go to the
    /// emulator's command line (e.g. {"--variant", "A7670E-NOMQTT"}).
    ModemEmulator(const TempDir& dir, const std::string& model, unsigned baud = 115200,
                  const std::vector<std::string>& extra_args = {});
    ~ModemEmulator();
    ModemEmulator(const ModemEmulator&) = delete;
    ModemEmulator& operator=(const ModemEmulator&) = delete;

    /// The serial device to give to uplinkd (a symlink to the pty).
    const std::string& device() const { return device_; }
    const std::string& controlSocket() const { return control_; }
    /// Sends one control line ("fault silent", "reset", ...) and returns the reply line.
    std::string control(const std::string& line) const;
    /// The "status" JSON (bytes_in, bytes_out, silent, powered, ...).
    nlohmann::json status() const;
    std::string trace() const { return readFile(trace_); }

  private:
    std::string device_;
    std::string control_;
    std::string trace_;
    std::unique_ptr<Process> process_;
};

// ---- helpers for end-to-end tests through the emulator (uplinkd, a route, Mosquitto) --------

/// A modem driver plugin, the emulator model that plays its module, and the AT words the tests
/// look for in the emulator's trace.
struct DriverCase {
    std::string driver;  ///< plugin name
    std::string model;   ///< the emulator's --model
    std::string boot;    ///< the module's boot indication
    std::string send;    ///< the command that carries socket data to the module (TLS by it)
    std::string open;    ///< the command that opens a plain socket
    std::string bearer;  ///< the command that brings the data bearer up
};
extern const DriverCase kHl78Case;
extern const DriverCase kA76xxCase;
void PrintTo(const DriverCase& d, std::ostream* os);

/// Fails the test (it does not skip) when the driver plugin was not built.
void requireDriverPlugin(const DriverCase& d);
/// [uplinks.lte] on `emu` (power control through the emulator unless `power` is "none", health
/// checks every second) and a route "cloud" that uses only it.
std::string modemUplinkConfig(const DriverCase& d, const ModemEmulator& emu, const std::string& tls,
                              const std::string& power = "emulator", const std::string& extra = "");
/// A QoS 1 publish on route "cloud" that asks for "delivered".
nlohmann::json modemPublishRequest(int id, const std::string& topic, const std::string& payload);
/// Publishes one message and waits until the broker acknowledged it.
void deliverThrough(const Daemon& d, int id, const std::string& topic, const std::string& payload);
size_t occurrences(const std::string& text, const std::string& what);
bool waitForLogCount(const Daemon& d, const std::string& what, size_t n,
                     std::chrono::milliseconds timeout);
/// Payloads made of every family's framing tokens (end pattern, URCs, results, prompts, +++,
/// boot indications), all byte values, and a large mix that spans several module reads.
std::vector<std::string> framingTokenPayloads();

/// A local app subscribed to route "cloud": keeps every message event. Thread: the test's.
class LocalSubscriber {
  public:
    LocalSubscriber(const Daemon& d, const std::string& filter);
    /// Waits until a message on `topic` arrived (keeping every other one).
    bool waitFor(const std::string& topic, std::chrono::milliseconds timeout);
    /// Publishes on `topic` from the cloud until one arrives (the route's subscription is then in
    /// place at the broker).
    bool ready(Subscriber& cloud, const std::string& topic);
    const std::map<std::string, std::vector<std::string>>& received() const { return received_; }

  private:
    std::unique_ptr<ApiClient> client_;
    std::map<std::string, std::vector<std::string>> received_;
};

}  // namespace uplinkd::testing
