// SPDX-License-Identifier: Apache-2.0
// Checks on a running uplinkd that many integration tests make: a publish delivered, a batch
// queued, a route that reports an error, and a message that reached the broker. Each returns an
// AssertionResult whose failure shows what came instead. Thread: the test's.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "test_env.hpp"

namespace uplinkd::testing {

/// Sends the publish `request` through `c`, asking to be told of its delivery, and waits for
/// its "delivered" reply.
::testing::AssertionResult publishDelivered(ApiClient& c, nlohmann::json request);

/// Reads `c`'s replies until `count` different ids were answered "queued" (each within
/// `timeout`).
::testing::AssertionResult awaitQueued(ApiClient& c, size_t count,
                                       std::chrono::milliseconds timeout);

/// Waits until `route` reports an error (a last_error) and keeps that status in `*status`.
::testing::AssertionResult routeFailed(Daemon& d, const std::string& route,
                                       std::chrono::milliseconds timeout, nlohmann::json* status);

/// Waits (at most `timeout`) until `sub`'s message `index` (0: the first) has arrived, and
/// checks its topic and payload.
::testing::AssertionResult received(Subscriber& sub, size_t index, const std::string& topic,
                                    const std::string& payload,
                                    std::chrono::milliseconds timeout = 10s);

}  // namespace uplinkd::testing
