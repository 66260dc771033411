// SPDX-License-Identifier: Apache-2.0
// What the simcom-a76xx driver tests (modem_a76xx_test.cpp, modem_a76xx_mqtt_test.cpp) share: the
// driver's waits shortened for a scripted module and the module's identification. Thread: the
// test's.
#pragma once

#include <chrono>

#include "a76xx_commands.hpp"
#include "modem_test_support.hpp"

namespace uplinkd::plugins::simcom_a76xx {

/// Every wait 1 s (sockets, TLS, the store and the MQTT client); a send the module refuses is
/// retried 3 times, 1 ms apart.
inline A76xxTiming fastTiming() {
    using namespace std::chrono_literals;
    using T = A76xxTiming;
    T t = uplinkd::testing::cellularShortWaits<T>(
        200ms, {&T::net_open, &T::cch_start, &T::connect, &T::tls_connect, &T::send,
                &T::send_result, &T::receive, &T::cert_store, &T::mqtt_start,
                &T::mqtt_connect_extra, &T::mqtt_result, &T::mqtt_disc});
    t.send_retry = 1ms;
    t.send_retries = 3;
    return t;
}

/// An A7670E answering AT+CGMI, AT+CGMM, AT+CGMR and AT+CGSN.
inline uplinkd::testing::AtScript a7670Identity() {
    return uplinkd::testing::identity("SIMCOM INCORPORATED", "A7670E-LASE",
                                      "+CGMR: A011B07A7670M7_F", "861234567890123");
}

}  // namespace uplinkd::plugins::simcom_a76xx
