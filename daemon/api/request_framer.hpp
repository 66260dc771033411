// SPDX-License-Identifier: Apache-2.0
// RequestFramer: the local API's input framing (docs/api.md): newline-terminated request lines
// (LineFramer), each of which may be followed by a payload of a length the line announced
// ("payload_length"), read by count, never scanned: the payload may hold newlines and any byte.
// A kept payload is gathered in one buffer reserved once, then handed over whole; a refused one
// is read and dropped by count. Pure. Thread: the owner's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "api/line_framer.hpp"

namespace uplinkd::api {

class RequestFramer {
  public:
    /// What on_line says follows the line it was given.
    struct After {
        enum class Kind { Line, Keep, Skip, Stop };
        Kind kind = Kind::Line;
        uint64_t length = 0;  ///< Keep, Skip: the payload's bytes
        static After line() { return {}; }
        static After keep(uint64_t n) { return {Kind::Keep, n}; }
        static After skip(uint64_t n) { return {Kind::Skip, n}; }
        /// The input cannot be followed any further (the owner closes the connection).
        static After stop() { return {Kind::Stop, 0}; }
    };

    explicit RequestFramer(size_t max_line) : lines_(max_line) {}

    /// Calls, in the order of the input: on_line(std::string_view) -> After for each complete
    /// line, on_overflow() for each line over the limit, on_payload(std::string&&) for each kept
    /// payload once its last byte arrived, on_skipped(uint64_t length) after a dropped one.
    /// After on_line answered stop(), the rest of the input is ignored, now and later.
    template <typename OnLine, typename OnOverflow, typename OnPayload, typename OnSkipped>
    void feed(std::string_view data, OnLine&& on_line, OnOverflow&& on_overflow,
              OnPayload&& on_payload, OnSkipped&& on_skipped) {
        while (!data.empty() && !stopped_) {
            if (remaining_ > 0) {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
                if (keeping_) {
                    payload_.append(data.data(), n);
                }
                remaining_ -= n;
                data.remove_prefix(n);
                if (remaining_ == 0) {
                    finishPayload(on_payload, on_skipped);
                }
                continue;
            }
            // At most one line per round: what follows it may be a payload.
            const size_t nl = data.find('\n');
            const size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
            lines_.feed(
                data.substr(0, take),
                [&](std::string_view line) { start(on_line(line), on_payload, on_skipped); },
                on_overflow);
            data.remove_prefix(take);
        }
    }

    /// Bytes of an unfinished request line held so far.
    size_t pendingLine() const { return lines_.pending(); }
    /// Payload bytes announced but not received yet (0: none expected).
    uint64_t payloadRemaining() const { return remaining_; }
    bool stopped() const { return stopped_; }

  private:
    template <typename OnPayload, typename OnSkipped>
    void start(After after, OnPayload& on_payload, OnSkipped& on_skipped) {
        switch (after.kind) {
            case After::Kind::Line:
                return;
            case After::Kind::Stop:
                stopped_ = true;
                return;
            case After::Kind::Keep:
                keeping_ = true;
                payload_.clear();
                payload_.reserve(static_cast<size_t>(after.length));  // once: no regrowth
                break;
            case After::Kind::Skip:
                keeping_ = false;
                break;
        }
        length_ = after.length;
        remaining_ = after.length;
        if (remaining_ == 0) {
            finishPayload(on_payload, on_skipped);
        }
    }

    template <typename OnPayload, typename OnSkipped>
    void finishPayload(OnPayload& on_payload, OnSkipped& on_skipped) {
        if (keeping_) {
            keeping_ = false;
            on_payload(std::exchange(payload_, std::string()));
        } else {
            on_skipped(length_);
        }
    }

    LineFramer lines_;
    std::string payload_;     ///< the kept payload being received
    uint64_t remaining_ = 0;  ///< its bytes still to come (kept or skipped)
    uint64_t length_ = 0;     ///< the announced length of the current payload
    bool keeping_ = false;
    bool stopped_ = false;
};

}  // namespace uplinkd::api
