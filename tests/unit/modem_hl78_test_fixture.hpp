// SPDX-License-Identifier: Apache-2.0
// The fixture of the sierra-hl78 driver tests (modem_hl78_test.cpp, modem_hl78_store_test.cpp): the
// driver with short waits on a scripted AtChannel, the start-up and socket exchanges the tests
// build their scripts from. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "hl78_commands.hpp"
#include "hl78_driver.hpp"
#include "modem_test_support.hpp"
#include "scripted_at_channel.hpp"

namespace uplinkd::plugins::sierra_hl78 {

using namespace std::chrono_literals;
using namespace uplinkd::testing;

inline const std::string kPattern(kEofPattern);

inline Hl78Timing fastTiming() {
    using T = Hl78Timing;
    T t = cellularShortWaits<T>(
        100ms, {&T::bearer_up, &T::connect, &T::send, &T::receive, &T::cert_store});
    t.sim_busy_retries = 3;
    t.denied_polls = 3;
    return t;
}

/// An Hl78Driver on the scripted channel, with the exchanges its tests build on. Thread: the
/// test's.
class Hl78DriverTest : public uplinkd::testing::ModemDriverTest<Hl78Driver, Hl78Timing> {
  protected:
    Hl78DriverTest() : ModemDriverTest(fastTiming()) {}

    /// Echo off, numeric errors, the pattern, then the module's sessions are listed (none).
    const AtScript kInit =
        kEchoOff + AtScript{{"AT+KPATTERN=\"--EOF--Pattern--\""}, {"AT+KTCPSTAT"}};
    const AtScript kRegistered = {{"AT+CEREG?", {"+CEREG: 0,1"}}};
    /// The bearer's AT+KCNXCFG with the APN (AT+KCNXUP follows).
    const AtScript kBearerCfg = {{"AT+KCNXCFG=1,\"GPRS\",\"internet.example\""}};
    /// AT+KCNXUP answered by `ind`.
    static AtScript bearerUp(const std::string& ind) {
        return {{.command = "AT+KCNXUP=1", .urcs = {ind}}};
    }

    void scriptInit() { expectScript(at_, kInit); }

    /// The crypto profile written before a TLS session.
    void scriptCrypto() { at_.expect("AT+KSSLCRYPTO=1,8,3,25392,12,4,1,0"); }

    /// The bearer: AT+KCNXCFG with the APN, then AT+KCNXUP, whose answer the caller adds.
    ScriptedAtChannel::Step& scriptBearer() {
        at_.expect("AT+KCNXCFG=1,\"GPRS\",\"internet.example\"");
        return at_.expect("AT+KCNXUP=1");
    }

    /// A socket's close: AT+KTCPCLOSE; the session is kept for the next open to its target.
    void scriptClose(int id = 1) { at_.expect("AT+KTCPCLOSE=" + std::to_string(id)); }
    /// A session closed and freed (AT+KTCPCLOSE, then AT+KTCPDEL): one nobody owns, or a
    /// socket's while another session is kept already.
    void scriptCloseAndDelete(int id = 1) {
        at_.expect("AT+KTCPCLOSE=" + std::to_string(id));
        at_.expect("AT+KTCPDEL=" + std::to_string(id));
    }

    ByteStreamPtr openPlain(int id = 1) {
        const std::string i = std::to_string(id);
        return openAfter({{"AT+KTCPCFG=1,0,\"broker.example.com\",1883", {"+KTCPCFG: " + i}},
                          {.command = "AT+KTCPCNX=" + i, .urcs = {"+KTCP_IND: " + i + ",1"}}},
                         kPlainBroker);
    }
};

}  // namespace uplinkd::plugins::sierra_hl78
