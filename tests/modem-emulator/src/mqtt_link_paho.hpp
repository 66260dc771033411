// SPDX-License-Identifier: Apache-2.0
// MqttLink's private pieces: the Paho worker thread, the callback bridge, a connection's client.
#pragma once

#include <mqtt/async_client.h>
#include <openssl/crypto.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "mqtt_link.hpp"

namespace uplinkd::emulator {

/// Every Paho call of every link runs on this one thread, so neither the loop nor Paho's own
/// threads create, use or destroy a client under each other. Joined at exit.
class PahoWorker {
  public:
    ~PahoWorker() { pool_.join(); }
    void post(std::function<void()> fn) {
        asio::post(pool_, [fn = std::move(fn)] {
            fn();
            // Paho's client creation initialises OpenSSL, which keeps per-thread state; free
            // it now rather than at exit (after the leak check).
            OPENSSL_thread_stop();
        });
    }

  private:
    asio::thread_pool pool_{1};
};

/// The one PahoWorker of the process.
PahoWorker& pahoWorker();

/// Time to wait, after the broker side closed, for Paho to report what it read before EOF.
inline constexpr std::chrono::milliseconds kDrainTime{3000};

/// Carries Paho's callbacks (any thread) into the loop, for one connection; cut() (loop) stops
/// it. The posted handler runs on the loop and finds the link only while the cut has not run.
struct MqttLink::Bridge : std::enable_shared_from_this<Bridge> {
    std::mutex mu;
    asio::io_context* io = nullptr;
    MqttLink* link = nullptr;  // read and written on the loop only

    void post(std::function<void(MqttLink&)> fn) {
        std::lock_guard<std::mutex> lock(mu);
        if (io == nullptr) {
            return;
        }
        asio::post(*io, [self = shared_from_this(), fn = std::move(fn)] {
            if (self->link != nullptr) {
                fn(*self->link);
            }
        });
    }
    void cut() {
        std::lock_guard<std::mutex> lock(mu);
        io = nullptr;
        link = nullptr;
    }
};

/// The Paho client of one connection; touched on the worker thread only.
struct MqttLink::Paho {
    class Listener final : public mqtt::iaction_listener {
      public:
        using Fn = std::function<void(const mqtt::token&, bool ok)>;
        explicit Listener(Fn fn) : fn_(std::move(fn)) {}
        void on_success(const mqtt::token& tok) override { fn_(tok, true); }
        void on_failure(const mqtt::token& tok) override { fn_(tok, false); }

      private:
        Fn fn_;
    };

    // Declared before the client: tokens refer to the listener until the client is gone.
    std::unique_ptr<Listener> listener;
    std::unique_ptr<mqtt::connect_options> opts;
    std::unique_ptr<mqtt::async_client> client;
    mqtt::token_ptr connect_token;
};

}  // namespace uplinkd::emulator
