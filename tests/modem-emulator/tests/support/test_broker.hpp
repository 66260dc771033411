// SPDX-License-Identifier: Apache-2.0
// TestBroker: a real Mosquitto on an ephemeral port of 127.0.0.1 for one test, and BrokerPeer,
// a libmosquitto client on it that plays the cloud side (subscribes, records, publishes).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "support/emulator_process.hpp"
#include "support/server_process.hpp"
#include "support/test_pki.hpp"

struct mosquitto;
struct mosquitto_message;

namespace emutest {

using namespace std::chrono_literals;

/// Mosquitto started with a generated mosquitto.conf; SIGTERM on destruction. Test thread only.
class TestBroker : public ServerProcess {
  public:
    struct Options {
        bool tls = false;
        Credential server;   ///< the listener's certificate and key (tls)
        std::string ca_pem;  ///< roots for client certificates (tls)
        bool require_certificate = false;
        bool allow_anonymous = true;  ///< false (and no users): every CONNECT gets rc 5
        std::string extra;            ///< more mosquitto.conf lines

        /// A TLS listener with `pki`'s server certificate that trusts `pki`'s CA.
        static Options overTls(const TestPki& pki) {
            Options o;
            o.tls = true;
            o.server = pki.server;
            o.ca_pem = pki.ca.cert_pem;
            return o;
        }
        /// A broker that refuses every CONNECT (CONNACK 5).
        static Options refusing() {
            Options o;
            o.allow_anonymous = false;
            return o;
        }
    };

    explicit TestBroker(Options opts);
    TestBroker() : TestBroker(Options{}) {}

  private:
    bool launch(const Options& opts);
};

/// A libmosquitto client of the test broker (plain TCP, or TLS trusting `ca_pem`); its network
/// thread records messages. Thread-safe accessors; the test thread owns it.
class BrokerPeer {
  public:
    struct Received {
        std::string topic;
        std::string payload;
        int qos = 0;
        bool retain = false;
    };

    BrokerPeer(uint16_t port, const std::string& ca_pem = "");
    ~BrokerPeer();
    BrokerPeer(const BrokerPeer&) = delete;
    BrokerPeer& operator=(const BrokerPeer&) = delete;

    /// Empty when connected; else why not.
    const std::string& error() const { return error_; }
    /// Subscribes and waits for the SUBACK.
    bool subscribe(const std::string& filter, int qos = 1);
    /// Publishes and waits until it went out (PUBACK for QoS 1).
    bool publish(const std::string& topic, const std::string& payload, int qos = 1,
                 bool retain = false);
    /// Waits until at least `n` messages arrived; returns them all.
    std::vector<Received> waitFor(size_t n, std::chrono::milliseconds timeout = 10s);

  private:
    static void onConnect(struct mosquitto*, void* self, int rc);
    static void onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m);
    static void onSubscribe(struct mosquitto*, void* self, int mid, int, const int*);
    static void onPublish(struct mosquitto*, void* self, int mid);

    struct mosquitto* mosq_ = nullptr;
    TempDir dir_;
    std::string error_;
    std::mutex mu_;
    std::condition_variable cv_;
    int connect_rc_ = -1;
    std::vector<int> acked_;
    std::vector<Received> messages_;
};

/// The checks a test with a broker and a cloud-side peer on it starts with: "" when the broker
/// runs, the peer is connected and, given a `filter`, subscribed to it (QoS 1); else what
/// failed, with the broker's log.
std::string peerReady(const TestBroker& broker, BrokerPeer& cloud, const std::string& filter = "");

}  // namespace emutest
