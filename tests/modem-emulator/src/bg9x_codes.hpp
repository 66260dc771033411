// SPDX-License-Identifier: Apache-2.0
// Pure tables and formats of the Quectel BG9x model: error texts, the QFUPL checksum, the
// AT+CCLK time format, the QSSLCFG protocol versions. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace uplinkd::emulator::bg9x {

// +CME ERROR codes of the TCP/IP, SSL and MQTT commands (5xx) and the file system (4xx).
constexpr int kUnknown = 550;
constexpr int kBlocked = 551;
constexpr int kInvalidParam = 552;
constexpr int kNoMemory = 553;
constexpr int kNotSupported = 555;
constexpr int kOpenPdpFailed = 561;
constexpr int kSocketUsed = 563;
constexpr int kDnsFailed = 565;
constexpr int kConnectFailed = 566;
constexpr int kSocketClosed = 567;
constexpr int kBusy = 568;
constexpr int kTimeout = 569;
constexpr int kPdpBroken = 570;
constexpr int kNotAllowed = 572;
constexpr int kFileExists = 407;
constexpr int kFileNotFound = 405;
constexpr int kFileInvalidParam = 400;

/// The text of a code for AT+CMEE=2; nullptr for a code not in the table.
const char* errorText(int code);

/// The checksum of AT+QFUPL: XOR of the data taken as 16-bit big-endian words (a last odd
/// byte is the high byte of a word), printed in lower-case hex.
uint16_t qfuplChecksum(std::string_view data);

/// "yy/MM/dd,hh:mm:ss+zz" (UTC, zz = 00) for AT+CCLK.
std::string formatCclk(int64_t epoch);
/// Parses that format (zz in quarter hours, signed); nullopt when malformed.
std::optional<int64_t> parseCclk(std::string_view text);

/// The TLS versions (OpenSSL TLS1_x_VERSION, min and max) of QSSLCFG "sslversion" 0-4:
/// 0 SSL3 (refused by the host's OpenSSL), 1 TLS1.0, 2 TLS1.1, 3 TLS1.2, 4 all (up to TLS1.2,
/// the newest the module speaks).
std::pair<int, int> sslVersionRange(int sslversion);

}  // namespace uplinkd::emulator::bg9x
