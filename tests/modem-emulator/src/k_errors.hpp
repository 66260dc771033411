// SPDX-License-Identifier: Apache-2.0
// The +CME ERROR codes of the Sierra "K" command set (HL78xx, BX310x) and their texts
// (reference table 2.5). Pure table, no I/O.
#pragma once

#include <string>

namespace uplinkd::emulator::kerr {

constexpr int kNoSockets = 902;
constexpr int kDns = 904;
constexpr int kGeneric = 907;
constexpr int kIncoherentData = 909;
constexpr int kBadSession = 910;
constexpr int kSessionRunning = 911;
constexpr int kAllSessionsUsed = 912;
constexpr int kUnexpected = 915;
constexpr int kOutOfRange = 916;
constexpr int kMissing = 917;
constexpr int kNotSupported = 918;
constexpr int kNotAvailable = 919;
constexpr int kBearerState = 921;
constexpr int kSessionState = 922;
constexpr int kSessionBusy = 924;
constexpr int kContentInvalid = 930;
constexpr int kLengthInvalid = 931;

/// The +CME ERROR text of a K-command code (AT+CMEE=2); "" for a code outside the table.
std::string text(int code);

}  // namespace uplinkd::emulator::kerr
