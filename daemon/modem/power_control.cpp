// SPDX-License-Identifier: Apache-2.0
#include "modem/power_control.hpp"

#include <gpiod.hpp>
#include <nlohmann/json.hpp>

namespace uplinkd {

namespace {

using std::chrono::milliseconds;

struct TimingEntry {
    std::string_view driver;
    PowerTimings timings;
};

/// Per-family defaults (reference at-commands.md 2.1 and 5.1: Zephyr modem_cellular for the
/// HL7800, LilyGO/TinyGSM for the A7670). Board designs differ: configure what yours needs.
const TimingEntry kTimings[] = {
    {"sierra-hl78",
     {milliseconds(1500), milliseconds(1500), milliseconds(100), milliseconds(10000),
      milliseconds(5000)}},
    {"simcom-a76xx",
     {milliseconds(100), milliseconds(3000), milliseconds(2600), milliseconds(3000),
      milliseconds(5000)}},
};

// ---------------------------------------------------------------------------------------------

/// No power control: the module is always on and cannot be reset from here.
class NoPower final : public PowerControl {
  public:
    explicit NoPower(PowerTimings t) : timings_(t) {}
    void pulsePowerKey(Press, Done done) override {
        done(fail("unsupported", "no power key is configured ([uplinks.<name>.power])"));
    }
    void pulseReset(Done done) override {
        done(fail("unsupported", "no reset line is configured ([uplinks.<name>.power])"));
    }
    void readStatus(std::function<void(Result<bool>)> done) override {
        done(fail("unsupported", "no status line is configured"));
    }
    bool canPowerKey() const override { return false; }
    bool canReset() const override { return false; }
    std::string describe() const override { return "none"; }
    const PowerTimings& timings() const override { return timings_; }

  private:
    PowerTimings timings_;
};

// ---------------------------------------------------------------------------------------------

/// GPIO lines through libgpiod 1.6; the requests are held for the life of the object so that
/// the kernel keeps the output values.
class GpiodPower final : public PowerControl {
  public:
    static Result<PowerControlPtr> create(asio::io_context& loop, const PowerSettings& s) {
        auto p = std::unique_ptr<GpiodPower>(new GpiodPower(loop, s));
        std::string what = "GPIO chip \"" + s.chip + "\"";
        try {
            p->chip_ = gpiod::chip(s.chip, gpiod::chip::OPEN_LOOKUP);
            const std::bitset<32> out_flags =
                s.active_low ? gpiod::line_request::FLAG_ACTIVE_LOW : std::bitset<32>();
            auto request_output = [&](std::optional<unsigned> offset, gpiod::line& line,
                                      const char* role) {
                if (!offset) {
                    return;
                }
                what = "GPIO chip \"" + s.chip + "\" line " + std::to_string(*offset) + " (" +
                       role + ")";
                line = p->chip_.get_line(*offset);
                line.request({"uplinkd", gpiod::line_request::DIRECTION_OUTPUT, out_flags}, 0);
            };
            request_output(s.power_line, p->power_, "power key");
            request_output(s.reset_line, p->reset_, "reset");
            if (s.status_line) {
                what = "GPIO chip \"" + s.chip + "\" line " + std::to_string(*s.status_line) +
                       " (status)";
                p->status_ = p->chip_.get_line(*s.status_line);
                p->status_.request({"uplinkd", gpiod::line_request::DIRECTION_INPUT, 0});
            }
        } catch (const std::exception& e) {
            return fail("power", what + ": " + e.what() +
                                     " (does uplinkd have access to /dev/gpiochip*? A udev rule "
                                     "can give them to a \"gpio\" group)");
        }
        return PowerControlPtr(std::move(p));
    }

    void pulsePowerKey(Press press, Done done) override {
        pulse(
            power_,
            press == Press::On ? settings_.timings.power_pulse : settings_.timings.power_off_pulse,
            "power key", std::move(done));
    }
    void pulseReset(Done done) override {
        pulse(reset_, settings_.timings.reset_pulse, "reset", std::move(done));
    }
    void readStatus(std::function<void(Result<bool>)> done) override {
        if (!status_) {
            done(fail("unsupported", "no status line is configured"));
            return;
        }
        try {
            done(status_.get_value() != 0);
        } catch (const std::exception& e) {
            done(fail("power", std::string("reading the status line: ") + e.what()));
        }
    }
    bool canPowerKey() const override { return static_cast<bool>(power_); }
    bool canReset() const override { return static_cast<bool>(reset_); }
    std::string describe() const override {
        std::string d = "gpiod " + settings_.chip + " (";
        auto add = [&](const char* role, std::optional<unsigned> line) {
            if (line) {
                d +=
                    (d.back() == '(' ? "" : ", ") + std::string(role) + " " + std::to_string(*line);
            }
        };
        add("power", settings_.power_line);
        add("reset", settings_.reset_line);
        add("status", settings_.status_line);
        return d + (settings_.active_low ? ", active low)" : ")");
    }
    const PowerTimings& timings() const override { return settings_.timings; }

  private:
    GpiodPower(asio::io_context& loop, PowerSettings s) : settings_(std::move(s)), timer_(loop) {}

    void pulse(gpiod::line& line, milliseconds length, const char* role, Done done) {
        if (!line) {
            done(fail("unsupported", std::string("no ") + role + " line is configured"));
            return;
        }
        if (Status st = setLine(line, 1, "driving", role); !st) {
            done(st);
            return;
        }
        timer_.expires_after(length);
        std::weak_ptr<bool> alive = alive_;
        timer_.async_wait([alive, &line, role, done = std::move(done)](asio::error_code) {
            if (alive.expired()) {
                return;
            }
            done(setLine(line, 0, "releasing", role));
        });
    }

