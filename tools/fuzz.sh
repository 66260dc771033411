#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and UBSan in a build
# directory of their own, and runs each for a bounded time from its checked-in corpus
# (tests/fuzz/corpus/<target>/, read only; new inputs go to the build directory).
#
# Usage: tools/fuzz.sh [target|all] [seconds per target]     (defaults: all, 25)
#        tools/fuzz.sh list
# Exit status 1 when a target crashed: the input is in <build>/fuzz-work/<target>/crashes/.
# Fix the code, then add the input to tests/fuzz/corpus/<target>/ as crash-<what it broke>, so
# that the corpus replay (ctest fuzz_replay_<target>, also in tools/test.sh) keeps checking it.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(api_lines at_parser connect_request sas_token mqtt_names config modem_lines)
what=${1:-all}
seconds=${2:-25}
if [ "$what" = list ]; then
    printf '%s\n' "${targets[@]}"
    exit 0
fi
if [ "$what" != all ]; then
    if [[ ! " ${targets[*]} " =~ " $what " ]]; then
        echo "fuzz: unknown target \"$what\" (one of: ${targets[*]})" >&2
        exit 2
    fi
    targets=("$what")
fi
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: seconds must be a positive number, not \"$seconds\"" >&2
    exit 2
fi

build=${UPLINKD_FUZZ_BUILD_DIR:-build-fuzz}
source tools/ccache-env.sh
CC=clang CXX=clang++ cmake -S . -B "$build" -DUPLINKD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
    work=$build/fuzz-work/$t
    rm -rf "$work/crashes"
    mkdir -p "$work/corpus" "$work/crashes"
    max_len=4096  # the configuration loader reads whole files; the rest read lines and fields
    if [ "$t" = config ]; then
        max_len=16384
    fi
    dict=()
    if [ -f "tests/fuzz/$t.dict" ]; then
        dict=(-dict="tests/fuzz/$t.dict")
    fi
    echo "== fuzz $t for ${seconds} s"
    if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$work/crashes/" "${dict[@]}" \
        "$work/corpus" "tests/fuzz/corpus/$t" </dev/null >"$work/log" 2>&1; then
        failed+=("$t")
        tail -n 60 "$work/log"
        echo "fuzz: $t crashed; inputs: $(ls "$work/crashes" | tr '\n' ' ')" >&2
    else
        grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crash in ${targets[*]}"
