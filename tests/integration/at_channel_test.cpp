// SPDX-License-Identifier: Apache-2.0
// SerialAtChannel and SerialPort against a pseudo-terminal whose master end is a scripted module
// run by the test: queueing, timeouts, URCs during a pending command, every data phase, byte
// counters, and the serial line's error messages.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "modem/at_channel_impl.hpp"
#include "modem/serial_port.hpp"
#include "run_loop.hpp"

namespace uplinkd {
namespace {

using namespace std::chrono_literals;

/// What the module answers to `command`: its entry in `answers`, else a plain OK.
std::string answerTo(const std::map<std::string, std::string>& answers,
                     const std::string& command) {
    const auto it = answers.find(command);
    return it != answers.end() ? it->second : "\r\nOK\r\n";
}

/// The module's side of the pty: splits what it receives into command lines (or raw bytes
/// when told), and answers as the test scripts it. Thread: the test's (same loop).
class FakeModule {
  public:
    FakeModule(asio::io_context& loop, int master) : stream_(loop, master) { read(); }

    std::function<void(const std::string& command)> on_command;
    bool echo = false;
    std::vector<std::string> commands;
    uint64_t received = 0;
    uint64_t sent = 0;

    /// Answers each command as answerTo(answers, command) says.
    void answerFrom(std::map<std::string, std::string> answers) {
        on_command = [this, answers = std::move(answers)](const std::string& c) {
            send(answerTo(answers, c));
        };
    }
    void send(const std::string& bytes) {
        sent += bytes.size();
        asio::write(stream_, asio::buffer(bytes));
    }
    /// The next `n` bytes are raw data (a payload), not command lines.
    void expectRaw(size_t n, std::function<void(std::string)> then) {
        raw_needed_ = n;
        raw_then_ = std::move(then);
        process();
    }

  private:
    void read() {
        stream_.async_read_some(asio::buffer(buf_), [this](asio::error_code ec, size_t n) {
            if (ec) {
                return;
            }
            received += n;
            in_.append(buf_.data(), n);
            process();
            read();
        });
    }
    void process() {
        while (true) {
            if (raw_needed_ > 0) {
                if (in_.size() < raw_needed_) {
                    return;
                }
                std::string data = in_.substr(0, raw_needed_);
                in_.erase(0, raw_needed_);
                raw_needed_ = 0;
                auto then = std::move(raw_then_);
                then(std::move(data));
                continue;
            }
            const auto cr = in_.find('\r');
            if (cr == std::string::npos) {
                return;
            }
            std::string cmd = in_.substr(0, cr);
            in_.erase(0, cr + 1);
            if (echo) {
                send(cmd + "\r");
            }
            commands.push_back(cmd);
            if (on_command) {
                on_command(cmd);
            }
        }
    }

    asio::posix::stream_descriptor stream_;
    std::array<char, 4096> buf_{};
    std::string in_;
    size_t raw_needed_ = 0;
    std::function<void(std::string)> raw_then_;
};

class AtChannelTest : public ::testing::Test {
  protected:
    void SetUp() override {
        int master = -1;
        ASSERT_EQ(::openpty(&master, &slave_, nullptr, nullptr, nullptr), 0);
        device_ = ::ttyname(slave_);
        module_ = std::make_unique<FakeModule>(loop_, master);
        auto port = SerialPort::open(loop_, {device_, 115200, false});
        ASSERT_TRUE(port) << port.error().message;
        port_ = std::move(port.value());
        channel_.attach(*port_);
    }
    void TearDown() override {
        channel_.detach();
        port_.reset();
        module_.reset();
        ::close(slave_);
    }

    /// Runs the loop until `done` holds (fails the test after `timeout`).
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        return testing::runUntil(loop_, done, timeout);
    }

