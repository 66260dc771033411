// SPDX-License-Identifier: Apache-2.0
// The generic meaning of MQTT CONNACK return codes (3.1.1) and reason codes (5). Cloud profiles
// add what a code means for their cloud. Pure. Thread: any.
#pragma once

#include <string>

namespace uplinkd {

/// Plain words for a CONNACK code, e.g. 5 → "not authorized", 0x86 → "bad user name or password".
std::string connackMeaning(int code);

}  // namespace uplinkd
