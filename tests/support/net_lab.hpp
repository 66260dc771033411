// SPDX-License-Identifier: Apache-2.0
// NetLab: a network namespace for uplinkd with two veth links ("ea", "eb") to the caller's
// namespace, where the broker's address is reachable over both; links can lose their carrier or
// go silent. Removed with its links when destroyed, even after a failure. Fails the test (never
// skips) when namespaces cannot be made. LabTest: the fixture of the tests run in it. Thread: the
// test's.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "test_env.hpp"

namespace uplinkd::testing {

/// What differs between the routes tests and benchmarks run in the lab.
struct LabRoute {
    std::string uplinks;  ///< the route's uplinks in order: "\"eth\", \"wifi\""
    std::string client_id;
    int failback_hold_ms = 3000;
    std::string route_lines;     ///< more [routes.cloud] lines (metered_topics = ...)
    std::string delivery_lines;  ///< more [routes.cloud.delivery] lines (inflight_window = ...)
};

class NetLab {
  public:
    NetLab();
    ~NetLab();
    NetLab(const NetLab&) = delete;
    NetLab& operator=(const NetLab&) = delete;

    bool ok() const { return ok_; }
    /// Where the broker listens (on this namespace's lo), routed over both links.
    std::string brokerIp() const { return net_ + "9.1"; }
    /// The command prefix that runs a program in uplinkd's namespace.
    std::vector<std::string> prefix() const { return {"ip", "netns", "exec", ns_}; }
    /// The carrier of link 'a' ("ea") or 'b' ("eb") as uplinkd sees it.
    void carrier(char link, bool up);
    /// Link 'a' goes silent: what is sent to uplinkd over it is dropped, without an error.
    void silenceA(bool on);
    /// Bytes this namespace received over link 'a' or 'b'.
    uint64_t received(char link) const;
    /// Mosquitto listening also on brokerIp():port.
    std::string brokerListener(const Pki& pki, uint16_t port) const;
    /// Mosquitto (TLS by `pki`) on a free port of 127.0.0.1 and on brokerIp():port.
    Mosquitto broker(const TempDir& dir, const Pki& pki, uint16_t port) const;
    /// The route "cloud" to the broker at brokerIp():port with TLS by `pki`'s CA, short failure
    /// detection and hold-down.
    std::string route(uint16_t port, const Pki& pki, const LabRoute& r) const;

  private:
    std::string inNs(const std::string& cmd) const { return "ip netns exec " + ns_ + " " + cmd; }
    std::string net_, ns_, a_, b_;
    bool ok_ = false, created_ = false, silenced_ = false;
};

/// The fixture of the tests in the lab: a state directory, a PKI, the lab, and the port its
/// broker will listen on at brokerIp().
class LabTest : public ::testing::Test {
  protected:
    TempDir dir;
    Pki pki = makePki(dir.file("pki"));
    NetLab lab;
    uint16_t port = freePort();
};

}  // namespace uplinkd::testing
