// SPDX-License-Identifier: Apache-2.0
// The serial baud rates Linux termios has a constant for: one table for the config checks (which
// rates a modem uplink may name) and the serial line (which speed to set). Pure. Thread: any.
#pragma once

#include <termios.h>

#include <optional>
#include <vector>

namespace uplinkd {

/// The termios speed for a baud rate, when the kernel has one.
std::optional<speed_t> termiosSpeed(unsigned baud);
/// Every baud rate termiosSpeed() knows, ascending.
std::vector<unsigned> supportedBauds();

}  // namespace uplinkd