    asio::io_context loop_;
    int slave_ = -1;
    std::string device_;
    std::unique_ptr<FakeModule> module_;
    std::unique_ptr<SerialPort> port_;
    SerialAtChannel channel_{loop_};
};

TEST_F(AtChannelTest, QueuedCommandsRunOneAtATimeInOrder) {
    int outstanding = 0;
    int max_outstanding = 0;
    std::vector<std::string> pending;
    module_->on_command = [&](const std::string& c) {
        pending.push_back(c);
        max_outstanding = std::max(max_outstanding, ++outstanding);
    };
    std::vector<std::string> results;
    for (const char* c : {"AT", "AT+CSQ", "AT+CGMM"}) {
        channel_.command(c, 2s, [&results, c](Result<AtResponse> r) {
            ASSERT_TRUE(r) << r.error().message;
            results.push_back(std::string(c) + "=" + (r->lines.empty() ? "" : r->lines[0]));
        });
    }
    // Answer each command only when it has arrived; the next one must not come before.
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(runUntil([&] { return !pending.empty(); }));
        ASSERT_EQ(pending.size(), 1u);
        const std::string c = pending.front();
        pending.clear();
        --outstanding;
        module_->send(answerTo(
            {{"AT+CSQ", "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"}, {"AT+CGMM", "\r\nHL7802\r\n\r\nOK\r\n"}},
            c));
    }
    ASSERT_TRUE(runUntil([&] { return results.size() == 3; }));
    EXPECT_EQ(max_outstanding, 1);
    EXPECT_EQ(results, (std::vector<std::string>{"AT=", "AT+CSQ=+CSQ: 20,99", "AT+CGMM=HL7802"}));
    EXPECT_EQ(module_->commands, (std::vector<std::string>{"AT", "AT+CSQ", "AT+CGMM"}));
}

TEST_F(AtChannelTest, ATimeoutFailsOnlyThatCommandAndTheChannelRecovers) {
    std::string observed;
    channel_.setTimeoutObserver([&](const std::string& c) { observed = c; });
    module_->on_command = [&](const std::string& c) {
        if (c == "AT+CSQ") {
            module_->send("\r\n+CSQ: 5,99\r\n\r\nOK\r\n");
        }
        // AT+SLOW: no answer (yet)
    };
    std::optional<Result<AtResponse>> slow;
    channel_.command("AT+SLOW", 200ms, [&](Result<AtResponse> r) { slow = std::move(r); });
    ASSERT_TRUE(runUntil([&] { return slow.has_value(); }));
    ASSERT_FALSE(*slow);
    EXPECT_EQ(slow->error().code, "at_timeout");
    EXPECT_NE(slow->error().message.find("AT+SLOW"), std::string::npos) << slow->error().message;
    ASSERT_TRUE(runUntil([&] { return !observed.empty(); }));
    EXPECT_EQ(observed, "AT+SLOW");
    EXPECT_EQ(channel_.timeouts(), 1u);

    // The late answer arrives while nothing is pending: it is dropped, not given to the next.
    const uint64_t before = channel_.bytesRead();
    module_->send("\r\nOK\r\n");
    ASSERT_TRUE(runUntil([&] { return channel_.bytesRead() == before + 6; }));
    std::optional<Result<AtResponse>> csq;
    channel_.command("AT+CSQ", 2s, [&](Result<AtResponse> r) { csq = std::move(r); });
    ASSERT_TRUE(runUntil([&] { return csq.has_value(); }));
    ASSERT_TRUE(*csq) << csq->error().message;
    EXPECT_EQ((*csq)->lines, std::vector<std::string>{"+CSQ: 5,99"});
}

TEST_F(AtChannelTest, ASecretCommandIsRedactedInTheTimeoutError) {
    std::optional<Result<AtResponse>> r;
    channel_.command("AT+CPIN=\"4711\"", 100ms, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().message.find("4711"), std::string::npos) << r->error().message;
    EXPECT_NE(r->error().message.find("AT+CPIN="), std::string::npos) << r->error().message;
}

