#include "support/test_broker.hpp"

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

TestBroker::TestBroker(Options opts) {
    if (dir_.path().empty()) {
        error_ = "cannot create a temporary directory";
        return;
    }
    port_ = freePort();
    std::ostringstream c;
    c << "listener " << port_ << " 127.0.0.1\n"
      << "allow_anonymous " << (opts.allow_anonymous ? "true" : "false") << "\n"
      << "max_queued_messages 0\nmax_inflight_messages 0\n";
    if (opts.tls) {
        writeFile(dir_.file("ca.pem"), opts.ca_pem);
        writeFile(dir_.file("server.pem"), opts.server.cert_pem);
        writeFile(dir_.file("server.key"), opts.server.key_pem);
        if (!opts.ca_pem.empty()) {
            c << "cafile " << dir_.file("ca.pem") << "\n";
        }
        c << "certfile " << dir_.file("server.pem") << "\nkeyfile " << dir_.file("server.key")
          << "\n";
        if (opts.require_certificate) {
            c << "require_certificate true\n";
        }
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

TestBroker::~TestBroker() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

std::string TestBroker::log() const {
    std::ifstream in(dir_.file("mosquitto.log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

BrokerPeer::BrokerPeer(uint16_t port, const std::string& ca_pem) {
    static LibInit init;
    mosq_ = mosquitto_new(nullptr, true, this);
    if (mosq_ == nullptr) {
        error_ = "mosquitto_new failed";
        return;
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(mosq_, &BrokerPeer::onConnect);
    mosquitto_message_callback_set(mosq_, &BrokerPeer::onMessage);
    mosquitto_subscribe_callback_set(mosq_, &BrokerPeer::onSubscribe);
    mosquitto_publish_callback_set(mosq_, &BrokerPeer::onPublish);
    if (!ca_pem.empty()) {
        writeFile(dir_.file("ca.pem"), ca_pem);
        if (mosquitto_tls_set(mosq_, dir_.file("ca.pem").c_str(), nullptr, nullptr, nullptr,
                              nullptr) != MOSQ_ERR_SUCCESS) {
            error_ = "mosquitto_tls_set failed";
            return;
        }
    }
    if (mosquitto_connect(mosq_, ca_pem.empty() ? "127.0.0.1" : "localhost", port, 60) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq_) != MOSQ_ERR_SUCCESS) {
        error_ = "cannot connect to the broker";
        return;
    }
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 10s, [this] { return connect_rc_ >= 0; }) || connect_rc_ != 0) {
        error_ = "no CONNACK 0 (" + std::to_string(connect_rc_) + ")";
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
    std::lock_guard lock(p->mu_);
    p->connect_rc_ = rc;
    p->cv_.notify_all();
}

void BrokerPeer::onMessage(struct mosquitto*, void* self, const struct mosquitto_message* m) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->messages_.push_back(
        {m->topic,
         std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
         m->qos, m->retain});
    p->cv_.notify_all();
}

void BrokerPeer::onSubscribe(struct mosquitto*, void* self, int mid, int, const int*) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->subacked_.push_back(mid);
    p->cv_.notify_all();
}

void BrokerPeer::onPublish(struct mosquitto*, void* self, int mid) {
    auto* p = static_cast<BrokerPeer*>(self);
    std::lock_guard lock(p->mu_);
    p->acked_.push_back(mid);
    p->cv_.notify_all();
}

bool BrokerPeer::subscribe(const std::string& filter, int qos) {
    int mid = 0;
    if (mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] {
        return std::find(subacked_.begin(), subacked_.end(), mid) != subacked_.end();
    });
}

bool BrokerPeer::publish(const std::string& topic, const std::string& payload, int qos,
                         bool retain) {
    int mid = 0;
    if (mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                          payload.data(), qos, retain) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock lock(mu_);
    return cv_.wait_for(
        lock, 10s, [&] { return std::find(acked_.begin(), acked_.end(), mid) != acked_.end(); });
}

std::vector<BrokerPeer::Received> BrokerPeer::waitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
    return messages_;
}

}  // namespace emutest
