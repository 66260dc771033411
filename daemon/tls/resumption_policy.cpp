// SPDX-License-Identifier: Apache-2.0
#include "tls/resumption_policy.hpp"

namespace uplinkd {

void ResumptionPolicy::afterHandshake(bool offered, bool resumed, size_t session_id_length,
                                      bool ticket_received) {
    if (resumed) {
        return;  // the way in use works
    }
    if (way_ == Way::SessionId && (session_id_length == 0 || offered)) {
        // The broker keeps no session cache, or dropped the session offered (the link dropped):
        // a ticket resumes with it.
        way_ = Way::Ticket;
    } else if (way_ == Way::Ticket && !ticket_received && session_id_length > 0) {
        // Tickets were offered and not taken, but the broker caches sessions.
        way_ = Way::SessionId;
    }
}

void ResumptionPolicy::versionRefused() {
    tls13_ = true;
}

const char* resumptionWayName(ResumptionPolicy::Way way) {
    return way == ResumptionPolicy::Way::SessionId ? "session id" : "ticket";
}

}  // namespace uplinkd