    /// Sets `line` to `value`; libgpiod's exception becomes "<doing> the <role> line: ...".
    static Status setLine(gpiod::line& line, int value, const char* doing, const char* role) {
        try {
            line.set_value(value);
        } catch (const std::exception& e) {
            return fail("power", std::string(doing) + " the " + role + " line: " + e.what());
        }
        return okStatus();
    }

    PowerSettings settings_;
    gpiod::chip chip_;
    gpiod::line power_, reset_, status_;
    asio::steady_timer timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// ---------------------------------------------------------------------------------------------

/// The modem emulator's control socket: "power on|off", "reset", "status" (tests).
class EmulatorPower final : public PowerControl {
  public:
    EmulatorPower(asio::io_context& loop, PowerSettings s) : loop_(loop), settings_(std::move(s)) {}
    ~EmulatorPower() override { alive_.reset(); }

    void pulsePowerKey(Press press, Done done) override {
        exchange(press == Press::On ? "power on" : "power off",
                 [done = std::move(done)](Result<std::string> r) {
                     done(r ? okStatus() : Status(r.failure()));
                 });
    }
    void pulseReset(Done done) override {
        exchange("reset", [done = std::move(done)](Result<std::string> r) {
            done(r ? okStatus() : Status(r.failure()));
        });
    }
    void readStatus(std::function<void(Result<bool>)> done) override {
        exchange("status", [done = std::move(done)](Result<std::string> r) {
            if (!r) {
                done(r.failure());
                return;
            }
            const auto j = nlohmann::json::parse(*r, nullptr, false);
            if (!j.is_object() || !j.contains("powered") || !j["powered"].is_boolean()) {
                done(fail("power", "the emulator's status has no \"powered\": " + *r));
                return;
            }
            done(j["powered"].get<bool>());
        });
    }
    bool canPowerKey() const override { return true; }
    bool canReset() const override { return true; }
    std::string describe() const override {
        return "emulator control socket " + settings_.control_socket;
    }
    const PowerTimings& timings() const override { return settings_.timings; }

  private:
    using Socket = asio::local::stream_protocol::socket;
    struct Exchange {
        Exchange(asio::io_context& loop) : socket(loop), timer(loop) {}
        Socket socket;
        asio::steady_timer timer;
        std::string request;
        std::string reply;
        std::function<void(Result<std::string>)> done;
        bool finished = false;
    };

    /// Sends one line and reads one reply line ("ok …" or "error …"), within 5 s.
    void exchange(const std::string& line, std::function<void(Result<std::string>)> done) {
        auto x = std::make_shared<Exchange>(loop_);
        x->request = line + "\n";
        std::weak_ptr<bool> alive = alive_;
        x->done = [alive, line, done = std::move(done)](Result<std::string> r) {
            if (!alive.expired()) {
                done(r ? std::move(r)
                       : Result<std::string>(r.failure("emulator \"" + line + "\"")));
            }
        };
        auto finish = [x](Result<std::string> r) {
            if (x->finished) {
                return;
            }
            x->finished = true;
            x->timer.cancel();
            asio::error_code ignored;
            x->socket.close(ignored);
            x->done(std::move(r));
        };
        x->timer.expires_after(std::chrono::seconds(5));
        x->timer.async_wait([finish](asio::error_code ec) {
            if (!ec) {
                finish(fail("power", "no reply from the control socket within 5 s"));
            }
        });
        x->socket.async_connect(
            asio::local::stream_protocol::endpoint(settings_.control_socket),
            [x, finish](asio::error_code ec) {
                if (ec) {
                    finish(fail("power", "cannot connect to the control socket: " + ec.message()));
                    return;
                }
                asio::async_write(
                    x->socket, asio::buffer(x->request), [x, finish](asio::error_code wec, size_t) {
                        if (wec) {
                            finish(
                                fail("power", "writing to the control socket: " + wec.message()));
                            return;
                        }
                        asio::async_read_until(
                            x->socket, asio::dynamic_buffer(x->reply), '\n',
                            [x, finish](asio::error_code rec, size_t n) {
                                if (rec) {
                                    finish(fail("power",
                                                "reading the control socket: " + rec.message()));
                                    return;
                                }
                                std::string reply = x->reply.substr(0, n - 1);
                                if (reply.starts_with("{")) {
                                    finish(reply);  // "status" answers with bare JSON
                                } else if (reply.starts_with("ok")) {
                                    finish(reply.size() > 3 ? reply.substr(3) : std::string());
                                } else {
                                    finish(fail("power", reply));
                                }
                            });
                    });
            });
    }

    asio::io_context& loop_;
    PowerSettings settings_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

PowerTimings defaultPowerTimings(const std::string& driver) {
    for (const auto& t : kTimings) {
        if (t.driver == driver) {
            return t.timings;
        }
    }
    return PowerTimings{};
}

Result<PowerControlPtr> makePowerControl(asio::io_context& loop, const PowerSettings& settings) {
    if (settings.backend == "gpiod") {
        return GpiodPower::create(loop, settings);
    }
    if (settings.backend == "emulator") {
        return PowerControlPtr(std::make_unique<EmulatorPower>(loop, settings));
    }
    return PowerControlPtr(std::make_unique<NoPower>(settings.timings));
}

}  // namespace uplinkd
