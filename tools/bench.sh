#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the benchmarks (Release, in a build directory of their own) and runs those behind the
# performance figures one after another, so that each figure is printed next to its target from
# one run on one machine: delivery_bench (throughput and p99 against a Mosquitto bridge and a
# direct Paho client), modem_bench (reconnect and idle-hour bytes per modem driver) and
# startup_bench (READY with 1M messages spooled, PSS, peak RSS for one large message).
# Absolute figures depend on the machine: run it on an otherwise idle one; ratios are what count.
#
# Usage: tools/bench.sh [messages]     (messages per delivery_bench row; default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${1:-20000}
if ! [[ "$messages" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: messages must be a positive number, not \"$messages\"" >&2
    exit 2
fi
build=${UPLINKD_BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target delivery_bench modem_bench startup_bench \
    uplinkd-modem-sierra-hl78 uplinkd-modem-sierra-bx310x uplinkd-modem-st-spwf04s \
    uplinkd-modem-simcom-a76xx uplinkd-modem-quectel-bg9x uplinkd-modem-emulator >/dev/null

echo "== delivery_bench $messages 1000000 (throughput, p99, RSS with 1M spooled)"
"$build/bench/delivery_bench" "$messages" 1000000
echo
echo "== modem_bench 0 all (reconnect bytes full and resumed, idle-hour bytes, per driver)"
"$build/bench/modem_bench" 0 all
echo
echo "== startup_bench (READY after a clean stop and after kill -9, PSS, one large message)"
"$build/bench/startup_bench"
