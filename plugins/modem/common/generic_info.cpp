// SPDX-License-Identifier: Apache-2.0
#include "common/generic_info.hpp"

#include <vector>

#include "common/at_steps.hpp"
#include "common/generic_at.hpp"

namespace uplinkd::plugins::modem_common {

namespace {

void applyValue(const Result<AtResponse>& answer, std::string_view prefix, std::string& field) {
    if (!answer) {
        return;
    }
    if (auto v = parseIdentityValue(answer->lines, prefix)) {
        field = *v;
    }
}

void applyRegistration(const Result<AtResponse>& answer, std::string_view prefix, ModemInfo& info,
                       bool only_if_better) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        if (auto s = parseRegistrationRead(line, prefix)) {
            if (only_if_better && !info.registration.empty() && !isRegistered(*s)) {
                return;
            }
            if (only_if_better && info.registration.starts_with("registered")) {
                return;
            }
            info.registration = regStateWords(*s);
            return;
        }
    }
}

}  // namespace

void applyManufacturer(const Result<AtResponse>& answer, ModemInfo& info) {
    applyValue(answer, "+CGMI:", info.manufacturer);
}

void applyModel(const Result<AtResponse>& answer, ModemInfo& info) {
    applyValue(answer, "+CGMM:", info.model);
}

void applyFirmware(const Result<AtResponse>& answer, ModemInfo& info) {
    applyValue(answer, "+CGMR:", info.firmware);
}

void applyImei(const Result<AtResponse>& answer, ModemInfo& info) {
    applyValue(answer, "+CGSN:", info.imei);
}

void applyIccid(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        for (const std::string_view prefix : {"+CCID:", "+ICCID:", "ICCID:"}) {
            if (auto rest = afterPrefix(line, prefix)) {
                info.iccid = std::string(unquote(*rest));
                return;
            }
        }
    }
    applyValue(answer, "", info.iccid);
}

void applySim(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        const auto code = parseCmeErrorCode(answer.error().message);
        if (code == 10) {
            info.sim = "not inserted";
        } else if (code) {
            info.sim = cmeGeneralWords(*code);
        }
        return;
    }
    for (const auto& line : answer->lines) {
        if (auto s = parseCpin(line)) {
            info.sim = simStateWords(*s);
            return;
        }
    }
}

void applyCereg(const Result<AtResponse>& answer, ModemInfo& info) {
    applyRegistration(answer, "+CEREG:", info, false);
}

void applyCgreg(const Result<AtResponse>& answer, ModemInfo& info) {
    applyRegistration(answer, "+CGREG:", info, true);
}

void applyCsq(const Result<AtResponse>& answer, ModemInfo& info) {
    if (!answer) {
        return;
    }
    for (const auto& line : answer->lines) {
        if (auto q = parseCsq(line)) {
            info.signal_dbm = q->dbm().value_or(0);
            return;
        }
    }
}

void runInfo(AtChannel& at, std::span<const InfoQuery> queries,
             std::function<void(Result<ModemInfo>)> done) {
    std::vector<AtCommandStep> commands;
    for (const auto& q : queries) {
        commands.push_back(AtCommandStep{std::string(q.command), q.timeout});
    }
    runQueries(at, std::move(commands),
               [queries, done = std::move(done)](std::vector<Result<AtResponse>> answers) {
                   ModemInfo info;
                   bool any = false;
                   Error last;
                   for (size_t i = 0; i < answers.size() && i < queries.size(); ++i) {
                       const auto& a = answers[i];
                       if (a || a.error().code == "at_error") {
                           any = true;
                       } else {
                           last = a.error();
                       }
                       queries[i].apply(a, info);
                   }
                   if (!any) {
                       done(Failure{last.withContext("modem info")});
                       return;
                   }
                   done(std::move(info));
               });
}

}  // namespace uplinkd::plugins::modem_common
