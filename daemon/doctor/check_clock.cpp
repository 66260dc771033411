// SPDX-License-Identifier: Apache-2.0
// The doctor's clock checks (layer clock): the system clock is not before the day uplinkd was
// built, and not before the validity of the configured CA certificates (a clock in 1970 makes
// every certificate "not yet valid"). The comparison with the broker's time is the tls group's.
// Thread: loop.
#include <filesystem>
#include <sstream>

#include "core/file_text.hpp"
#include "doctor/doctor.hpp"
#include "tls/cert_check.hpp"

namespace uplinkd::doctor {

namespace {

/// Unix time of a date in __DATE__ form ("Dec  5 2026"), midnight UTC; 0 when it does not parse.
int64_t parseBuildDate(const std::string& text) {
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::istringstream in(text);
    std::string month;
    int day = 0, year = 0;
    if (!(in >> month >> day >> year)) {
        return 0;
    }
    for (int m = 0; m < 12; ++m) {
        if (month == months[m]) {
            struct tm tm {};
            tm.tm_year = year - 1900;
            tm.tm_mon = m;
            tm.tm_mday = day;
            return static_cast<int64_t>(timegm(&tm));
        }
    }
    return 0;
}

int64_t buildDate() {
#ifdef UPLINKD_BUILD_DATE
    return parseBuildDate(UPLINKD_BUILD_DATE);
#else
    return parseBuildDate(__DATE__);
#endif
}

}  // namespace

void checkClock(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                std::function<void(std::vector<Finding>)> done) {
    (void)so_far;
    std::vector<Finding> out;
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(route.now.time_since_epoch()).count();
    const int64_t built = buildDate();
    const std::string fix_clock =
        "set the system clock: enable NTP (timedatectl set-ntp true) or an RTC, or set it by hand "
        "(timedatectl set-time)";
    // A day of slack: the build date is midnight UTC of the build's local date.
    if (built > 0 && now < built - 24 * 3600) {
        out.push_back({CheckLayer::Clock, "clock.build_date", CheckOutcome::Fail,
                       "the system clock says " + formatUtc(now) +
                           ", before this uplinkd was built (" + formatUtc(built).substr(0, 10) +
                           ")",
                       fix_clock});
    } else {
        out.push_back({CheckLayer::Clock, "clock.build_date", CheckOutcome::Ok,
                       "the system clock says " + formatUtc(now) +
                           (built > 0 ? ", after the build date " + formatUtc(built).substr(0, 10)
                                      : std::string()),
                       ""});
    }
    // CA certificates are issued long before anyone uses them: a clock before one's notBefore is
    // the clock's fault, not the certificate's.
    const std::string& ca = route.route->tls.ca_file;
    std::error_code ec;
    if (!ca.empty() && std::filesystem::is_regular_file(ca, ec)) {
        std::string behind;
        const auto pem = readFileText(ca);
        for (const auto& c : describeCertificates(pem ? *pem : std::string())) {
            if (c.role != CertificateRole::Leaf && c.not_before > now) {
                behind = "\"" + c.subject + "\" in " + ca + " is valid from " +
                         formatUtc(c.not_before) + ", after the clock's " + formatUtc(now);
                break;
            }
        }
        if (!behind.empty()) {
            out.push_back({CheckLayer::Clock, "clock.certificates", CheckOutcome::Fail,
                           "the clock is behind: " + behind, fix_clock});
        } else {
            out.push_back({CheckLayer::Clock, "clock.certificates", CheckOutcome::Ok,
                           "the clock is within the validity of the CA certificates", ""});
        }
    }
    done(std::move(out));
}

}  // namespace uplinkd::doctor
