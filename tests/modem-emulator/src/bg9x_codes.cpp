// SPDX-License-Identifier: Apache-2.0
#include "bg9x_codes.hpp"

#include <openssl/ssl.h>

#include <cstdio>
#include <ctime>

#include "at_command.hpp"

namespace uplinkd::emulator::bg9x {

const char* errorText(int code) {
    struct Entry {
        int code;
        const char* text;
    };
    static constexpr Entry kTable[] = {
        {400, "invalid input value"},
        {405, "file not found"},
        {407, "file already exists"},
        {550, "unknown error"},
        {551, "operation blocked"},
        {552, "invalid parameters"},
        {553, "memory not enough"},
        {554, "create socket failed"},
        {555, "operation not supported"},
        {556, "socket bind failed"},
        {557, "socket listen failed"},
        {558, "socket write failed"},
        {559, "socket read failed"},
        {560, "socket accept failed"},
        {561, "open PDP context failed"},
        {562, "close PDP context failed"},
        {563, "socket identity has been used"},
        {564, "DNS busy"},
        {565, "DNS parse failed"},
        {566, "socket connect failed"},
        {567, "socket has been closed"},
        {568, "operation busy"},
        {569, "operation timeout"},
        {570, "PDP context broken down"},
        {571, "cancel send"},
        {572, "operation not allowed"},
        {573, "APN not configured"},
        {574, "port busy"},
    };
    for (const auto& e : kTable) {
        if (e.code == code) {
            return e.text;
        }
    }
    return nullptr;
}

uint16_t qfuplChecksum(std::string_view data) {
    uint16_t sum = 0;
    for (size_t i = 0; i < data.size(); i += 2) {
        uint16_t word = static_cast<uint16_t>(static_cast<unsigned char>(data[i]) << 8);
        if (i + 1 < data.size()) {
            word = static_cast<uint16_t>(word | static_cast<unsigned char>(data[i + 1]));
        }
        sum ^= word;
    }
    return sum;
}

std::string formatCclk(int64_t epoch) {
    const time_t t = static_cast<time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%02d/%02d/%02d,%02d:%02d:%02d+00", tm.tm_year % 100,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::optional<int64_t> parseCclk(std::string_view text) {
    // yy/MM/dd,hh:mm:ss±zz
    if (text.size() != 20 || text[2] != '/' || text[5] != '/' || text[8] != ',' ||
        text[11] != ':' || text[14] != ':' || (text[17] != '+' && text[17] != '-')) {
        return std::nullopt;
    }
    auto two = [&](size_t at) { return parseInt(text.substr(at, 2)); };
    auto yy = two(0), mo = two(3), dd = two(6), hh = two(9), mi = two(12), ss = two(15),
         zz = two(18);
    if (!yy || !mo || !dd || !hh || !mi || !ss || !zz || *yy < 0 || *mo < 1 || *mo > 12 ||
        *dd < 1 || *dd > 31 || *hh < 0 || *hh > 23 || *mi < 0 || *mi > 59 || *ss < 0 || *ss > 59 ||
        *zz < 0 || *zz > 96) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = static_cast<int>(*yy) + 100;
    tm.tm_mon = static_cast<int>(*mo) - 1;
    tm.tm_mday = static_cast<int>(*dd);
    tm.tm_hour = static_cast<int>(*hh);
    tm.tm_min = static_cast<int>(*mi);
    tm.tm_sec = static_cast<int>(*ss);
    int64_t local = static_cast<int64_t>(timegm(&tm));
    int64_t zone = *zz * 15 * 60;
    return text[17] == '+' ? local - zone : local + zone;
}

std::pair<int, int> sslVersionRange(int sslversion) {
    switch (sslversion) {
        case 0:
            return {SSL3_VERSION, SSL3_VERSION};
        case 1:
            return {TLS1_VERSION, TLS1_VERSION};
        case 2:
            return {TLS1_1_VERSION, TLS1_1_VERSION};
        case 3:
            return {TLS1_2_VERSION, TLS1_2_VERSION};
        default:
            return {TLS1_VERSION, TLS1_2_VERSION};
    }
}

}  // namespace uplinkd::emulator::bg9x
