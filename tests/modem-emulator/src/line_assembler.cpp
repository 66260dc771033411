// SPDX-License-Identifier: Apache-2.0
#include "line_assembler.hpp"

namespace uplinkd::emulator {

LineAssembler::Result LineAssembler::feed(char c) {
    switch (state_) {
        case State::Idle:
            if (c == 'A' || c == 'a') {
                state_ = State::SawA;
            } else if (c != '\r' && c != '\n') {
                ++dropped_;
            }
            return {};
        case State::SawA:
            if (c == 'T' || c == 't') {
                state_ = State::InLine;
                body_.clear();
            } else if (c == '/') {
                state_ = State::Idle;
                return {Status::Line, last_};
            } else if (c != 'A' && c != 'a') {
                state_ = State::Idle;
                dropped_ += (c == '\r' || c == '\n') ? 1 : 2;
            } else {
                ++dropped_;  // the first of "AA"
            }
            return {};
        case State::InLine:
            if (c == '\r') {
                state_ = State::Idle;
                last_ = body_;
                return {Status::Line, std::move(body_)};
            }
            if (c == '\b' || c == 0x7f) {
                if (!body_.empty()) {
                    body_.pop_back();
                }
                return {};
            }
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
                return {};  // LF and other control bytes inside a line are ignored
            }
            body_.push_back(c);
            if (body_.size() > max_line_) {
                body_.clear();
                state_ = State::Overflow;
            }
            return {};
        case State::Overflow:
            if (c == '\r') {
                state_ = State::Idle;
                return {Status::TooLong, {}};
            }
            return {};
    }
    return {};
}

void LineAssembler::reset() {
    state_ = State::Idle;
    body_.clear();
}

}  // namespace uplinkd::emulator
