// SPDX-License-Identifier: Apache-2.0
// LinkMonitor: tells when a network interface goes down (administratively or carrier lost) or
// comes back, from the kernel's rtnetlink link messages, on the loop. Thread: loop.
#pragma once

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "uplinkd/result.hpp"

namespace uplinkd {

/// One interface's state from an rtnetlink message.
struct LinkEvent {
    std::string interface;
    bool up = false;  ///< administratively up and with carrier
    bool operator==(const LinkEvent&) const = default;
};

/// The link events in a buffer of rtnetlink messages (RTM_NEWLINK, RTM_DELLINK); anything
/// else or malformed is skipped. Pure.
std::vector<LinkEvent> parseLinkMessages(std::span<const uint8_t> buf);

class LinkMonitor {
  public:
    /// `changed` runs on the loop when an interface's state changes.
    using Handler = std::function<void(const LinkEvent&)>;
    explicit LinkMonitor(asio::io_context& loop);
    ~LinkMonitor();
    LinkMonitor(const LinkMonitor&) = delete;
    LinkMonitor& operator=(const LinkMonitor&) = delete;

    /// Opens the netlink socket and starts listening.
    Status start(Handler changed);
    /// Whether `interface` is up with carrier now (true when unknown).
    bool isUp(const std::string& interface) const;

  private:
    void read();

    asio::posix::stream_descriptor socket_;
    Handler changed_;
    std::map<std::string, bool> state_;
    std::array<uint8_t, 16384> buf_{};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
