// SPDX-License-Identifier: Apache-2.0
#include "uplink/traffic_days.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

namespace uplinkd {

namespace {
constexpr int64_t kMsPerDay = 86'400'000;
}  // namespace

int64_t utcDay(int64_t unix_ms) {
    // Floor division: times before 1970 belong to negative days.
    return unix_ms >= 0 ? unix_ms / kMsPerDay : -((-unix_ms + kMsPerDay - 1) / kMsPerDay);
}

std::string utcDate(int64_t day) {
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

std::optional<int64_t> parseUtcDate(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return std::nullopt;
    }
    int parts[3] = {0, 0, 0};
    const size_t starts[3] = {0, 5, 8};
    const size_t lengths[3] = {4, 2, 2};
    for (int i = 0; i < 3; ++i) {
        for (size_t k = starts[i]; k < starts[i] + lengths[i]; ++k) {
            if (text[k] < '0' || text[k] > '9') {
                return std::nullopt;
            }
            parts[i] = parts[i] * 10 + (text[k] - '0');
        }
    }
    const std::chrono::year_month_day ymd{std::chrono::year{parts[0]},
                                          std::chrono::month{static_cast<unsigned>(parts[1])},
                                          std::chrono::day{static_cast<unsigned>(parts[2])}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

void TrafficDays::add(uint64_t sent, uint64_t received, int64_t unix_ms) {
    if (sent == 0 && received == 0) {
        return;
    }
    const int64_t day = utcDay(unix_ms);
    if (days_.empty() || day > days_.front().day) {
        days_.insert(days_.begin(), DayBytes{day, 0, 0});
    }
    days_.front().sent += sent;
    days_.front().received += received;
    prune(unix_ms);
}

DayBytes TrafficDays::today(int64_t unix_ms) const {
    const int64_t day = utcDay(unix_ms);
    if (!days_.empty() && days_.front().day >= day) {
        return days_.front();  // also when the clock went back since: the newest day, as dated
    }
    return DayBytes{day, 0, 0};
}

std::vector<DayBytes> TrafficDays::previous(int64_t unix_ms) const {
    const int64_t day = utcDay(unix_ms);
    std::vector<DayBytes> out;
    for (size_t i = 0; i < days_.size(); ++i) {
        const DayBytes& d = days_[i];
        // Today (or a later day, the clock went back) is not a previous day.
        if (d.day < day && d.day >= day - kPreviousDays) {
            out.push_back(d);
        }
    }
    return out;
}

void TrafficDays::prune(int64_t unix_ms) {
    const int64_t oldest =
        std::max(utcDay(unix_ms),
                 days_.empty() ? std::numeric_limits<int64_t>::min() : days_.front().day) -
        kPreviousDays;
    std::erase_if(days_, [oldest](const DayBytes& d) { return d.day < oldest; });
}

nlohmann::json TrafficDays::toJson() const {
    nlohmann::json out = nlohmann::json::array();
    for (const DayBytes& d : days_) {
        out.push_back({{"date", utcDate(d.day)}, {"sent", d.sent}, {"received", d.received}});
    }
    return out;
}

Result<TrafficDays> TrafficDays::fromJson(const nlohmann::json& j) {
    if (!j.is_array()) {
        return fail("format", "\"days\" is not an array");
    }
    TrafficDays t;
    for (size_t i = 0; i < j.size(); ++i) {
        const nlohmann::json& e = j[i];
        const std::string where = "days[" + std::to_string(i) + "]";
        if (!e.is_object()) {
            return fail("format", where + " is not an object");
        }
        const auto date = e.find("date");
        std::optional<int64_t> day;
        if (date != e.end() && date->is_string()) {
            day = parseUtcDate(date->get<std::string>());
        }
        if (!day) {
            return fail("format", where + ".date is not a date \"YYYY-MM-DD\"");
        }
        DayBytes d{*day, 0, 0};
        for (const char* field : {"sent", "received"}) {
            const auto v = e.find(field);
            if (v == e.end() || !v->is_number_unsigned()) {
                return fail("format", where + "." + field + " is not a byte count");
            }
            (field == std::string_view("sent") ? d.sent : d.received) = v->get<uint64_t>();
        }
        if (!t.days_.empty() && d.day >= t.days_.back().day) {
            return fail("format", where + ".date is not older than the entry before it");
        }
        t.days_.push_back(d);
    }
    if (t.days_.size() > static_cast<size_t>(kPreviousDays) + 1) {
        t.days_.resize(static_cast<size_t>(kPreviousDays) + 1);
    }
    return t;
}

}  // namespace uplinkd
