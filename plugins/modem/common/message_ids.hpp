// SPDX-License-Identifier: Apache-2.0
// MessageIds: the message (packet) ids of a module's MQTT client that await their result URC:
// the next id (1-65535, wrapping, skipping those still awaited), held from the command until its
// acknowledgement or the end of the session. Pure, no I/O. Thread: the driver's loop.
#pragma once

#include <set>

namespace uplinkd::plugins::modem_common {

class MessageIds {
  public:
    /// The next id that is not awaited (the next one in turn when all 65535 are).
    int next() {
        for (int i = 0; i < kMax; ++i) {
            const int id = next_;
            next_ = id == kMax ? 1 : id + 1;
            if (!held_.contains(id)) {
                return id;
            }
        }
        return next_;
    }
    /// `id` awaits its acknowledgement.
    void hold(int id) { held_.insert(id); }
    /// The acknowledgement of `id` came (or its wait ended).
    void release(int id) { held_.erase(id); }
    /// The session ended: nothing is awaited any more (the numbering goes on).
    void clear() { held_.clear(); }
    bool held(int id) const { return held_.contains(id); }

  private:
    static constexpr int kMax = 65535;
    int next_ = 1;
    std::set<int> held_;
};

}  // namespace uplinkd::plugins::modem_common
