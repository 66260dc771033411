#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds uplinkd with AddressSanitizer and UndefinedBehaviorSanitizer and runs every test
# (unit and integration, against real Mosquitto, HAProxy, dbus-daemon and a pseudo-terminal).
# Run as root on Debian 12: it installs what it needs with apt-get. Exit 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
source tools/ccache-env.sh
build=${UPLINKD_TEST_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DUPLINKD_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure --timeout 600
