// SPDX-License-Identifier: Apache-2.0
#include "support/emulator_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace emutest {

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "emutest.XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) {
        path_ = tmpl;
    }
}

TempDir::~TempDir() {
    if (!path_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
}

EmulatorProcess::EmulatorProcess(Options opts) {
    if (dir_.path().empty()) {
        error_ = "cannot create a temporary directory";
        return;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        error_ = "pipe failed";
        return;
    }
    std::vector<std::string> args = {MODEM_EMULATOR_PATH,
                                     "--model",
                                     opts.model,
                                     "--baud",
                                     std::to_string(opts.baud),
                                     "--link",
                                     ttyPath(),
                                     "--control",
                                     controlPath(),
                                     "--log",
                                     logPath(),
                                     "--ready-fd",
                                     "3",
                                     "--exit-with-parent"};
    args.insert(args.end(), opts.extra.begin(), opts.extra.end());
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ready[1], 3);  // dup2 clears FD_CLOEXEC
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(ready[1]);
    if (rc != 0) {
        pid_ = -1;
        close(ready[0]);
        error_ = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
        return;
    }
    // Wait (bounded) for "ready\n"; no sleeping.
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (got.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        pollfd p{ready[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
            error_ = "emulator did not report ready";
            break;
        }
        char buf[64];
        ssize_t n = read(ready[0], buf, sizeof(buf));
        if (n <= 0) {
            error_ = "emulator exited before it was ready";
            break;
        }
        got.append(buf, static_cast<size_t>(n));
    }
    if (error_.empty() && got != "ready\n") {
        error_ = "unexpected readiness message: " + got;
    }
    close(ready[0]);
}

EmulatorProcess::~EmulatorProcess() {
    if (pid_ > 0) {
        // A sanitizer report or a crash in the emulator shows up as a bad exit status.
        int status = stop();
        EXPECT_EQ(status, 0) << "the emulator did not exit cleanly on SIGTERM";
    }
}

int EmulatorProcess::stop() {
    if (pid_ <= 0) {
        return -1;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    // Bounded wait: an emulator that does not exit within 10 s is killed and reported.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    pid_t done = 0;
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        pollfd none{-1, 0, 0};
        poll(&none, 0, 10);  // brief pause between checks of the child's state
    }
    if (done == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return -2;
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string EmulatorProcess::control(const std::string& line) const {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return {};
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = controlPath();
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(fd);
        return {};
    }
    std::string msg = line + "\n";
    if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
        close(fd);
        return {};
    }
    std::string reply;
    char c;
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 5000) > 0 && read(fd, &c, 1) == 1 && c != '\n') {
        reply.push_back(c);
    }
    close(fd);
    return reply;
}

}  // namespace emutest
