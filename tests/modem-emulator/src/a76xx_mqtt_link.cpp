// The broker side of the A76xx MQTT client. Interim: a real TCP/TLS connection that stands in
// for the MQTT session and loops publishes back to this client's own subscriptions.
#include "model_a76xx_mqtt.hpp"

namespace uplinkd::emulator {
namespace {

bool topicMatches(const std::string& filter, const std::string& topic) {
    if (filter == "#") {
        return true;
    }
    if (filter.size() >= 2 && filter.compare(filter.size() - 2, 2, "/#") == 0) {
        return topic.compare(0, filter.size() - 1, filter, 0, filter.size() - 1) == 0;
    }
    return filter == topic;
}

/// Interim broker side; loop-bound.
class LoopbackLink : public MqttBrokerLink {
  public:
    explicit LoopbackLink(asio::io_context& io) : io_(io) {}
    ~LoopbackLink() override { close(); }

    void connect(MqttConnectSpec spec, ConnectDone done) override {
        sock_ = std::make_shared<HostSocket>(io_);
        sock_->onClosed([this] {
            if (on_lost_) {
                on_lost_();
            }
        });
        sock_->connect(spec.host, spec.port, spec.tls, spec.timeout,
                       [this, done](ConnectError e, const std::string& detail) {
                           switch (e) {
                               case ConnectError::None:
                                   done(MqttFailure::None, 0, "");
                                   return;
                               case ConnectError::Dns:
                                   done(MqttFailure::Dns, 0, detail);
                                   return;
                               case ConnectError::Refused:
                                   done(MqttFailure::Refused, 0, detail);
                                   return;
                               case ConnectError::Timeout:
                                   done(MqttFailure::Timeout, 0, detail);
                                   return;
                               case ConnectError::TlsInit:
                                   done(MqttFailure::TlsInit, 0, detail);
                                   return;
                               default:
                                   done(MqttFailure::TlsHandshake, 0, detail);
                                   return;
                           }
                       });
    }
    void publish(std::string topic, std::string payload, int, bool, Done done) override {
        for (const auto& [filter, qos] : subs_) {
            if (topicMatches(filter, topic)) {
                asio::post(io_, [this, topic, payload, alive = std::weak_ptr<bool>(alive_)] {
                    if (!alive.expired() && on_message_) {
                        on_message_(topic, payload);
                    }
                });
                break;
            }
        }
        post(std::move(done), true);
    }
    void subscribe(std::vector<std::pair<std::string, int>> topics, Done done) override {
        for (auto& t : topics) {
            subs_.push_back(std::move(t));
        }
        post(std::move(done), true);
    }
    void unsubscribe(std::vector<std::string> topics, Done done) override {
        for (const auto& t : topics) {
            std::erase_if(subs_, [&](const auto& s) { return s.first == t; });
        }
        post(std::move(done), true);
    }
    void disconnect(Done done) override {
        if (sock_) {
            sock_->close();
        }
        post(std::move(done), true);
    }
    void close() override {
        alive_ = std::make_shared<bool>(true);
        if (sock_) {
            sock_->close();
            sock_.reset();
        }
    }
    void dropAsRemote() override {
        if (sock_) {
            auto s = sock_;
            s->dropAsRemote();
        }
    }

  private:
    void post(Done done, bool ok) {
        asio::post(io_, [done = std::move(done), ok, alive = std::weak_ptr<bool>(alive_)] {
            if (!alive.expired()) {
                done(ok);
            }
        });
    }

    asio::io_context& io_;
    HostSocketPtr sock_;
    std::vector<std::pair<std::string, int>> subs_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<MqttBrokerLink> makeMqttBrokerLink(asio::io_context& io) {
    return std::make_unique<LoopbackLink>(io);
}

}  // namespace uplinkd::emulator
