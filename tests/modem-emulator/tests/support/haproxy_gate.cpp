// SPDX-License-Identifier: Apache-2.0
#include "support/haproxy_gate.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

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

}  // namespace

std::string HaproxyGate::refuseMqtt31() {
    // A short CONNECT has a one-byte remaining length, so its protocol name starts at byte 2:
    // length 6, "MQIsdp".
    return "  tcp-request inspect-delay 5s\n"
           "  tcp-request content reject if { req.payload(2,8) -m bin 00064d5149736470 }\n"
           "  tcp-request content accept if { req.len ge 10 }\n";
}

HaproxyGate::HaproxyGate(uint16_t backend_port, const std::string& rules) {
    if (dir_.path().empty()) {
        error_ = "cannot create a temporary directory";
        return;
    }
    port_ = freePort();
    std::ostringstream c;
    c << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
      << "  timeout server 60s\n"
      << "frontend gate\n  bind 127.0.0.1:" << port_ << "\n"
      << rules << "  default_backend broker\n"
      << "backend broker\n  server broker 127.0.0.1:" << backend_port << "\n";
    std::ofstream(dir_.file("haproxy.cfg")) << c.str();

    std::vector<std::string> args = {"/usr/sbin/haproxy", "-db", "-f", dir_.file("haproxy.cfg")};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = dir_.file("haproxy.log");
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        pid_ = -1;
        error_ = std::string("cannot start haproxy: ") + std::strerror(rc);
        return;
    }
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!accepts(port_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "haproxy exited: " + this->log();
            return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            error_ = "haproxy does not listen: " + this->log();
            return;
        }
        std::this_thread::sleep_for(20ms);  // polling a condition, not waiting for readiness
    }
}

HaproxyGate::~HaproxyGate() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

std::string HaproxyGate::log() const {
    std::ifstream in(dir_.file("haproxy.log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace emutest
