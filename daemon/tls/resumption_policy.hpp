// SPDX-License-Identifier: Apache-2.0
// ResumptionPolicy: how a frugal TLS context (an uplink whose bytes cost money, a modem) resumes
// its sessions, on TLS 1.2 (no key share, no post-handshake tickets; TLS 1.3 only after the broker
// refused 1.2). It offers session tickets first: OpenSSL-based brokers (Mosquitto) drop a cached
// session when its connection ends without close_notify, which is how a dropped link ends, and a
// ticket survives that. For a broker that sends no ticket but gives a session ID (AWS IoT) it
// resumes by session ID (32 bytes in the ClientHello instead of a ticket of some 200), and goes
// back to tickets when the session offered by ID was gone or the broker keeps no session cache.
// Pure: no I/O, no OpenSSL. Thread: loop (owned by a TlsContext).
#pragma once

#include <cstddef>

namespace uplinkd {

class ResumptionPolicy {
  public:
    enum class Way { SessionId, Ticket };

    /// What the next handshake offers: session tickets, or a session-ID cache only.
    Way way() const { return way_; }
    /// Whether the next handshake may use TLS 1.3 (only after the broker refused TLS 1.2).
    bool tls13() const { return tls13_; }

    /// A handshake finished: whether a session was offered and resumed, the length of the
    /// session ID the broker gave, and whether it sent a session ticket.
    void afterHandshake(bool offered, bool resumed, size_t session_id_length, bool ticket_received);
    /// The broker refused the handshake with a protocol_version alert while TLS 1.2 was the most
    /// offered: TLS 1.3 is allowed from then on.
    void versionRefused();

  private:
    Way way_ = Way::Ticket;
    bool tls13_ = false;
};

/// The human word for a way ("session id", "ticket"), for logs and benchmarks.
const char* resumptionWayName(ResumptionPolicy::Way way);

}  // namespace uplinkd
