// SPDX-License-Identifier: Apache-2.0
// ModemSupervisor and ModemUplink against the modem emulator, with a minimal stand-in driver
// (so that they are tested apart from the real driver plugins): bring-up, recovery of a silent
// module by soft restart, reset line and power cycle, and what connects are told meanwhile.
#include "modem/modem_supervisor.hpp"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <functional>

#include "modem/at_channel_impl.hpp"
#include "modem/modem_uplink.hpp"
#include "modem/power_control.hpp"
#include "modem/serial_port.hpp"
#include "modem_emulator.hpp"
#include "run_loop.hpp"
#include "test_env.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;
using testing::ModemEmulator;
using testing::TempDir;

/// Just enough of a driver: start() is ATE0 and AT+CMEE=1; info() reads AT+CGMM.
class StandInDriver final : public ModemDriver {
  public:
    explicit StandInDriver(AtChannel& at) : at_(at) {}
    int starts = 0;

    void start(StatusDone done) override {
        ++starts;
        at_.command("ATE0", 1s, [this, done](Result<AtResponse> r) {
            if (!r) {
                done(r.failure("ATE0"));
                return;
            }
            at_.command("AT+CMEE=1", 1s, [done](Result<AtResponse> r2) {
                done(r2 ? okStatus() : Status(r2.failure("AT+CMEE=1")));
            });
        });
    }
    void info(std::function<void(Result<ModemInfo>)> done) override {
        at_.command("AT+CGMM", 1s, [done](Result<AtResponse> r) {
            if (!r) {
                done(r.failure());
                return;
            }
            ModemInfo i;
            i.model = r->lines.empty() ? "" : r->lines[0];
            done(i);
        });
    }
    void provision(const ModemCredentials&, StatusDone done) override {
        done(fail("unsupported", "stand-in"));
    }
    void open(const ModemSocketRequest&, std::function<void(Result<ByteStreamPtr>)> done) override {
        done(fail("unsupported", "stand-in driver opens no sockets"));
    }
    std::string explain(const std::string&) const override { return {}; }
    size_t maxSendChunk() const override { return 1500; }

  private:
    AtChannel& at_;
};

/// Wraps another backend and records what was asked of it; can hide the reset line.
class RecordingPower final : public PowerControl {
  public:
    RecordingPower(PowerControlPtr inner, bool has_reset)
        : inner_(std::move(inner)), has_reset_(has_reset) {}
    std::vector<std::string> calls;

    void pulsePowerKey(Press press, Done done) override {
        calls.push_back(press == Press::On ? "power on" : "power off");
        inner_->pulsePowerKey(press, std::move(done));
    }
    void pulseReset(Done done) override {
        calls.push_back("reset");
        inner_->pulseReset(std::move(done));
    }
    void readStatus(std::function<void(Result<bool>)> done) override {
        inner_->readStatus(std::move(done));
    }
    bool canPowerKey() const override { return inner_->canPowerKey(); }
    bool canReset() const override { return has_reset_ && inner_->canReset(); }
    std::string describe() const override { return "recording " + inner_->describe(); }
    const PowerTimings& timings() const override { return inner_->timings(); }

  private:
    PowerControlPtr inner_;
    bool has_reset_;
};

