// SPDX-License-Identifier: Apache-2.0
#include "support/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace emutest {
namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

/// A brief pause between two checks of a child's state.
void pause10ms() {
    pollfd none{-1, 0, 0};
    poll(&none, 0, 10);
}

}  // namespace

pid_t spawnChild(std::vector<std::string> args, const ChildIo& io, std::string& error) {
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!io.output_file.empty()) {
        posix_spawn_file_actions_addopen(&actions, 1, io.output_file.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    if (io.ready_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, io.ready_fd, 3);  // dup2 clears FD_CLOEXEC
    }
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        error = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
        return -1;
    }
    return pid;
}

int stopChild(pid_t& pid) {
    if (pid <= 0) {
        return -1;
    }
    kill(pid, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        pause10ms();
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        pid = -1;
        return -2;
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint16_t freeLoopbackPort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

bool acceptsOnLoopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in a = loopback(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    return ok;
}

ServerProcess::ServerProcess(std::string name) : name_(std::move(name)) {
    if (dir_.path().empty()) {
        error_ = "cannot create a temporary directory";
    }
}

ServerProcess::~ServerProcess() {
    stop();
}

bool ServerProcess::pickPort() {
    port_ = freeLoopbackPort();
    if (port_ == 0) {
        error_ = "no free port";
        return false;
    }
    return true;
}

bool ServerProcess::run(std::vector<std::string> args, std::chrono::seconds limit) {
    pid_ = spawnChild(std::move(args), ChildIo{dir_.file("output.log"), -1}, error_);
    if (pid_ < 0) {
        return false;
    }
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = name_ + " exited at start: " + log();
            return false;
        }
        if (acceptsOnLoopback(port_)) {
            return true;
        }
        pause10ms();
    }
    error_ = name_ + " did not listen within " + std::to_string(limit.count()) + " s: " + log();
    return false;
}

void ServerProcess::stop() {
    stopChild(pid_);
}

std::string ServerProcess::log() const {
    std::ifstream in(dir_.file("output.log"));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace emutest
