// SPDX-License-Identifier: Apache-2.0
#include "support/emulator_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "support/server_process.hpp"

namespace emutest {

TempDir::TempDir() : path_(new std::string) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "emutest.XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) {
        *path_ = tmpl;
    }
}

void TempDir::Remove::operator()(std::string* path) const {
    if (!path->empty()) {
        std::error_code ec;
        std::filesystem::remove_all(*path, ec);
    }
    delete path;
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
    pid_ = spawnChild(std::move(args), ChildIo{"", ready[1]}, error_);
    close(ready[1]);
    if (pid_ < 0) {
        close(ready[0]);
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
    // Bounded wait: an emulator that does not exit within 10 s is killed and reported.
    return stopChild(pid_);
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
