// SPDX-License-Identifier: Apache-2.0
#include "modem_emulator.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "tunnel/connect_request.hpp"

namespace uplinkd::testing {

ModemEmulator::ModemEmulator(const TempDir& dir, const std::string& model, unsigned baud,
                             const std::vector<std::string>& extra_args)
    : device_(dir.file("tty-" + model)),
      control_(dir.file(model + ".ctl")),
      trace_(dir.file(model + ".trace")) {
    int fds[2];
    if (::pipe(fds) != 0) {
        ADD_FAILURE() << "pipe failed";
        return;
    }
    std::vector<std::string> argv{MODEM_EMULATOR_PATH,
                                  "--model",
                                  model,
                                  "--link",
                                  device_,
                                  "--control",
                                  control_,
                                  "--baud",
                                  std::to_string(baud),
                                  "--log",
                                  trace_,
                                  "--ready-fd",
                                  std::to_string(fds[1]),
                                  "--exit-with-parent"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Process>(std::move(argv), dir.file(model + "-emulator.log"));
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
        // Its own log and stderr: what it did off the serial line (its broker connections)
        // and, if it died, why (a sanitizer report).
        const std::string l = process_->log();
        // The tail, or from the first sanitizer report on.
        size_t from = l.size() > 6000 ? l.size() - 6000 : 0;
        for (const char* report : {"ERROR: AddressSanitizer", "runtime error:", "ERROR: Leak"}) {
            if (const size_t at = l.find(report); at != std::string::npos) {
                from = std::min(from, at);
            }
        }
        std::cerr << "---- modem emulator log (end)"
                  << (process_->running() ? "" : ", the emulator is no longer running") << " ----\n"
                  << l.substr(from, 20000) << "\n---------------------\n";
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

// ---- helpers for end-to-end tests -----------------------------------------------------------

using nlohmann::json;
using namespace std::chrono_literals;

const DriverCase kHl78Case{"sierra-hl78", "hl78",       "+KSUP: 0",
                           "AT+KTCPSND",  "AT+KTCPCFG", "AT+KCNXUP"};
const DriverCase kA76xxCase{"simcom-a76xx", "a76xx",       "*ATREADY: 1",
                            "AT+CCHSEND",   "AT+CIPOPEN=", "AT+NETOPEN"};

void PrintTo(const DriverCase& d, std::ostream* os) {
    *os << d.model;
}

std::string modelName(const ::testing::TestParamInfo<DriverCase>& p) {
    return p.param.model;
}

void PrintTo(const DriverTls& p, std::ostream* os) {
    *os << p.driver.model << "/" << p.tls;
}

std::string driverTlsName(const ::testing::TestParamInfo<DriverTls>& p) {
    return p.param.driver.model + "_tls_" + p.param.tls;
}

const std::vector<DriverTls> kCellularDriverTls{
    {kHl78Case, "local"}, {kHl78Case, "modem"}, {kA76xxCase, "local"}, {kA76xxCase, "modem"}};

void requireDriverPlugin(const DriverCase& d) {
    const std::string so = pluginDir() + "/uplinkd-modem-" + d.driver + ".so";
    ASSERT_TRUE(std::filesystem::exists(so))
        << so << " is missing: the modem driver plugin " << d.driver << " was not built";
}

std::string modemUplinkConfig(const DriverCase& d, const ModemEmulator& emu, const std::string& tls,
                              const std::string& power, int health_check_ms) {
    std::ostringstream c;
    c << "[uplinks.lte]\ntype = \"modem\"\ndriver = \"" << d.driver << "\"\ndevice = \""
      << emu.device() << "\"\nbaud = 115200\nflow_control = false\ntls = \"" << tls
      << "\"\napn = \"internet\"\nhealth_check_ms = " << health_check_ms
      << "\n\n[uplinks.lte.power]\nbackend = \"" << power << "\"\n";
    if (power == "emulator") {
        c << "control_socket = \"" << emu.controlSocket() << "\"\nboot_wait_ms = 200\n";
    }
    c << "[routes.cloud]\nuplinks = [\"lte\"]\n";
    return c.str();
}

json modemPublishRequest(int id, const std::string& topic, const std::string& payload) {
    return json{{"op", "publish"},
                {"id", id},
                {"route", "cloud"},
                {"topic", topic},
                {"qos", 1},
                {"report_delivered", true},
                {"payload_b64", base64Encode(payload)}};
}

void deliverThrough(const Daemon& d, int id, const std::string& topic, const std::string& payload) {
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    ASSERT_TRUE(c.send(modemPublishRequest(id, topic, payload)));
    const json r = awaitApiReply(c, id, "delivered", 120s);
    ASSERT_EQ(r["status"], "delivered") << r.dump() << "\n" << d.log();
}

bool waitForLogCount(const Daemon& d, const std::string& what, size_t n,
                     std::chrono::milliseconds timeout) {
    return waitUntil([&] { return occurrences(d.log(), what) >= n; }, timeout);
}

void queueNumbered(const Daemon& d, const std::string& prefix, int count, size_t size) {
    ApiClient c;
    ASSERT_TRUE(c.connect(d.socket()));
    std::string batch;
    for (int i = 0; i < count; ++i) {
        std::string payload = "msg-" + std::to_string(i) + "-";
        payload.resize(size, 'x');
        json r = modemPublishRequest(i, prefix + "/" + std::to_string(i % 4), payload);
        r["report_delivered"] = false;
        batch += r.dump() + "\n";
    }
    ASSERT_TRUE(c.sendRaw(batch));
    std::set<int> queued;
    while (queued.size() < static_cast<size_t>(count)) {
        auto r = c.receive(30s);
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_EQ((*r)["status"], "queued") << r->dump();
        queued.insert((*r)["id"].get<int>());
    }
}

size_t numberedArrived(Subscriber& cloud) {
    std::set<std::string> got;
    for (const auto& m : cloud.messages()) {
        got.insert(m.payload.substr(0, m.payload.find('x')));
    }
    return got.size();
}

EmulatedRoute::EmulatedRoute(const TempDir& dir, const Pki& pki, const DriverCase& driver,
                             const std::string& tls, const std::string& filter, int health_check_ms)
    : broker(dir, pki),
      cloud(pki, broker.port(), filter),
      emu(dir, driver.model),
      daemon(dir, modemUplinkConfig(driver, emu, tls, "emulator", health_check_ms) +
                      genericRoute("cloud", broker.port(), pki.ca)) {}

std::string everyByteValue() {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += static_cast<char>(i);
    }
    return all;
}

std::vector<std::string> framingTokenPayloads() {
    const std::string all = everyByteValue();
    const std::string tokens =
        "--EOF--Pattern--\r\n+KTCP_NOTIF: 1,4\r\n\r\nOK\r\n\r\nERROR\r\n> \r\nCONNECT\r\n+++"
        "\r\n+KSUP: 0\r\n\r\n*ATREADY: 1\r\n\r\nRDY\r\n\r\n+CIPRXGET: 1,0\r\n+IPCLOSE: 0,1\r\n"
        "+CCH_PEER_CLOSED: 0\r\n+CCHRECV: DATA,0,5\r\n+KTCP_DATA: 1,99\r\n+CME ERROR: 912\r\n";
    std::string large;
    std::mt19937 rng(11);
    while (large.size() < 6000) {  // several reads: tokens straddle read boundaries
        large += tokens;
        for (int i = 0; i < 37; ++i) {
            large += static_cast<char>(rng() & 0xff);
        }
    }
    return {"--EOF--Pattern--\r\n+KTCP_NOTIF: 1,4\r\n", tokens, "--EOF--Pattern--", all, large};
}

LocalSubscriber::LocalSubscriber(const Daemon& d, const std::string& filter)
    : client_(std::make_unique<ApiClient>()) {
    if (!client_->connect(d.socket())) {
        ADD_FAILURE() << "cannot connect to the API";
        return;
    }
    if (!client_->send({{"op", "subscribe"},
                        {"id", "sub"},
                        {"route", "cloud"},
                        {"filter", filter},
                        {"qos", 1}})) {
        ADD_FAILURE() << "cannot send the subscription";
        return;
    }
    const json ok = awaitApiReply(*client_, "sub", "ok", 30s);
    EXPECT_EQ(ok["status"], "ok") << ok.dump();
}

bool LocalSubscriber::waitFor(const std::string& topic, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!received_.contains(topic)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) {
            return false;
        }
        auto r = client_->receive(left);
        if (!r || (*r)["event"] != "message") {
            continue;
        }
        std::string payload;
        if (r->contains("payload_b64")) {
            auto decoded = uplinkd::base64Decode((*r)["payload_b64"].get<std::string>());
            payload = decoded ? *decoded : "?";
        } else {
            payload = (*r)["payload"].get<std::string>();
        }
        received_[(*r)["topic"].get<std::string>()].push_back(payload);
    }
    return true;
}

bool LocalSubscriber::ready(Subscriber& cloud, const std::string& topic) {
    for (int i = 0; i < 60; ++i) {
        cloud.publish(topic, "ready", 1);
        if (waitFor(topic, 1s)) {
            return true;
        }
    }
    return false;
}

}  // namespace uplinkd::testing
