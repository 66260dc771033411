// SPDX-License-Identifier: Apache-2.0
// FaultPlan: the faults armed to fire inside data phases, and their byte counters. Pure, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace uplinkd::emulator {

/// Counts data-phase bytes in each direction and says when an armed fault fires; loop-bound
/// (single thread). A fault armed "after N bytes" lets exactly N bytes pass, then fires once.
class FaultPlan {
  public:
    enum class Direction { Uplink, Downlink };  ///< host → module, module → host
    enum class Action { Hang, Reboot };

    /// Arms (or re-arms) the fault of one direction: fire after `after_bytes` more bytes.
    void arm(Direction d, Action a, size_t after_bytes);
    /// Disarms both directions and forgets fired faults.
    void clear();
    /// How many of the next `len` bytes may pass before the fault of `d` fires.
    size_t allowance(Direction d, size_t len) const;
    /// Records that `n` bytes passed (n <= allowance); returns the action when the fault fires
    /// now, i.e. when its count reached zero (`n` may be 0 for a fault armed with 0 bytes).
    std::optional<Action> passed(Direction d, size_t n);
    /// True while a fault of `d` is armed and has not fired.
    bool armed(Direction d) const;

    /// One armed fault, for `status`.
    struct Slot {
        bool armed = false;
        bool fired = false;
        Action action = Action::Hang;
        size_t remaining = 0;
    };
    const Slot& slot(Direction d) const { return d == Direction::Uplink ? up_ : down_; }

  private:
    Slot& slotOf(Direction d) { return d == Direction::Uplink ? up_ : down_; }

    Slot up_;
    Slot down_;
};

const char* toString(FaultPlan::Action a);

}  // namespace uplinkd::emulator
