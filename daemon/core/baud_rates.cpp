// SPDX-License-Identifier: Apache-2.0
#include "core/baud_rates.hpp"

namespace uplinkd {

namespace {

struct BaudEntry {
    unsigned baud;
    speed_t speed;
};

/// The rates Linux termios has a constant for (no custom divisors).
constexpr BaudEntry kBauds[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
    {2000000, B2000000}, {3000000, B3000000}, {4000000, B4000000},
};

}  // namespace

std::optional<speed_t> termiosSpeed(unsigned baud) {
    for (const auto& b : kBauds) {
        if (b.baud == baud) {
            return b.speed;
        }
    }
    return std::nullopt;
}

std::vector<unsigned> supportedBauds() {
    std::vector<unsigned> out;
    for (const auto& b : kBauds) {
        out.push_back(b.baud);
    }
    return out;
}

}  // namespace uplinkd
