// SPDX-License-Identifier: Apache-2.0
// LocalNetwork: the board's own network stack (Ethernet, Wi-Fi, PPP), optionally bound to one
// interface with SO_BINDTODEVICE. Thread: loop.
#pragma once

#include <asio.hpp>

#include "uplink/uplink.hpp"

namespace uplinkd {

class LocalNetwork final : public Uplink {
  public:
    LocalNetwork(asio::io_context& loop, std::string name, std::string interface);
    ~LocalNetwork() override;

    void connect(const std::string& host, uint16_t port, ConnectHandler handler) override;
    const std::string& name() const override { return name_; }
    std::string describe() const override;
    std::string interfaceName() const override { return interface_; }

  private:
    asio::io_context& loop_;
    std::string name_;
    std::string interface_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
