// SPDX-License-Identifier: Apache-2.0
// `uplinkctl modem info` as data: a table of {command, timeout, apply} where apply is a pure
// parser that fills ModemInfo from the answer. The generic 27.007 appliers live here; drivers
// put them in their own tables. Thread: loop (runInfo), any (appliers).
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string_view>

#include "uplinkd/at_channel.hpp"
#include "uplinkd/modem_driver.hpp"
#include "uplinkd/result.hpp"

namespace uplinkd::plugins::modem_common {

struct InfoQuery {
    std::string_view command;
    std::chrono::milliseconds timeout;
    void (*apply)(const Result<AtResponse>& answer, ModemInfo& info);
};

void applyManufacturer(const Result<AtResponse>& answer, ModemInfo& info);  // AT+CGMI
void applyModel(const Result<AtResponse>& answer, ModemInfo& info);         // AT+CGMM
void applyFirmware(const Result<AtResponse>& answer, ModemInfo& info);      // AT+CGMR
void applyImei(const Result<AtResponse>& answer, ModemInfo& info);          // AT+CGSN
void applyIccid(const Result<AtResponse>& answer, ModemInfo& info);         // AT+CCID / AT+CICCID
void applySim(const Result<AtResponse>& answer, ModemInfo& info);           // AT+CPIN?
void applyCereg(const Result<AtResponse>& answer, ModemInfo& info);         // AT+CEREG?
void applyCgreg(const Result<AtResponse>& answer, ModemInfo& info);         // AT+CGREG? (if better)
void applyCsq(const Result<AtResponse>& answer, ModemInfo& info);           // AT+CSQ

/// The identity every 27.007 module gives: AT+CGMI, AT+CGMM, AT+CGMR, AT+CGSN.
inline constexpr InfoQuery kIdentityQueries[] = {
    {"AT+CGMI", std::chrono::seconds(2), &applyManufacturer},
    {"AT+CGMM", std::chrono::seconds(2), &applyModel},
    {"AT+CGMR", std::chrono::seconds(2), &applyFirmware},
    {"AT+CGSN", std::chrono::seconds(2), &applyImei},
};

/// Runs the queries; fields whose command failed stay empty. Fails only when the module gave
/// no answer at all (silent or gone).
void runInfo(AtChannel& at, std::span<const InfoQuery> queries,
             std::function<void(Result<ModemInfo>)> done);

}  // namespace uplinkd::plugins::modem_common
