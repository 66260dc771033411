// SPDX-License-Identifier: Apache-2.0
// The Prometheus text exposition format (version 0.0.4) of a MetricsSnapshot: every metric
// with its HELP and TYPE, label values escaped. Pure. Thread: any.
#pragma once

#include <string>
#include <string_view>

#include "metrics/metrics_snapshot.hpp"

namespace uplinkd::metrics {

/// The Content-Type of formatExposition's output.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

std::string formatExposition(const MetricsSnapshot& snapshot);

/// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escapeLabelValue(std::string_view value);

}  // namespace uplinkd::metrics
