#include "modem_emulator.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace uplinkd::testing {

ModemEmulator::ModemEmulator(const TempDir& dir, const std::string& model, unsigned baud)
    : device_(dir.file("tty-" + model)),
      control_(dir.file(model + ".ctl")),
      trace_(dir.file(model + ".trace")) {
    int fds[2];
    if (::pipe(fds) != 0) {
        ADD_FAILURE() << "pipe failed";
        return;
    }
    process_ = std::make_unique<Process>(
        std::vector<std::string>{MODEM_EMULATOR_PATH, "--model", model, "--link", device_,
                                 "--control", control_, "--baud", std::to_string(baud), "--log",
                                 trace_, "--ready-fd", std::to_string(fds[1]),
                                 "--exit-with-parent"},
        dir.file(model + "-emulator.log"));
    ::close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    std::string got;
    char buf[16];
    while (got.find("ready") == std::string::npos && ::poll(&p, 1, 10000) > 0) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        got.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (got.find("ready") == std::string::npos) {
        ADD_FAILURE() << "the modem emulator did not start:\n" << process_->log();
    }
}

ModemEmulator::~ModemEmulator() {
    if (::testing::Test::HasFailure()) {
        const std::string t = trace();
        std::cerr << "---- modem emulator AT trace (end) ----\n"
                  << t.substr(t.size() > 8000 ? t.size() - 8000 : 0) << "\n---------------------\n";
    }
}

std::string ModemEmulator::control(const std::string& line) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", control_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        ADD_FAILURE() << "cannot connect to the emulator's control socket " << control_;
        return {};
    }
    const std::string req = line + "\n";
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        ADD_FAILURE() << "cannot write to the emulator's control socket";
        return {};
    }
    std::string reply;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') {
        reply.push_back(c);
    }
    ::close(fd);
    return reply;
}

nlohmann::json ModemEmulator::status() const {
    return nlohmann::json::parse(control("status"), nullptr, false);
}

}  // namespace uplinkd::testing