TEST_F(AtChannelTest, AUrcDuringAPendingCommandGoesToItsHandler) {
    std::vector<std::string> urcs;
    channel_.onUrc("+CEREG:", [&](const std::string& line) { urcs.push_back(line); });
    module_->echo = true;  // echo is on before ATE0
    module_->on_command = [&](const std::string&) {
        module_->send("\r\n+CEREG: 1\r\n\r\n+CSQ: 17,99\r\n\r\n+CEREG: 5\r\n\r\nOK\r\n");
    };
    std::optional<Result<AtResponse>> r;
    channel_.command("AT+CSQ", 2s, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value() && urcs.size() == 2; }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ((*r)->lines, std::vector<std::string>{"+CSQ: 17,99"});
    EXPECT_EQ(urcs, (std::vector<std::string>{"+CEREG: 1", "+CEREG: 5"}));
    // While idle too.
    module_->send("\r\n+CEREG: 2\r\n");
    ASSERT_TRUE(runUntil([&] { return urcs.size() == 3; }));
}

TEST_F(AtChannelTest, PromptThenExactlyThePayload) {
    std::string payload;
    payload += std::string("\0\r\n>OK\r\n\x1a", 9);
    for (int i = 0; i < 300; ++i) {
        payload += static_cast<char>(i);
    }
    std::string got;
    std::vector<std::string> urcs;
    channel_.onUrc("+CIPSEND:", [&](const std::string& line) { urcs.push_back(line); });
    module_->on_command = [&](const std::string& c) {
        ASSERT_EQ(c, "AT+CIPSEND=0," + std::to_string(payload.size()));
        module_->send("\r\n> ");
        module_->expectRaw(payload.size(), [&](std::string data) {
            got = data;
            module_->send("\r\nOK\r\n\r\n+CIPSEND: 0," + std::to_string(data.size()) + "," +
                          std::to_string(data.size()) + "\r\n");
        });
    };
    std::optional<Result<AtResponse>> r;
    AtDataWrite w;
    w.prompt = ">";
    w.payload = payload;
    channel_.commandWithData("AT+CIPSEND=0," + std::to_string(payload.size()), w, 2s,
                             [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value() && !urcs.empty(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ(got, payload);
}

TEST_F(AtChannelTest, ConnectThenPayloadAndPattern) {
    const std::string pattern = "--EOF--Pattern--";
    std::string got;
    module_->on_command = [&](const std::string&) {
        module_->send("\r\nCONNECT\r\n");
        module_->expectRaw(5 + pattern.size(), [&](std::string data) {
            got = data;
            module_->send("\r\nOK\r\n");
        });
    };
    std::optional<Result<AtResponse>> r;
    channel_.commandWithData("AT+KTCPSND=1,5", AtDataWrite{"CONNECT", "hello", pattern}, 2s,
                             [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ(got, "hello" + pattern);
}

TEST_F(AtChannelTest, GuardTimeKeepsTheLineSilentBeforeTheEscape) {
    // BX310x data mode ends with "+++" after a guard time: the escape must not follow the
    // payload at once, or the module takes it as payload.
    std::string payload;
    std::string escape;
    std::chrono::steady_clock::time_point payload_at;
    std::chrono::steady_clock::time_point escape_at;
    module_->on_command = [&](const std::string&) {
        module_->send("\r\nCONNECT\r\n");
        module_->expectRaw(5, [&](std::string data) {
            payload = data;
            payload_at = std::chrono::steady_clock::now();
            module_->expectRaw(3, [&](std::string esc) {
                escape = esc;
                escape_at = std::chrono::steady_clock::now();
                module_->send("\r\nOK\r\n");
            });
        });
    };
    AtDataWrite w{"CONNECT", "hello", "+++"};
    w.guard = 300ms;
    std::optional<Result<AtResponse>> r;
    channel_.commandWithData("AT+KCERTSTORE=0,5", w, 5s,
                             [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ(payload, "hello");
    EXPECT_EQ(escape, "+++");
    EXPECT_GE(escape_at - payload_at, 250ms) << "the escape came without its guard time";
}

TEST_F(AtChannelTest, CountedReadKeepsCrLfAndOkInTheData) {
    const std::string data = "ab\r\nOK\r\n\r\nERROR\r\n";
    module_->on_command = [&](const std::string&) {
        module_->send("\r\n+CIPRXGET: 2,0," + std::to_string(data.size()) + ",0\r\n" + data +
                      "\r\nOK\r\n");
    };
    AtDataRead read;
    read.kind = AtDataRead::Kind::CountedAfterHeader;
    read.header = "+CIPRXGET: 2,";
    read.count = [](const std::string& line) {
        size_t p = line.find(',');
        p = line.find(',', p + 1);
        return static_cast<size_t>(std::stoul(line.substr(p + 1)));
    };
    std::optional<Result<AtResponse>> r;
    channel_.commandReadingData("AT+CIPRXGET=2,0,1500", read, 2s,
                                [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ((*r)->data, data);
    EXPECT_EQ((*r)->final, "OK");
}

TEST_F(AtChannelTest, PatternTerminatedReadAndUrcWithData) {
    const std::string pattern = "--EOF--Pattern--";
    std::vector<std::pair<std::string, std::string>> blocks;
    channel_.onUrcWithData(
        "+CCHRECV: DATA,",
        [](const std::string& line) {
            return static_cast<size_t>(std::stoul(line.substr(line.rfind(',') + 1)));
        },
        [&](const std::string& line, std::string bytes) { blocks.emplace_back(line, bytes); });
    module_->on_command = [&](const std::string&) {
        // A URC with data arrives before the reply (a real module does not hold URCs).
        module_->send("\r\n+CCHRECV: DATA,0,4\r\nOK\r\n");
        module_->send("\r\nCONNECT\r\nline1\r\nOK\r\n" + pattern + "\r\nOK\r\n");
    };
    AtDataRead read;
    read.kind = AtDataRead::Kind::UntilPattern;
    read.terminator = pattern;
    std::optional<Result<AtResponse>> r;
    channel_.commandReadingData("AT+KTCPRCV=1,100", read, 2s,
                                [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value() && !blocks.empty(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ((*r)->data, "line1\r\nOK\r\n");
    EXPECT_EQ(blocks[0].first, "+CCHRECV: DATA,0,4");
    EXPECT_EQ(blocks[0].second, "OK\r\n");
}

// ---- a dialect with its own final results (SPWF04: AT-S.OK / AT-S.ERROR:<code>:<text>) ----

/// Declares the SPWF04 final results on `channel`.
void declareSpwfFinals(SerialAtChannel& channel) {
    channel.addFinalResult(AtFinalForm{"AT-S.OK", false, true});
    channel.addFinalResult(AtFinalForm{"AT-S.ERROR:", true, false});
}

TEST_F(AtChannelTest, DeclaredFinalResultsEndCommandsAndUndeclaredOnesDoNot) {
    module_->answerFrom({{"AT+S.GCFG=ip_ipaddr", "\r\nAT-S.Var:ip_ipaddr=10.0.0.5\r\nAT-S.OK\r\n"},
                         {"AT+S.SOCKC=3", "\r\nAT-S.ERROR:77:Pending data\r\n"}});
    // Without the declaration "AT-S.OK" is an information line (every other dialect keeps the
    // V.250 finals only): the command ends at the "OK" that follows.
    std::optional<Result<AtResponse>> plain;
    channel_.command("AT+S.GCFG=ip_ipaddr", 500ms,
                     [&](Result<AtResponse> x) { plain = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return plain.has_value(); }));
    EXPECT_FALSE(*plain) << "AT-S.OK ended a command before it was declared";

    declareSpwfFinals(channel_);
    std::optional<Result<AtResponse>> var;
    channel_.command("AT+S.GCFG=ip_ipaddr", 2s, [&](Result<AtResponse> x) { var = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return var.has_value(); }));
    ASSERT_TRUE(*var) << var->error().message;
    EXPECT_EQ((*var)->lines, std::vector<std::string>{"AT-S.Var:ip_ipaddr=10.0.0.5"});
    EXPECT_EQ((*var)->final, "AT-S.OK");

    std::optional<Result<AtResponse>> err;
    channel_.command("AT+S.SOCKC=3", 2s, [&](Result<AtResponse> x) { err = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return err.has_value(); }));
    ASSERT_FALSE(*err);
    EXPECT_EQ(err->error().code, "at_error");
    EXPECT_EQ(err->error().message, "AT-S.ERROR:77:Pending data");

    // The standard finals still end commands, and forgetting the handlers forgets the forms.
    std::optional<Result<AtResponse>> at;
    channel_.command("AT", 2s, [&](Result<AtResponse> x) { at = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return at.has_value(); }));
    EXPECT_TRUE(*at);
    channel_.clearUrcHandlers();
    std::optional<Result<AtResponse>> again;
    channel_.command("AT+S.GCFG=ip_ipaddr", 500ms,
                     [&](Result<AtResponse> x) { again = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return again.has_value(); }));
    EXPECT_FALSE(*again);
}

TEST_F(AtChannelTest, ImmediatePayloadFollowsTheCommandLineWithoutAPrompt) {
    declareSpwfFinals(channel_);
    const std::string payload = std::string("AT-S.OK\r\n\0\xff>\x1a+WIND:2:Reset\r\n", 28);
    std::string got;
    module_->on_command = [&](const std::string& c) {
        ASSERT_EQ(c, "AT+S.SOCKW=0," + std::to_string(payload.size()));
        // No prompt is sent: the bytes are already on their way.
        module_->expectRaw(payload.size(), [&](std::string data) {
            got = data;
            module_->send("\r\nAT-S.OK\r\n");
        });
    };
    AtDataWrite w;
    w.immediate = true;
    w.payload = payload;
    std::optional<Result<AtResponse>> r;
    channel_.commandWithData("AT+S.SOCKW=0," + std::to_string(payload.size()), w, 2s,
                             [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ(got, payload);
}

TEST_F(AtChannelTest, CountedReadAfterADeclaredHeaderKeepsTheDialectsFinalsInTheData) {
    declareSpwfFinals(channel_);
    const std::string data = "x\r\nAT-S.OK\r\nAT-S.ERROR:44:x\r\n+WIND:58:Socket Closed:0:1\r\n";
    std::vector<std::string> urcs;
    channel_.onUrc("+WIND:58:", [&](const std::string& line) { urcs.push_back(line); });
    module_->on_command = [&](const std::string&) {
        module_->send("\r\nAT-S.Reading:" + std::to_string(data.size()) + ":" +
                      std::to_string(data.size()) + "\r\n" + data + "\r\nAT-S.OK\r\n");
    };
    AtDataRead read;
    read.kind = AtDataRead::Kind::CountedAfterHeader;
    read.header = "AT-S.Reading:";
    read.count = [](const std::string& line) {
        const size_t a = line.find(':');
        return static_cast<size_t>(std::stoul(line.substr(a + 1)));
    };
    std::optional<Result<AtResponse>> r;
    channel_.commandReadingData("AT+S.SOCKR=0," + std::to_string(data.size()), read, 2s,
                                [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ((*r)->data, data);
    EXPECT_EQ((*r)->final, "AT-S.OK");
    EXPECT_TRUE(urcs.empty()) << "a URC line inside the data was taken as a URC";
}

TEST_F(AtChannelTest, ErrorsCarryTheFinalLine) {
    module_->on_command = [&](const std::string&) { module_->send("\r\n+CME ERROR: 910\r\n"); };
    std::optional<Result<AtResponse>> r;
    channel_.command("AT+KTCPCNX=9", 2s, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, "at_error");
    EXPECT_EQ(r->error().message, "+CME ERROR: 910");
}

TEST_F(AtChannelTest, ResetFailsPendingAndQueuedCommandsWithAtClosed) {
    std::vector<std::string> codes;
    for (int i = 0; i < 3; ++i) {
        channel_.command("AT+X" + std::to_string(i), 5s,
                         [&](Result<AtResponse> r) { codes.push_back(r ? "ok" : r.error().code); });
    }
    ASSERT_TRUE(runUntil([&] { return !module_->commands.empty(); }));
    channel_.reset();
    ASSERT_TRUE(runUntil([&] { return codes.size() == 3; }));
    EXPECT_EQ(codes, (std::vector<std::string>{"at_closed", "at_closed", "at_closed"}));
    // And works afterwards.
    module_->on_command = [&](const std::string&) { module_->send("\r\nOK\r\n"); };
    std::optional<Result<AtResponse>> r;
    channel_.command("AT", 2s, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    EXPECT_TRUE(*r);
}

TEST_F(AtChannelTest, BytesAreCountedBothWaysAndGarbageIsSurvived) {
    module_->on_command = [&](const std::string&) {
        module_->send(std::string("\xff\xfe\x00garbage\x01\r\n", 13));
        module_->send("\r\n+CSQ: 1,1\r\n\r\nOK\r\n");
    };
    std::optional<Result<AtResponse>> r;
    channel_.command("AT+CSQ", 2s, [&](Result<AtResponse> x) { r = std::move(x); });
    ASSERT_TRUE(runUntil([&] { return r.has_value(); }));
    ASSERT_TRUE(*r) << r->error().message;
    EXPECT_EQ((*r)->lines, std::vector<std::string>{"+CSQ: 1,1"});
    ASSERT_TRUE(runUntil([&] { return channel_.bytesRead() == module_->sent; }));
    EXPECT_EQ(channel_.bytesWritten(), module_->received);
    EXPECT_EQ(channel_.bytesWritten(), 7u);  // "AT+CSQ\r"
}

TEST_F(AtChannelTest, TheLineIsOpenedExclusively) {
    auto second = SerialPort::open(loop_, {device_, 115200, false});
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("locked by another program"), std::string::npos)
        << second.error().message;
}

TEST(SerialPort, ErrorsSayWhatToDo) {
    asio::io_context loop;
    auto missing = SerialPort::open(loop, {"/dev/ttyUSB-nonexistent", 115200, true});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, "serial");
    EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);

    auto not_tty = SerialPort::open(loop, {"/dev/null", 115200, true});
    ASSERT_FALSE(not_tty);
    EXPECT_NE(not_tty.error().message.find("not a serial line"), std::string::npos)
        << not_tty.error().message;

    auto bad_baud = SerialPort::open(loop, {"/dev/null", 115201, true});
    ASSERT_FALSE(bad_baud);
    EXPECT_NE(bad_baud.error().message.find("115201"), std::string::npos);
}

TEST(SerialPort, PermissionDeniedNamesTheDialoutGroup) {
    int master = -1;
    int slave = -1;
    ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    const std::string device = ::ttyname(slave);
    ASSERT_EQ(::chmod(device.c_str(), 0600), 0);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        // As an unprivileged user the root-owned 0600 device cannot be opened.
        std::string msg = "setuid failed";
        if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
            asio::io_context loop;
            auto r = SerialPort::open(loop, {device, 115200, false});
            msg = r ? "opened" : r.error().message;
        }
        (void)!::write(fds[1], msg.data(), msg.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string msg;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
        msg.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    ::close(slave);
    ::close(master);
    EXPECT_NE(msg.find("no permission to open " + device), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"dialout\""), std::string::npos) << msg;
}

}  // namespace
}  // namespace uplinkd
