#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: builds uplinkd, starts a Mosquitto broker with TLS on this machine as a stand-in
# cloud, starts uplinkd with config/examples/demo.toml, publishes a message with
# `uplinkctl publish`, and shows that a subscriber on the broker received it. Then it stops
# everything it started. Run as root on Debian 12 (it installs packages with apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash tools/setup.sh
source tools/ccache-env.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DUPLINKD_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
bin=$root/build-release

work=/tmp/uplinkd-demo
rm -rf "$work"
mkdir -p "$work/state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== making a CA and a certificate for the broker (localhost)"
bash tools/make-test-ca.sh "$work" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
per_listener_settings true
listener $port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
allow_anonymous true
CONF
echo "== starting Mosquitto with TLS on 127.0.0.1:$port"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

echo "== a subscriber on the broker waits for demo/#"
mosquitto_sub -h localhost -p "$port" --cafile "$work/ca.crt" -t 'demo/#' -C 1 -v -d \
  > "$work/received.txt" 2> "$work/sub.log" &
sub=$!
pids+=($sub)
for _ in $(seq 100); do grep -q SUBACK "$work/received.txt" "$work/sub.log" 2>/dev/null && break; sleep 0.1; done

echo "== starting uplinkd with config/examples/demo.toml"
"$bin/daemon/uplinkd" --config config/examples/demo.toml --plugin-dir "$bin/plugins" \
  --set "routes.demo.cloud.port=$port" \
  --set "routes.demo.tls.ca_file=\"$work/ca.crt\"" \
  --set "api.socket=\"$work/uplinkd.sock\"" \
  --set "daemon.state_dir=\"$work/state\"" 2> "$work/uplinkd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/uplinkd.sock" ] && break; sleep 0.1; done

echo "== uplinkctl publish --route demo --topic demo/greeting 'hello from uplinkd'"
"$bin/daemon/uplinkctl" --socket "$work/uplinkd.sock" publish --route demo \
  --topic demo/greeting --wait-delivered --timeout 20 "hello from uplinkd"

wait "$sub" || true
echo "== the subscriber on the broker received:"
grep -v '^Client' "$work/received.txt" || true
echo "== uplinkctl status"
"$bin/daemon/uplinkctl" --socket "$work/uplinkd.sock" status
if grep -q '^demo/greeting hello from uplinkd$' "$work/received.txt"; then
  echo "== demo OK: the message went from a local app through uplinkd over TLS to the broker"
else
  echo "== demo FAILED; uplinkd said:" >&2
  cat "$work/uplinkd.log" >&2
  exit 1
fi
