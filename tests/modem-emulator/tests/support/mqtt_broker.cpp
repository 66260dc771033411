#include "support/mqtt_broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace emutest {
namespace {

using namespace std::chrono_literals;

uint16_t freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool accepts(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

struct LibInit {
    LibInit() { mosquitto_lib_init(); }
};

}  // namespace

MosquittoBroker::MosquittoBroker(Options opts) {
    if (dir_.path().empty()) {
        error_ = "cannot create a temporary directory";
        return;
    }
    port_ = freePort();
    std::ostringstream c;
    c << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n"
      << "max_queued_messages 0\nmax_inflight_messages 0\n";
    if (opts.tls) {
        writeFile(dir_.file("ca.pem"), opts.ca_pem);
        writeFile(dir_.file("server.pem"), opts.cert_pem);
        writeFile(dir_.file("server.key"), opts.key_pem);
        c << "cafile " << dir_.file("ca.pem") << "\ncertfile " << dir_.file("server.pem")
          << "\nkeyfile " << dir_.file("server.key") << "\n";
    }
    c << opts.extra << "\n";
    writeFile(dir_.file("mosquitto.conf"), c.str());

    std::vector<std::string> args = {"/usr/sbin/mosquitto", "-c", dir_.file("mosquitto.conf")};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = dir_.file("mosquitto.log");
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        pid_ = -1;
        error_ = std::string("cannot start mosquitto: ") + std::strerror(rc);
        return;
    }
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!accepts(port_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "mosquitto exited: " + this->log();
            return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            error_ = "mosquitto does not listen: " + this->log();
            return;
        }
        std::this_thread::sleep_for(20ms);  // polling a condition, not waiting for readiness
    }
}

MosquittoBroker::~MosquittoBroker() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

std::string MosquittoBroker::log() const {
    std::ifstream in(dir_.file("mosquitto.log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

MqttPeer::MqttPeer(uint16_t port, const std::string& filter) {
    static LibInit init;
    mosq_ = mosquitto_new(nullptr, true, this);
    if (mosq_ == nullptr) {
        return;
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(mosq_, &MqttPeer::onConnect);
    mosquitto_message_callback_set(mosq_, &MqttPeer::onMessage);
    mosquitto_subscribe_callback_set(mosq_, &MqttPeer::onSubscribe);
    mosquitto_publish_callback_set(mosq_, &MqttPeer::onPublish);
    if (mosquitto_connect(mosq_, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq_) != MOSQ_ERR_SUCCESS) {
        return;
    }
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 10s, [this] { return connected_; })) {
        return;
    }
    if (!filter.empty()) {
        lock.unlock();
        mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1);
        lock.lock();
        if (!cv_.wait_for(lock, 10s, [this] { return subscribed_; })) {
            return;
        }
    }
    ready_ = true;
}

MqttPeer::~MqttPeer() {
    if (mosq_ != nullptr) {
        mosquitto_disconnect(mosq_);
        mosquitto_loop_stop(mosq_, true);
        mosquitto_destroy(mosq_);
    }
}

void MqttPeer::onConnect(struct mosquitto*, void* self, int rc) {
    auto* p = static_cast<MqttPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->connected_ = rc == 0;
    p->cv_.notify_all();
}

void MqttPeer::onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m) {
    auto* p = static_cast<MqttPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->messages_.push_back(
        {m->topic,
         std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
         m->qos, m->retain});
    p->cv_.notify_all();
}

void MqttPeer::onSubscribe(struct mosquitto*, void* self, int, int, const int*) {
    auto* p = static_cast<MqttPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->subscribed_ = true;
    p->cv_.notify_all();
}

void MqttPeer::onPublish(struct mosquitto*, void* self, int mid) {
    auto* p = static_cast<MqttPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->published_.push_back(mid);
    p->cv_.notify_all();
}

bool MqttPeer::waitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

std::vector<MqttPeer::Received> MqttPeer::messages() {
    std::lock_guard lock(mu_);
    return messages_;
}

bool MqttPeer::publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
    int mid = 0;
    if (mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                          payload.data(), qos, retain) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] {
        return std::find(published_.begin(), published_.end(), mid) != published_.end();
    });
}

}  // namespace emutest
