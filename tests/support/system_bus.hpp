// SPDX-License-Identifier: Apache-2.0
// The configuration of a private system bus for the tests that start their own dbus-daemon.
// Thread: the test's.
#pragma once

#include <string>

namespace uplinkd::testing {

/// A dbus-daemon configuration listening on the UNIX socket `socket`, with the default policy of
/// Debian's system.conf; `open`: anyone may also own names and call methods. `policy` adds lines
/// to the default policy, `more` lines after it.
inline std::string systemBusConfig(const std::string& socket, bool open,
                                   const std::string& policy = "", const std::string& more = "") {
    const std::string own_and_call = open ? "allow" : "deny";
    return R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)" +
           socket + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <)" + own_and_call +
           R"( own="*"/>
    <)" + own_and_call +
           R"( send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
)" + policy +
           R"(  </policy>
)" + more + R"(</busconfig>
)";
}

}  // namespace uplinkd::testing
