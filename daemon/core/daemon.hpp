// Daemon: wires configuration, spool, uplinks, routes, tunnel and the local API together, and
// handles reloads. The one place where route errors and API events meet. Thread: loop.
#pragma once

#include <asio.hpp>
#include <map>
#include <memory>

#include "api/publish_server.hpp"
#include "config/config.hpp"
#include "plugin/plugin_registry.hpp"
#include "session/route_session.hpp"
#include "tunnel/tunnel.hpp"
#include "uplink/uplink.hpp"
#include "uplinkd/spool.hpp"

namespace uplinkd {

class Daemon final : public api::ApiBackend {
  public:
    Daemon(asio::io_context& loop, ConfigSource source);
    ~Daemon() override;

    /// Loads the configuration and starts everything. Errors are configuration errors (exit 78)
    /// when their code is "config", otherwise start-up failures.
    Status start();
    /// Re-reads the configuration; keeps the running one when the new one is bad.
    void reload();
    void stop();

    // api::ApiBackend
    void publish(Message msg, std::function<void(Result<uint64_t>)> done) override;
    Result<nlohmann::json> status(const std::string& route) override;
    Status subscribe(const std::string& route, const std::string& filter, int qos) override;
    void unsubscribe(const std::string& route, const std::string& filter) override;

  private:
    void applyRoutes(const Config& cfg);
    void buildUplinks(const Config& cfg);
    std::unique_ptr<RouteSession> makeRoute(const RouteConfig& rc);
    void startHousekeeping();

    asio::io_context& loop_;
    ConfigSource source_;
    PluginRegistry plugins_;
    Config config_;
    SpoolPtr spool_;
    std::unique_ptr<Tunnel> tunnel_;
    std::map<std::string, std::unique_ptr<Uplink>> uplinks_;
    std::map<std::string, std::unique_ptr<RouteSession>> routes_;
    std::unique_ptr<api::PublishServer> api_;
    asio::steady_timer housekeeping_;
    int64_t started_ms_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplinkd
