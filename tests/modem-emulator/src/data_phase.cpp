// SPDX-License-Identifier: Apache-2.0
#include "data_phase.hpp"

#include <utility>

namespace uplinkd::emulator {

DataPhase::DataPhase(Mode mode, size_t expected, std::string pattern, size_t cap)
    : mode_(mode), expected_(expected), pattern_(std::move(pattern)), cap_(cap) {
    if (mode_ == Mode::Count && expected_ == 0) {
        outcome_ = Outcome::Complete;
    }
}

DataPhase DataPhase::count(size_t n) {
    return DataPhase(Mode::Count, n, {}, n);
}

DataPhase DataPhase::pattern(std::string pattern, size_t cap) {
    return DataPhase(Mode::Pattern, 0, std::move(pattern), cap);
}

DataPhase DataPhase::countOrPattern(size_t n, std::string pattern) {
    return DataPhase(Mode::CountOrPattern, n, std::move(pattern), n);
}

DataPhase DataPhase::ctrlZ(size_t cap) {
    return DataPhase(Mode::CtrlZ, 0, {}, cap);
}

DataPhase DataPhase::escape(size_t cap, std::chrono::milliseconds guard, Clock::time_point start) {
    DataPhase p(Mode::Escape, 0, {}, cap);
    p.guard_ = guard;
    p.last_ = start;
    return p;
}

void DataPhase::keep(char c) {
    data_.push_back(c);
    if (data_.size() > cap_) {
        outcome_ = Outcome::Overflow;
    }
}

void DataPhase::feedEscape(char c, Clock::time_point at) {
    bool after_silence = at - last_ >= guard_;
    if (pluses_ > 0) {
        if (c == '+' && pluses_ < 3 && !after_silence) {
            ++pluses_;  // the escape goes on
            last_ = at;
            return;
        }
        // Not an escape: the held '+' bytes were data.
        for (; pluses_ > 0 && outcome_ == Outcome::Pending; --pluses_) {
            keep('+');
        }
        pluses_ = 0;
    }
    if (outcome_ != Outcome::Pending) {
        return;
    }
    if (c == '+' && after_silence) {
        pluses_ = 1;  // may start an escape: it came after the guard time
    } else {
        keep(c);
    }
    last_ = at;
}

void DataPhase::idle(Clock::time_point now) {
    if (mode_ != Mode::Escape || outcome_ != Outcome::Pending || pluses_ == 0 ||
        now - last_ < guard_) {
        return;
    }
    if (pluses_ == 3) {
        outcome_ = Outcome::Complete;
        ended_on_pattern_ = true;
        return;
    }
    for (; pluses_ > 0 && outcome_ == Outcome::Pending; --pluses_) {
        keep('+');  // "+" or "++" followed by silence is data
    }
    pluses_ = 0;
}

std::optional<DataPhase::Clock::time_point> DataPhase::wakeAt() const {
    if (mode_ != Mode::Escape || outcome_ != Outcome::Pending || pluses_ == 0) {
        return std::nullopt;
    }
    return last_ + guard_;
}

bool DataPhase::endsWithPattern() const {
    return !pattern_.empty() && data_.size() >= pattern_.size() &&
           std::string_view(data_).substr(data_.size() - pattern_.size()) == pattern_;
}

void DataPhase::finishNow() {
    if (outcome_ == Outcome::Pending && trailer_) {
        outcome_ = Outcome::Complete;
    }
}

size_t DataPhase::feed(std::string_view bytes, Clock::time_point at) {
    size_t used = 0;
    // Pattern modes: takes `byte` into the data; true (the pattern cut off the data, the phase
    // complete) when it ended the EOF pattern.
    auto takeUpToPattern = [&](char byte) {
        data_.push_back(byte);
        ++used;
        if (!endsWithPattern()) {
            return false;
        }
        data_.resize(data_.size() - pattern_.size());
        ended_on_pattern_ = true;
        outcome_ = Outcome::Complete;
        return true;
    };
    while (used < bytes.size() && outcome_ == Outcome::Pending) {
        char c = bytes[used];
        switch (mode_) {
            case Mode::Count:
                data_.push_back(c);
                ++used;
                if (data_.size() == expected_) {
                    outcome_ = Outcome::Complete;
                }
                break;
            case Mode::Pattern:
                if (!takeUpToPattern(c) && data_.size() > cap_ + pattern_.size()) {
                    outcome_ = Outcome::Overflow;
                }
                break;
            case Mode::CountOrPattern:
                if (trailer_) {
                    // Exactly n bytes are in; swallow the pattern if it follows, stop otherwise.
                    if (trailer_matched_ < pattern_.size() && c == pattern_[trailer_matched_]) {
                        ++trailer_matched_;
                        ++used;
                        if (trailer_matched_ == pattern_.size()) {
                            ended_on_pattern_ = true;
                            outcome_ = Outcome::Complete;
                        }
                    } else {
                        outcome_ = Outcome::Complete;
                    }
                    break;
                }
                if (!takeUpToPattern(c) && data_.size() == expected_) {
                    trailer_ = true;
                    if (pattern_.empty()) {
                        outcome_ = Outcome::Complete;
                    }
                }
                break;
            case Mode::Escape:
                ++used;
                feedEscape(c, at);
                break;
            case Mode::CtrlZ:
                ++used;
                if (c == 0x1a) {
                    outcome_ = Outcome::Complete;
                } else if (c == 0x1b) {
                    outcome_ = Outcome::Cancelled;
                } else {
                    data_.push_back(c);
                    if (data_.size() > cap_) {
                        outcome_ = Outcome::Overflow;
                    }
                }
                break;
        }
    }
    return used;
}

}  // namespace uplinkd::emulator
