// SPDX-License-Identifier: Apache-2.0
#include "scripted_at_channel.hpp"

#include <gtest/gtest.h>

namespace uplinkd::testing {

namespace {

/// Commands and data shown in failures: printable, with CR/LF visible, shortened.
std::string shown(const std::string& s) {
    std::string out;
    for (const char c : s.substr(0, 200)) {
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            out += '?';
        } else {
            out += c;
        }
    }
    if (s.size() > 200) {
        out += "... (" + std::to_string(s.size()) + " bytes)";
    }
    return out;
}

}  // namespace

// ---- Step -------------------------------------------------------------------------------------

using Step = ScriptedAtChannel::Step;

Step& Step::line(std::string l) {
    lines.push_back(std::move(l));
    return *this;
}

Step& Step::ok() {
    final = "OK";
    timeout = false;
    return *this;
}

Step& Step::error(std::string final_line) {
    final = std::move(final_line);
    return *this;
}

Step& Step::timesOut() {
    timeout = true;
    return *this;
}

Step& Step::replyData(std::string bytes) {
    data = std::move(bytes);
    return *this;
}

Step& Step::expectPrompt(std::string p) {
    prompt = std::move(p);
    return *this;
}

Step& Step::expectPayload(std::string p) {
    payload = std::move(p);
    return *this;
}

Step& Step::expectTerminator(std::string t) {
    terminator = std::move(t);
    return *this;
}

Step& Step::expectGuardAtLeast(std::chrono::milliseconds g) {
    guard = g;
    return *this;
}

Step& Step::expectImmediate() {
    immediate = true;
    return *this;
}

Step& Step::urcBefore(std::string l) {
    urcs_before.push_back({std::move(l), std::nullopt});
    return *this;
}

Step& Step::urcAfter(std::string l) {
    urcs_after.push_back({std::move(l), std::nullopt});
    return *this;
}

Step& Step::urcAfterWithData(std::string l, std::string bytes) {
    urcs_after.push_back({std::move(l), std::move(bytes)});
    return *this;
}

// ---- ScriptedAtChannel ------------------------------------------------------------------------

ScriptedAtChannel::ScriptedAtChannel(asio::io_context& loop) : loop_(loop) {}

ScriptedAtChannel::~ScriptedAtChannel() = default;

Step& ScriptedAtChannel::expect(std::string command) {
    script_.push_back(Step{});
    script_.back().command = std::move(command);
    return script_.back();
}

void ScriptedAtChannel::command(const std::string& command, std::chrono::milliseconds, Done done) {
    enqueue(Pending{Pending::Kind::Plain, command, {}, {}, std::move(done)});
}

void ScriptedAtChannel::commandWithData(const std::string& command, const AtDataWrite& write,
                                        std::chrono::milliseconds, Done done) {
    enqueue(Pending{Pending::Kind::WithData, command, write, {}, std::move(done)});
}

void ScriptedAtChannel::commandReadingData(const std::string& command, const AtDataRead& read,
                                           std::chrono::milliseconds, Done done) {
    enqueue(Pending{Pending::Kind::ReadingData, command, {}, read, std::move(done)});
}

void ScriptedAtChannel::enqueue(Pending p) {
    commands_.push_back(p.command);
    queue_.push_back(std::move(p));
    schedulePump();
}

void ScriptedAtChannel::schedulePump() {
    asio::post(loop_, [alive = std::weak_ptr<int>(alive_), this] {
        if (!alive.expired()) {
            pump();
        }
    });
}

void ScriptedAtChannel::pump() {
    if (busy_ || queue_.empty()) {
        return;
    }
    busy_ = true;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    answer(std::move(p));
    busy_ = false;
    if (!queue_.empty()) {
        schedulePump();
    }
}