class SupervisorTest : public ::testing::Test {
  protected:
    /// Builds the pieces for an emulator; `backend` is "emulator" or "none".
    void build(const std::string& backend, bool has_reset = true) {
        emu_ = std::make_unique<ModemEmulator>(dir_, "hl78", 0);
        PowerSettings ps;
        ps.backend = backend;
        ps.control_socket = emu_->controlSocket();
        ps.timings.boot_wait = 150ms;
        ps.timings.shutdown_wait = 2s;
        auto power = makePowerControl(loop_, ps);
        ASSERT_TRUE(power) << power.error().message;
        power_ = std::make_unique<RecordingPower>(std::move(power.value()), has_reset);
        driver_ = std::make_unique<StandInDriver>(channel_);
        ModemSupervisor::Options o;
        o.uplink = "test";
        o.health_interval = 300ms;
        o.probe_timeout = 300ms;
        o.backoff_min = 100ms;
        o.backoff_max = 400ms;
        supervisor_ = std::make_unique<ModemSupervisor>(
            loop_, channel_, *driver_, *power_,
            [this]() -> Status {
                channel_.detach();
                port_.reset();
                auto p = SerialPort::open(loop_, {emu_->device(), 115200, false});
                if (!p) {
                    return p.failure();
                }
                port_ = std::move(p.value());
                channel_.attach(*port_);
                return {};
            },
            o);
    }
    void TearDown() override {
        supervisor_.reset();
        channel_.clearUrcHandlers();
        driver_.reset();
        channel_.detach();
        port_.reset();
    }
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
        return testing::runUntil(loop_, done, timeout);
    }
    /// build(backend, has_reset), started and ready; then the module goes silent.
    void readyThenSilent(const std::string& backend, bool has_reset = true) {
        build(backend, has_reset);
        supervisor_->start();
        ASSERT_TRUE(becomesReady());
        ASSERT_EQ(emu_->control("fault silent"), "ok fault silent");
    }
    /// Runs the loop until the supervisor says the module is ready; a failure says why not.
    ::testing::AssertionResult becomesReady() {
        if (runUntil([&] { return supervisor_->ready(); })) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << supervisor_->notReady();
    }

    TempDir dir_;
    asio::io_context loop_;
    std::unique_ptr<ModemEmulator> emu_;
    SerialAtChannel channel_{loop_};
    std::unique_ptr<SerialPort> port_;
    std::unique_ptr<RecordingPower> power_;
    std::unique_ptr<StandInDriver> driver_;
    std::unique_ptr<ModemSupervisor> supervisor_;
};

TEST_F(SupervisorTest, BringsTheModuleUp) {
    build("emulator");
    EXPECT_NE(supervisor_->notReady().find("modem starting"), std::string::npos);
    supervisor_->start();
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(driver_->starts, 1);
    EXPECT_TRUE(power_->calls.empty());  // the module was on: no power key
    EXPECT_EQ(supervisor_->notReady(), "");
    EXPECT_EQ(emu_->status()["echo"], false);
}

TEST_F(SupervisorTest, ASilentModuleIsRecoveredWithTheResetLine) {
    ASSERT_NO_FATAL_FAILURE(readyThenSilent("emulator"));
    // The idle probe notices; a soft restart cannot help a silent module; the reset line does.
    ASSERT_TRUE(runUntil([&] { return !supervisor_->ready(); }));
    EXPECT_NE(supervisor_->notReady().find("modem recovering: "), std::string::npos)
        << supervisor_->notReady();
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(power_->calls, std::vector<std::string>{"reset"});
    EXPECT_EQ(supervisor_->recoveries(), 1u);
    EXPECT_NE(supervisor_->lastRecovery().find("reset line"), std::string::npos);
    EXPECT_EQ(emu_->status()["silent"], false);
    EXPECT_GE(driver_->starts, 2);
}

