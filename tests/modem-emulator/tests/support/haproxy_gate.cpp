// SPDX-License-Identifier: Apache-2.0
#include "support/haproxy_gate.hpp"

#include <fstream>
#include <sstream>

namespace emutest {

std::string HaproxyGate::refuseMqtt31() {
    // A short CONNECT has a one-byte remaining length, so its protocol name starts at byte 2:
    // length 6, "MQIsdp".
    return "  tcp-request inspect-delay 5s\n"
           "  tcp-request content reject if { req.payload(2,8) -m bin 00064d5149736470 }\n"
           "  tcp-request content accept if { req.len ge 10 }\n";
}

HaproxyGate::HaproxyGate(uint16_t backend_port, const std::string& rules)
    : ServerProcess("haproxy") {
    if (!error_.empty() || !pickPort()) {
        return;
    }
    std::ostringstream c;
    c << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
      << "  timeout server 60s\n"
      << "frontend gate\n  bind 127.0.0.1:" << port() << "\n"
      << rules << "  default_backend broker\n"
      << "backend broker\n  server broker 127.0.0.1:" << backend_port << "\n";
    std::ofstream(dir_.file("haproxy.cfg")) << c.str();
    run({"/usr/sbin/haproxy", "-db", "-f", dir_.file("haproxy.cfg")}, std::chrono::seconds(15));
}

}  // namespace emutest
