// SPDX-License-Identifier: Apache-2.0
#include "support/test_broker.hpp"

#include <mosquitto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace emutest {

namespace {

constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

bool writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

/// Runs libmosquitto's init once for the test process.
void libInit() {
    static const int once = [] { return mosquitto_lib_init(); }();
    (void)once;
}

}  // namespace

TestBroker::TestBroker(Options opts) : ServerProcess("mosquitto") {
    if (!error_.empty()) {
        return;
    }
    // Mosquitto started as root drops to its own user, which must read the files here.
    ::chmod(dir_.path().c_str(), 0755);
    // The port was free a moment ago; another process may take it first, so try a few.
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (launch(opts)) {
            error_.clear();
            return;
        }
        stop();
    }
}

bool TestBroker::launch(const Options& opts) {
    if (!pickPort()) {
        return false;
    }
    std::ostringstream conf;
    conf << "per_listener_settings true\n"
         << "log_dest stderr\n"
         << "log_type all\n"
         << "persistence false\n"
         << "listener " << port() << " 127.0.0.1\n"
         << "allow_anonymous " << (opts.allow_anonymous ? "true" : "false") << "\n";
    if (opts.tls) {
        if (!writeText(dir_.file("server.pem"), opts.server.cert_pem) ||
            !writeText(dir_.file("server.key"), opts.server.key_pem) ||
            !writeText(dir_.file("ca.pem"), opts.ca_pem)) {
            error_ = "cannot write the broker's TLS files";
            return false;
        }
        conf << "certfile " << dir_.file("server.pem") << "\n"
             << "keyfile " << dir_.file("server.key") << "\n"
             << "cafile " << dir_.file("ca.pem") << "\n";
        if (opts.require_certificate) {
            conf << "require_certificate true\n";
        }
    }
    conf << opts.extra;
    if (!writeText(dir_.file("mosquitto.conf"), conf.str())) {
        error_ = "cannot write mosquitto.conf";
        return false;
    }
    return run({kMosquitto, "-c", dir_.file("mosquitto.conf")}, 10s);
}

std::string peerReady(const TestBroker& broker, BrokerPeer& cloud, const std::string& filter) {
    if (!broker.startError().empty()) {
        return broker.startError();
    }
    if (!cloud.error().empty()) {
        return "the cloud peer: " + cloud.error() + "; broker log: " + broker.log();
    }
    if (!filter.empty() && !cloud.subscribe(filter, 1)) {
        return "the cloud peer cannot subscribe to " + filter + "; broker log: " + broker.log();
    }
    return {};
}

BrokerPeer::BrokerPeer(uint16_t port, const std::string& ca_pem) {
    libInit();
    mosq_ = mosquitto_new(nullptr, true, this);
    if (mosq_ == nullptr) {
        error_ = "mosquitto_new failed";
        return;
    }
    mosquitto_connect_callback_set(mosq_, &BrokerPeer::onConnect);
    mosquitto_message_callback_set(mosq_, &BrokerPeer::onMessage);
    mosquitto_subscribe_callback_set(mosq_, &BrokerPeer::onSubscribe);
    mosquitto_publish_callback_set(mosq_, &BrokerPeer::onPublish);
    if (!ca_pem.empty()) {
        std::string ca = dir_.file("ca.pem");
        if (!writeText(ca, ca_pem) ||
            mosquitto_tls_set(mosq_, ca.c_str(), nullptr, nullptr, nullptr, nullptr) !=
                MOSQ_ERR_SUCCESS ||
            mosquitto_tls_insecure_set(mosq_, true) != MOSQ_ERR_SUCCESS) {  // chain checked
            error_ = "cannot set up TLS for the peer";
            return;
        }
    }
    if (mosquitto_connect(mosq_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq_) != MOSQ_ERR_SUCCESS) {
        error_ = "the peer cannot connect to the broker";
        return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, 10s, [this] { return connect_rc_ >= 0; }) || connect_rc_ != 0) {
        error_ = "the broker did not accept the peer (rc " + std::to_string(connect_rc_) + ")";
    }
}

BrokerPeer::~BrokerPeer() {
    if (mosq_ != nullptr) {
        mosquitto_disconnect(mosq_);
        mosquitto_loop_stop(mosq_, true);
        mosquitto_destroy(mosq_);
    }
}

void BrokerPeer::onConnect(struct mosquitto*, void* self, int rc) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard<std::mutex> lock(p->mu_);
    p->connect_rc_ = rc;
    p->cv_.notify_all();
}

void BrokerPeer::onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard<std::mutex> lock(p->mu_);
    p->messages_.push_back(
        {m->topic,
         std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
         m->qos, m->retain});
    p->cv_.notify_all();
}

void BrokerPeer::onSubscribe(struct mosquitto*, void* self, int mid, int, const int*) {
    onPublish(nullptr, self, mid);
}

void BrokerPeer::onPublish(struct mosquitto*, void* self, int mid) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard<std::mutex> lock(p->mu_);
    p->acked_.push_back(mid);
    p->cv_.notify_all();
}

bool BrokerPeer::subscribe(const std::string& filter, int qos) {
    int mid = 0;
    if (mosq_ == nullptr ||
        mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(
        lock, 10s, [&] { return std::find(acked_.begin(), acked_.end(), mid) != acked_.end(); });
}

bool BrokerPeer::publish(const std::string& topic, const std::string& payload, int qos,
                         bool retain) {
    int mid = 0;
    if (mosq_ == nullptr ||
        mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                          payload.data(), qos, retain) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(
        lock, 10s, [&] { return std::find(acked_.begin(), acked_.end(), mid) != acked_.end(); });
}

std::vector<BrokerPeer::Received> BrokerPeer::waitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
    return messages_;
}

}  // namespace emutest