TEST_F(SupervisorTest, ACommandTimeoutTriggersAProbeAndRecovery) {
    ASSERT_NO_FATAL_FAILURE(readyThenSilent("emulator"));
    std::optional<Result<AtResponse>> r;
    channel_.command("AT+CSQ", 200ms, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    EXPECT_EQ(r->error().code, "at_timeout");
    ASSERT_TRUE(runUntil([&] { return !supervisor_->ready(); }, 5s));
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(supervisor_->recoveries(), 1u);
}

TEST_F(SupervisorTest, WithoutAResetLineThePowerIsCycled) {
    ASSERT_NO_FATAL_FAILURE(readyThenSilent("emulator", /*has_reset=*/false));
    ASSERT_TRUE(runUntil([&] { return !supervisor_->ready(); }));
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(power_->calls, (std::vector<std::string>{"power off", "power on"}));
    EXPECT_NE(supervisor_->lastRecovery().find("power cycle"), std::string::npos);
    EXPECT_EQ(emu_->status()["powered"], true);
}

TEST_F(SupervisorTest, WithoutPowerControlItKeepsTryingSoftRestartsWithBackoff) {
    ASSERT_NO_FATAL_FAILURE(readyThenSilent("none"));
    ASSERT_TRUE(runUntil([&] {
        return supervisor_->notReady().find("(next: soft restart in") != std::string::npos;
    })) << supervisor_->notReady();
    EXPECT_TRUE(power_->calls.empty());
    ASSERT_EQ(emu_->control("fault none"), "ok fault none");
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(supervisor_->recoveries(), 1u);
}

TEST_F(SupervisorTest, AnUnexpectedRestartFailsTheCommandInFlightAndStartsTheModuleAgain) {
    build("emulator");
    std::vector<std::string> boots;
    channel_.onBoot("+KSUP:", [&](const std::string& line) { boots.push_back(line); });
    supervisor_->start();
    ASSERT_TRUE(becomesReady());
    const int starts = driver_->starts;
    const uint64_t boots_before = channel_.boots();
    boots.clear();
    // A command inside its data phase: the module waits for 100 bytes that never come.
    std::optional<Result<AtResponse>> r;
    channel_.commandWithData("AT+KCERTSTORE=0,100", AtDataWrite{"CONNECT", "", ""}, 60s,
                             [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return emu_->status()["in_data_phase"] == true; }));
    ASSERT_EQ(emu_->control("reset"), "ok reset");
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }, 90s));
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, "at_reset") << r->error().message;
    EXPECT_NE(r->error().message.find("+KSUP: 0"), std::string::npos) << r->error().message;
    EXPECT_EQ(boots, std::vector<std::string>{"+KSUP: 0"});
    // The driver's whole start runs again (echo is back on after a restart: it goes off again).
    ASSERT_TRUE(runUntil([&] { return supervisor_->ready() && driver_->starts > starts; }))
        << supervisor_->notReady();
    EXPECT_EQ(supervisor_->recoveries(), 1u);
    EXPECT_TRUE(power_->calls.empty());
    EXPECT_EQ(emu_->status()["echo"], false);
    EXPECT_EQ(channel_.boots(), boots_before + 1);
}

TEST_F(SupervisorTest, RepeatedRefusalsForLackOfSessionsClimbTheLadder) {
    build("emulator");
    supervisor_->start();
    ASSERT_TRUE(becomesReady());
    supervisor_->exhausted("+CME ERROR: 912");
    EXPECT_TRUE(supervisor_->ready());  // one refusal may pass
    supervisor_->exhausted("+CME ERROR: 912");
    EXPECT_FALSE(supervisor_->ready());
    ASSERT_TRUE(becomesReady());
    EXPECT_NE(supervisor_->lastRecovery().find("soft restart"), std::string::npos);
    EXPECT_TRUE(power_->calls.empty());
    // The soft restart did not help (no session opened since): the next rung.
    supervisor_->exhausted("+CME ERROR: 912");
    supervisor_->exhausted("+CME ERROR: 912");
    ASSERT_TRUE(becomesReady());
    EXPECT_NE(supervisor_->lastRecovery().find("reset line"), std::string::npos);
    EXPECT_EQ(power_->calls, std::vector<std::string>{"reset"});
    // Once a session opened, a later exhaustion starts from the bottom again.
    supervisor_->sessionOpened();
    supervisor_->exhausted("+CME ERROR: 912");
    supervisor_->exhausted("+CME ERROR: 912");
    ASSERT_TRUE(becomesReady());
    EXPECT_NE(supervisor_->lastRecovery().find("soft restart"), std::string::npos);
    EXPECT_EQ(supervisor_->recoveries(), 3u);
}

TEST_F(SupervisorTest, AModuleThatIsOffIsSwitchedOn) {
    build("emulator");
    ASSERT_EQ(emu_->control("power off"), "ok power off");
    supervisor_->start();
    ASSERT_TRUE(becomesReady());
    EXPECT_EQ(power_->calls, std::vector<std::string>{"power on"});
}

// ---------------------------------------------------------------------------------------------

const ModemMatch kStandInMatch{{"HL78"}, false};

Result<ModemDriverPtr> createStandIn(asio::io_context&, AtChannel& at, const ModemSettings&) {
    return ModemDriverPtr(std::make_unique<StandInDriver>(at));
}