void ScriptedAtChannel::answer(Pending p) {
    bytes_written_ += p.command.size() + 1;
    if (script_.empty()) {
        ADD_FAILURE() << "unexpected command \"" << shown(p.command) << "\" (the script is done)";
        p.done(fail("at_error", "ERROR"));
        return;
    }
    if (script_.front().command != p.command) {
        ADD_FAILURE() << "expected command \"" << shown(script_.front().command) << "\", got \""
                      << shown(p.command) << "\"";
        p.done(fail("at_error", "ERROR"));
        return;
    }
    Step step = std::move(script_.front());
    script_.pop_front();

    if (p.kind == Pending::Kind::WithData) {
        if (step.prompt) {
            EXPECT_EQ(p.write.prompt, *step.prompt) << "prompt of " << p.command;
        }
        if (step.payload) {
            EXPECT_EQ(p.write.payload.size(), step.payload->size()) << "payload of " << p.command;
            EXPECT_TRUE(p.write.payload == *step.payload)
                << "payload of " << p.command << ": got \"" << shown(p.write.payload)
                << "\", expected \"" << shown(*step.payload) << "\"";
        }
        if (step.terminator) {
            EXPECT_EQ(p.write.terminator, *step.terminator) << "terminator of " << p.command;
        }
        if (step.guard) {
            EXPECT_GE(p.write.guard.count(), step.guard->count()) << "guard time of " << p.command;
        }
        if (step.immediate) {
            EXPECT_EQ(p.write.immediate, *step.immediate) << "immediate payload of " << p.command;
        }
        written_.push_back(p.write.payload + p.write.terminator);
        bytes_written_ += p.write.payload.size() + p.write.terminator.size();
    } else if (step.payload || step.prompt || step.terminator || step.guard || step.immediate) {
        ADD_FAILURE() << "\"" << p.command << "\" should have been sent with data";
    }

    AtResponse response;
    response.lines = step.lines;
    response.final = step.final;
    if (p.kind == Pending::Kind::ReadingData) {
        response.data = step.data;
        bytes_read_ += step.data.size();
        if (p.read.kind == AtDataRead::Kind::CountedAfterHeader) {
            bool found = false;
            for (const auto& l : step.lines) {
                if (!p.read.header.empty() && l.starts_with(p.read.header)) {
                    found = true;
                    EXPECT_TRUE(p.read.count) << "no count function for " << p.command;
                    if (p.read.count) {
                        EXPECT_EQ(p.read.count(l), step.data.size())
                            << "byte count from \"" << l << "\"";
                    }
                }
            }
            if (step.final == "OK" && !step.timeout) {
                EXPECT_TRUE(found) << "no line starts with the header \"" << p.read.header
                                   << "\" in the reply to " << p.command;
            }
        } else if (p.read.kind == AtDataRead::Kind::CountedAfterConnect) {
            // The data may hold anything (the terminator too): it is read by count.
            EXPECT_EQ(p.read.length, step.data.size()) << "byte count of " << p.command;
            EXPECT_FALSE(p.read.terminator.empty()) << "no terminator for " << p.command;
        } else {
            EXPECT_FALSE(p.read.terminator.empty()) << "no terminator for " << p.command;
            EXPECT_EQ(step.data.find(p.read.terminator), std::string::npos)
                << "the scripted data holds the terminator";
        }
    } else if (!step.data.empty()) {
        ADD_FAILURE() << "\"" << p.command << "\" should have been read with data";
    }

    for (const auto& u : step.urcs_before) {
        deliver(u);
    }
    if (step.timeout) {
        p.done(fail("at_timeout", "no answer to " + p.command));
    } else if (step.final == "OK") {
        p.done(std::move(response));
    } else {
        p.done(fail("at_error", step.final));
    }
    for (const auto& u : step.urcs_after) {
        deliver(u);
    }
}

void ScriptedAtChannel::deliver(const Urc& urc) {
    if (urc.data) {
        injectUrcWithData(urc.line, *urc.data);
    } else {
        injectUrc(urc.line);
    }
}

bool ScriptedAtChannel::injectUrc(const std::string& line) {
    bytes_read_ += line.size() + 4;
    const UrcHandler* best = nullptr;
    size_t best_len = 0;
    for (const auto& [prefix, handler] : urc_handlers_) {
        if (line.starts_with(prefix) && (best == nullptr || prefix.size() > best_len)) {
            best = &handler;
            best_len = prefix.size();
        }
    }
    if (best == nullptr) {
        return false;
    }
    const UrcHandler h = *best;  // the handler may register more handlers
    h(line);
    return true;
}

bool ScriptedAtChannel::injectUrcWithData(const std::string& line, const std::string& data) {
    bytes_read_ += line.size() + 4 + data.size();
    for (const auto& d : data_handlers_) {
        if (line.starts_with(d.prefix)) {
            EXPECT_EQ(d.count(line), data.size()) << "byte count from \"" << line << "\"";
            const auto h = d.handler;
            h(line, data);
            return true;
        }
    }
    ADD_FAILURE() << "no data handler for \"" << line << "\"";
    return false;
}

void ScriptedAtChannel::onUrc(const std::string& prefix, UrcHandler handler) {
    urc_handlers_.emplace_back(prefix, std::move(handler));
}

void ScriptedAtChannel::onUrcWithData(
    const std::string& prefix, std::function<size_t(const std::string&)> count,
    std::function<void(const std::string& line, std::string data)> handler) {
    data_handlers_.push_back({prefix, std::move(count), std::move(handler)});
}

void ScriptedAtChannel::onBoot(const std::string& prefix, UrcHandler handler) {
    boot_handlers_.emplace_back(prefix, std::move(handler));
}

bool ScriptedAtChannel::injectBoot(const std::string& line) {
    bytes_read_ += line.size() + 4;
    auto pending = std::move(queue_);
    queue_.clear();
    for (auto& p : pending) {
        asio::post(loop_, [done = std::move(p.done), line] {
            done(fail("at_reset", "the module restarted (" + line + ")"));
        });
    }
    for (const auto& [prefix, handler] : boot_handlers_) {
        if (line.starts_with(prefix)) {
            const UrcHandler h = handler;
            h(line);
            return true;
        }
    }
    return false;
}

void ScriptedAtChannel::reset() {
    auto pending = std::move(queue_);
    queue_.clear();
    for (auto& p : pending) {
        asio::post(loop_, [done = std::move(p.done)] { done(fail("at_closed", "reset")); });
    }
}

}  // namespace uplinkd::testing
