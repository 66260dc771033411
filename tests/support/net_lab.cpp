// SPDX-License-Identifier: Apache-2.0
#include "net_lab.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace uplinkd::testing {

namespace {

/// Runs a shell command; false (with a test failure naming it) when it does not succeed.
bool run(const std::string& cmd) {
    const int rc = std::system((cmd + " 2>&1").c_str());
    if (rc != 0) {
        ADD_FAILURE() << "\"" << cmd << "\" failed (" << rc << ")";
        return false;
    }
    return true;
}

void quiet(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
        // Already gone.
    }
}

}  // namespace

NetLab::NetLab() {
    const int n = 100 + static_cast<int>(::getpid() % 150);
    net_ = "10." + std::to_string(n) + ".";
    const std::string pid = std::to_string(::getpid());
    ns_ = "upf" + pid;
    a_ = "ufa" + pid;
    b_ = "ufb" + pid;
    if (!run("ip netns add " + ns_)) {
        ADD_FAILURE() << "cannot create a network namespace (this needs root and iproute2): "
                         "failover over real links cannot be tested";
        return;
    }
    created_ = true;
    const std::string broker = brokerIp() + "/32";
    ok_ = run("ip link add " + a_ + " type veth peer name ea netns " + ns_) &&
          run("ip link add " + b_ + " type veth peer name eb netns " + ns_) &&
          run("ip addr add " + net_ + "1.1/24 dev " + a_) &&
          run("ip addr add " + net_ + "2.1/24 dev " + b_) && run("ip link set " + a_ + " up") &&
          run("ip link set " + b_ + " up") && run("ip addr add " + broker + " dev lo") &&
          run(inNs("ip link set lo up")) && run(inNs("ip addr add " + net_ + "1.2/24 dev ea")) &&
          run(inNs("ip addr add " + net_ + "2.2/24 dev eb")) && run(inNs("ip link set ea up")) &&
          run(inNs("ip link set eb up")) &&
          run(inNs("ip route add " + broker + " via " + net_ + "1.1 dev ea metric 10")) &&
          run(inNs("ip route add " + broker + " via " + net_ + "2.1 dev eb metric 20"));
}

NetLab::~NetLab() {
    if (silenced_) {
        quiet("ip route del blackhole " + net_ + "1.2/32");
    }
    if (created_) {
        quiet("ip netns del " + ns_);  // the veth pairs go with it
        quiet("ip link del " + a_);
        quiet("ip link del " + b_);
        quiet("ip addr del " + brokerIp() + "/32 dev lo");
    }
}

void NetLab::carrier(char link, bool up) {
    run("ip link set " + (link == 'a' ? a_ : b_) + (up ? " up" : " down"));
}

void NetLab::silenceA(bool on) {
    run(std::string("ip route ") + (on ? "add" : "del") + " blackhole " + net_ + "1.2/32");
    silenced_ = on;
}

uint64_t NetLab::received(char link) const {
    const std::string f = "/sys/class/net/" + (link == 'a' ? a_ : b_) + "/statistics/rx_bytes";
    return std::stoull("0" + readFile(f));
}

std::string NetLab::brokerListener(const Pki& pki, uint16_t port) const {
    std::ostringstream extra;
    extra << "listener " << port << " " << brokerIp() << "\nallow_anonymous true\n"
          << "cafile " << pki.ca << "\ncertfile " << pki.server_cert << "\nkeyfile "
          << pki.server_key << "\n";
    return extra.str();
}

Mosquitto NetLab::broker(const TempDir& dir, const Pki& pki, uint16_t port) const {
    Mosquitto::Options o;
    o.extra = brokerListener(pki, port);
    return Mosquitto(dir, pki, o);
}

std::string NetLab::route(uint16_t port, const Pki& pki, const LabRoute& r) const {
    std::ostringstream c;
    c << "[routes.cloud]\nuplinks = [" << r.uplinks << "]\n"
      << r.route_lines << "failover_after_ms = 6000\nfailback_hold_ms = " << r.failback_hold_ms
      << "\nprobe_interval_ms = 500\nprobe_max_ms = 2000\n"
      << "[routes.cloud.cloud]\ntype = \"generic-mqtt\"\nhost = \"" << brokerIp()
      << "\"\nport = " << port << "\nclient_id = \"" << r.client_id << "\"\n"
      << "[routes.cloud.tls]\nca_file = \"" << pki.ca << "\"\nserver_name = \"localhost\"\n"
      << "[routes.cloud.delivery]\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\n"
      << "connect_timeout_ms = 3000\n"
      << r.delivery_lines;
    return c.str();
}

}  // namespace uplinkd::testing
