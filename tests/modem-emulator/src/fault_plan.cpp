// SPDX-License-Identifier: Apache-2.0
#include "fault_plan.hpp"

#include <algorithm>

namespace uplinkd::emulator {

void FaultPlan::arm(Direction d, Action a, size_t after_bytes) {
    Slot& s = slotOf(d);
    s.armed = true;
    s.fired = false;
    s.action = a;
    s.remaining = after_bytes;
}

void FaultPlan::clear() {
    up_ = Slot{};
    down_ = Slot{};
}

bool FaultPlan::armed(Direction d) const {
    const Slot& s = slot(d);
    return s.armed && !s.fired;
}

size_t FaultPlan::allowance(Direction d, size_t len) const {
    return armed(d) ? std::min(len, slot(d).remaining) : len;
}

std::optional<FaultPlan::Action> FaultPlan::passed(Direction d, size_t n) {
    if (!armed(d)) {
        return std::nullopt;
    }
    Slot& s = slotOf(d);
    s.remaining -= std::min(n, s.remaining);
    if (s.remaining > 0) {
        return std::nullopt;
    }
    s.fired = true;
    return s.action;
}

const char* toString(FaultPlan::Action a) {
    return a == FaultPlan::Action::Hang ? "silent" : "reboot";
}

}  // namespace uplinkd::emulator
