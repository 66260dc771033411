#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what uplinkd needs to build, test and run the demo (Debian 12, as root).
# Usage: tools/setup.sh            packages for building, the demo and the tests
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format ccache
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev openssl libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libasio-dev libsqlite3-dev libsystemd-dev
  libsdbus-c++-dev libsdbus-c++-bin libgpiod-dev libgtest-dev libgmock-dev
  libmosquitto-dev mosquitto-dev
  # demo and tests: real brokers and tools
  mosquitto mosquitto-clients haproxy dbus socat python3 procps
  # failover tests: network namespaces and veth links (ip netns, ip link)
  iproute2
  # the Debian package and its test (tests/packaging): build, check, verify the unit
  debhelper dpkg-dev fakeroot lintian man-db systemd
  # observability tests: promtool checks the metrics format, tmux runs status --watch
  prometheus tmux
  # fuzzing (tools/fuzz.sh): clang and its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The mosquitto package starts a system broker on 1883; the demo and tests start their own.
