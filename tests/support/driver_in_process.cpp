// SPDX-License-Identifier: Apache-2.0
#include "driver_in_process.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace uplinkd::testing {

DriverInProcess::DriverInProcess(const ModemEmulator& emu, const std::string& driver) {
    plugins_.loadDirectory(pluginDir());
    api_ = plugins_.modem(driver);
    if (api_ == nullptr) {
        ADD_FAILURE() << "no " << driver << " plugin in " << pluginDir();
        return;
    }
    auto line = SerialPort::open(loop_, {emu.device(), 115200, false});
    if (!line) {
        ADD_FAILURE() << "cannot open " << emu.device() << ": " << line.error().message;
        return;
    }
    line_ = std::move(line.value());
    channel_.attach(*line_);
}

DriverInProcess::~DriverInProcess() {
    driver_.reset();
    channel_.clearUrcHandlers();
    channel_.detach();
}

Status DriverInProcess::create(const ModemSettings& settings, std::unique_ptr<AtChannel> over) {
    if (api_ == nullptr || line_ == nullptr) {
        return fail("test", "no plugin or no line to create the driver on");
    }
    over_ = std::move(over);
    auto driver = api_->create(loop_, over_ != nullptr ? *over_ : channel_, settings);
    if (!driver) {
        return driver.failure();
    }
    driver_ = std::move(driver.value());
    return okStatus();
}

bool DriverInProcess::run(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        loop_.restart();
        loop_.run_one_for(20ms);
    }
    return done();
}

Status DriverInProcess::await(const StatusCall& call, std::chrono::milliseconds timeout) {
    std::optional<Status> result;
    call([&](Status s) { result = std::move(s); });
    if (!run([&] { return result.has_value(); }, timeout)) {
        return fail("test", "no answer");
    }
    return *result;
}

Status DriverInProcess::start() {
    if (driver_ == nullptr) {
        return fail("test", "no driver: create() failed or was not called");
    }
    bool answers = false;
    for (int i = 0; i < 40 && !answers; ++i) {
        std::optional<Result<AtResponse>> probe;
        channel_.probe(500ms, [&](Result<AtResponse> r) { probe = std::move(r); });
        run([&] { return probe.has_value(); });
        answers = probe && *probe;
    }
    if (!answers) {
        return fail("test", "the emulated module does not answer AT");
    }
    return await([&](ModemDriver::StatusDone done) { driver_->start(std::move(done)); });
}

Status DriverInProcess::provision(const ModemCredentials& credentials) {
    return await(
        [&](ModemDriver::StatusDone done) { driver_->provision(credentials, std::move(done)); });
}

}  // namespace uplinkd::testing
