// SPDX-License-Identifier: Apache-2.0
// SPWF04S tables: command-line syntax, AT-S.ERROR codes, configuration variables, WIND masks.
// Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "at_command.hpp"

namespace uplinkd::emulator::spwf {

/// Splits an SPWF04 command line (the text after "AT"): "" is bare AT, "+S.<NAME>" runs a
/// command, "+S.<NAME>=<a>,<b>,..." passes arguments. Arguments are raw text: no quotes, no
/// trimming, no ';' chaining (the module has none). The name is upper-cased ("+S.SOCKON").
/// nullopt for anything else (27.007 commands, junk), which the module does not know.
std::optional<AtCommand> parseLine(std::string_view body);

/// AT-S.ERROR codes the emulator uses (reference 4.1 gives 44, 74, 77; the rest are its own).
enum Error : int {
    kCommandNotFound = 1,
    kBadParameter = 2,
    kUnknownVariable = 3,
    kReadOnlyVariable = 4,
    kNotAssociated = 44,
    kInvalidSocket = 70,
    kNoFreeSocket = 71,
    kDnsFailure = 73,
    kSocketTimeout = 74,
    kConnectFailed = 75,
    kTlsHandshake = 76,
    kPendingData = 77,
    kTlsCertificate = 78,
    kTlsCredentials = 79,
    kInvalidCredential = 80,
    kMqttConnectFailed = 90,  ///< 91-95: CONNACK refused with return code 1-5 (90 + code)
    kMqttInvalidId = 96,
    kMqttTransport = 97,
    kNoFreeMqtt = 99,
    kRequestFailed = 111,
};

/// "Pending data" for 77, ...; the CONNACK texts for 91-95.
std::string errorText(int code);

/// One configuration variable (AT+S.SCFG / AT+S.GCFG).
struct Variable {
    enum class Kind { Number, Mask, Text, ReadOnly };
    const char* name;
    Kind kind;
    const char* factory;  ///< the factory default, as AT+S.GCFG prints it
    long min;             ///< Number: range; Text: length range
    long max;
};

/// The variables the emulator knows, in the order AT+S.GCFG lists them.
const std::vector<Variable>& variables();
const Variable* findVariable(std::string_view name);

/// Checks a value for AT+S.SCFG; returns it as stored (masks as 0x%08X) or the error code.
struct Checked {
    std::string value;
    int error = 0;
};
Checked checkValue(const Variable& v, std::string_view value);

/// True when +WIND:<code> is not masked: bit (code % 32) of console_wind_off_low (codes 0-31),
/// _medium (32-63) or _high (64-95) turns it off.
bool windEnabled(int code, uint32_t low, uint32_t medium, uint32_t high);

/// "0xFFFFFFFF" (hex, any case) or decimal, 32 bits; nullopt otherwise.
std::optional<uint32_t> parseMask(std::string_view text);

}  // namespace uplinkd::emulator::spwf
