// SPDX-License-Identifier: Apache-2.0
// PowerControl: the modem's power key, reset line and power status: through libgpiod 1.6 lines,
// not at all ("none"), or through the modem emulator's control socket (tests). Pulses are timed
// on the loop, never by sleeping. Thread: loop.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd {

/// Pulse lengths and waits of one module family (the defaults of [uplinks.<name>.power]).
struct PowerTimings {
    std::chrono::milliseconds power_pulse{1000};      ///< power key press that switches on
    std::chrono::milliseconds power_off_pulse{3000};  ///< power key press that switches off
    std::chrono::milliseconds reset_pulse{100};
    std::chrono::milliseconds boot_wait{5000};      ///< from power-on or reset to the first "AT"
    std::chrono::milliseconds shutdown_wait{5000};  ///< from the power key to "off"
};

/// The timings for a modem driver ("sierra-hl78", "simcom-a76xx"; others get generic values).
PowerTimings defaultPowerTimings(const std::string& driver);

class PowerControl {
  public:
    virtual ~PowerControl() = default;
    using Done = std::function<void(Status)>;

    enum class Press { On, Off };
    /// Presses the power key long enough to switch the module on (or off).
    virtual void pulsePowerKey(Press press, Done done) = 0;
    /// Holds the reset line for the reset pulse.
    virtual void pulseReset(Done done) = 0;
    /// Whether the module is powered; error "unsupported" when there is no status line.
    virtual void readStatus(std::function<void(Result<bool>)> done) = 0;
    virtual bool canPowerKey() const = 0;
    virtual bool canReset() const = 0;
    /// E.g. "gpiod gpiochip0 (power 17, reset 27, status 22)".
    virtual std::string describe() const = 0;
    virtual const PowerTimings& timings() const = 0;
};

using PowerControlPtr = std::unique_ptr<PowerControl>;

/// [uplinks.<name>.power] as configured (backend, chip, lines, control socket), with the timings
/// resolved: the driver's defaults, then the configured pulse lengths and boot wait.
struct PowerSettings : ModemPowerConfig {
    PowerTimings timings;
};

/// Makes the backend. Errors (a missing GPIO chip, a line in use) name the chip and line.
Result<PowerControlPtr> makePowerControl(asio::io_context& loop, const PowerSettings& settings);

}  // namespace uplinkd