TEST(ModemUplinkTest, ConnectsWaitWhileTheModemIsNotReadyAndSayWhy) {
    TempDir dir;
    asio::io_context loop;
    UplinkConfig c;
    c.name = "lte";
    c.type = "modem";
    c.driver = "stand-in";
    c.device = dir.file("no-such-tty");
    c.flow_control = false;
    const ModemPluginApi api{&kStandInMatch, &createStandIn};
    ModemUplink up(loop, c, api);
    up.start();
    std::optional<Result<ByteStreamPtr>> r;
    up.connect("broker.example.com", 8883, [&](Result<ByteStreamPtr> x) { r = std::move(x); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!r && std::chrono::steady_clock::now() < deadline) {
        loop.run_one_for(20ms);
    }
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, "modem_not_ready");
    EXPECT_NE(r->error().message.find("does not exist"), std::string::npos) << r->error().message;
    EXPECT_NE(up.describe().find("stand-in on " + c.device), std::string::npos);
}

TEST(ModemUplinkTest, InfoAndRawCommandsThroughTheUplink) {
    TempDir dir;
    ModemEmulator emu(dir, "a76xx", 0);
    asio::io_context loop;
    UplinkConfig c;
    c.name = "lte";
    c.type = "modem";
    c.driver = "stand-in";
    c.device = emu.device();
    c.flow_control = false;
    const ModemPluginApi api{&kStandInMatch, &createStandIn};
    ModemUplink up(loop, c, api);
    up.start();
    auto run = [&](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            loop.run_one_for(20ms);
        }
        return done();
    };
    ASSERT_TRUE(run([&] { return up.ready(); }));
    std::optional<Result<nlohmann::json>> info;
    up.info([&](Result<nlohmann::json> j) { info = std::move(j); });
    ASSERT_TRUE(run([&] { return info.has_value(); }));
    ASSERT_TRUE(*info);
    EXPECT_EQ((**info)["state"], "ready");
    EXPECT_EQ((**info)["model"], "A7670E-LASE");
    EXPECT_EQ((**info)["power"], "none");

    std::optional<Result<nlohmann::json>> at;
    up.at("AT+CGMI", 2s, [&](Result<nlohmann::json> j) { at = std::move(j); });
    ASSERT_TRUE(run([&] { return at.has_value(); }));
    ASSERT_TRUE(*at);
    EXPECT_EQ((**at)["final"], "OK");
    at.reset();
    up.at("AT+NOSUCH", 2s, [&](Result<nlohmann::json> j) { at = std::move(j); });
    ASSERT_TRUE(run([&] { return at.has_value(); }));
    ASSERT_TRUE(*at);
    EXPECT_NE((**at)["final"].get<std::string>().find("ERROR"), std::string::npos);
    at.reset();
    up.at("ATI\rAT+CFUN=0", 2s, [&](Result<nlohmann::json> j) { at = std::move(j); });
    ASSERT_TRUE(at.has_value());
    EXPECT_EQ(at->error().code, "bad_request");
}

TEST(PowerControlTest, DefaultsPerModuleFamily) {
    EXPECT_EQ(defaultPowerTimings("sierra-hl78").power_pulse, 1500ms);
    EXPECT_EQ(defaultPowerTimings("sierra-hl78").reset_pulse, 100ms);
    EXPECT_EQ(defaultPowerTimings("simcom-a76xx").power_pulse, 100ms);
    EXPECT_EQ(defaultPowerTimings("simcom-a76xx").reset_pulse, 2600ms);
    EXPECT_EQ(defaultPowerTimings("unknown").power_pulse, PowerTimings{}.power_pulse);
}

TEST(PowerControlTest, AGpioChipThatIsNotThereIsNamedInTheError) {
    asio::io_context loop;
    PowerSettings s;
    s.backend = "gpiod";
    s.chip = "gpiochip-missing";
    s.reset_line = 27;
    auto p = makePowerControl(loop, s);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, "power");
    EXPECT_NE(p.error().message.find("GPIO chip \"gpiochip-missing\""), std::string::npos)
        << p.error().message;
}

TEST(PowerControlTest, NoneCannotResetAndSaysSo) {
    asio::io_context loop;
    auto p = makePowerControl(loop, PowerSettings{});
    ASSERT_TRUE(p);
    EXPECT_FALSE((*p)->canReset());
    EXPECT_FALSE((*p)->canPowerKey());
    std::optional<Status> st;
    (*p)->pulseReset([&](Status s) { st = std::move(s); });
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->error().code, "unsupported");
}

}  // namespace
}  // namespace uplinkd
