// Test MQTT pieces: a Mosquitto broker on an ephemeral port and a libmosquitto peer client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "support/emulator_process.hpp"

struct mosquitto;
struct mosquitto_message;

namespace emutest {

/// Mosquitto on 127.0.0.1 with its configuration in a temp dir; stopped on destruction.
/// Test thread only.
class MosquittoBroker {
  public:
    struct Options {
        bool tls = false;
        std::string ca_pem, cert_pem, key_pem;  ///< server credential when tls
        std::string extra;                      ///< more mosquitto.conf lines
    };
    explicit MosquittoBroker(Options opts);
    ~MosquittoBroker();
    MosquittoBroker(const MosquittoBroker&) = delete;
    MosquittoBroker& operator=(const MosquittoBroker&) = delete;

    /// Empty when the broker listens; else why not.
    const std::string& startError() const { return error_; }
    uint16_t port() const { return port_; }
    std::string log() const;

  private:
    TempDir dir_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string error_;
};

/// A plain-TCP MQTT 3.1.1 client on the broker (libmosquitto, its own thread) that records
/// what it receives. Thread-safe accessors; the test thread owns it.
class MqttPeer {
  public:
    struct Received {
        std::string topic;
        std::string payload;
        int qos = 0;
        bool retain = false;
    };
    /// Connects and, when `filter` is not empty, subscribes (waits for the SUBACK).
    MqttPeer(uint16_t port, const std::string& filter);
    ~MqttPeer();
    MqttPeer(const MqttPeer&) = delete;
    MqttPeer& operator=(const MqttPeer&) = delete;

    bool ready() const { return ready_; }
    bool waitFor(size_t n, std::chrono::milliseconds timeout);
    std::vector<Received> messages();
    /// Publishes and waits until libmosquitto handed it over (PUBACK for QoS 1).
    bool publish(const std::string& topic, const std::string& payload, int qos = 1,
                 bool retain = false);

  private:
    static void onConnect(struct mosquitto*, void* self, int rc);
    static void onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m);
    static void onSubscribe(struct mosquitto*, void* self, int, int, const int*);
    static void onPublish(struct mosquitto*, void* self, int mid);

    struct mosquitto* mosq_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Received> messages_;
    std::vector<int> published_;
    bool connected_ = false;
    bool subscribed_ = false;
    bool ready_ = false;
};

}  // namespace emutest
