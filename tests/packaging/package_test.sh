#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages, end to end: builds them from a copy of the tree (dpkg-buildpackage -b),
# checks them with lintian (no errors), installs them, checks what installing did (user and
# groups, state and runtime directories, the default configuration as a conffile that
# `uplinkd --check-config` accepts, the unit for `systemd-analyze verify`), runs the installed
# daemon as user uplinkd against a test Mosquitto with TLS and moves a message to it with the
# installed uplinkctl, then purges and checks that the state is gone.
# Needs root: it installs and purges packages on this machine. Fails, never skips.
# Usage: tests/packaging/package_test.sh [SOURCE_DIR]
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
started=$SECONDS

step() { echo "== $((SECONDS - started))s: $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run as root: this test installs and purges the uplinkd packages"
for tool in dpkg-buildpackage lintian apt-get setpriv mosquitto mosquitto_sub python3 \
    systemd-analyze; do
    command -v "$tool" >/dev/null || fail "$tool is missing (run tools/setup.sh)"
done

# tools/test.sh's sanitizer settings are for its own build, not for this one.
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
export DEBIAN_FRONTEND=noninteractive

work=$(mktemp -d /tmp/uplinkd-pkg-XXXXXX)
chmod 755 "$work"
daemon_pid=
broker_pid=
purge() {
    local present=()
    for p in uplinkd uplinkd-modem-emulator; do
        if dpkg -s "$p" >/dev/null 2>&1; then present+=("$p"); fi
    done
    if [ "${#present[@]}" -gt 0 ]; then
        apt-get purge -y -qq "${present[@]}" >"$work/purge.log" 2>&1
    fi
}
cleanup() {
    local rc=$?
    [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null || true
    [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    purge || true
    if [ "$rc" -ne 0 ]; then
        for f in build.log lintian.log install.log uplinkd.log mosquitto.log purge.log; do
            [ -s "$work/$f" ] && { echo "---- $f (last lines)"; tail -40 "$work/$f"; }
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Polls `$@` every 0.1 s for at most $1 seconds (readiness of a process started here).
wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

step "copying the tree (without build directories)"
# Always the same folder, so that the compiler flags (which name it) are the same from one run
# to the next and ccache (tools/ccache-env.sh) can reuse the previous run's compilations.
pkgsrc=/var/tmp/uplinkd-package-test/src
rm -rf "$(dirname "$pkgsrc")"
mkdir -p "$pkgsrc"
tar -C "$src" --exclude='./build*' --exclude='./.git' --exclude='./obj-*' \
    --exclude='./debian/.debhelper' --exclude='./debian/tmp' -cf - . | tar -C "$pkgsrc" -xf -

step "dpkg-buildpackage -us -uc -b"
# noopt (-O0) halves the compile time; the packaging (files, scripts, metadata) is the same.
(cd "$pkgsrc" && CCACHE_BASEDIR="$pkgsrc" DEB_BUILD_OPTIONS="nocheck noopt parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) \
    >"$work/build.log" 2>&1 || fail "dpkg-buildpackage failed"
find "$(dirname "$pkgsrc")" -maxdepth 1 -type f -exec mv -t "$work" {} + ||
    fail "the packages were not built"
rm -rf "$(dirname "$pkgsrc")"
ls "$work"/uplinkd_*.deb "$work"/uplinkd-modem-emulator_*.deb >/dev/null ||
    fail "the packages were not built"

step "lintian"
lintian --fail-on error --display-level '>=warning' "$work"/uplinkd_*.changes \
    >"$work/lintian.log" 2>&1 || fail "lintian reports errors"
sed 's/^/  lintian: /' "$work/lintian.log"

step "installing"
purge
apt-get install -y -qq --no-install-recommends "$work"/uplinkd_*.deb \
    "$work"/uplinkd-modem-emulator_*.deb >"$work/install.log" 2>&1 || fail "installing failed"

step "checking what installing did"
getent passwd uplinkd >/dev/null || fail "no user uplinkd"
getent group uplinkd >/dev/null || fail "no group uplinkd"
getent group uplinkd-clients >/dev/null || fail "no group uplinkd-clients"
id -nG uplinkd | grep -qw dialout || fail "uplinkd is not in group dialout"
[ "$(stat -c %U:%G /var/lib/uplinkd)" = uplinkd:uplinkd ] || fail "/var/lib/uplinkd is not uplinkd's"
[ "$(stat -c %U /run/uplinkd)" = uplinkd ] || fail "/run/uplinkd is not uplinkd's"
dpkg-query -W -f='${Conffiles}\n' uplinkd | grep -q ' /etc/uplinkd/uplinkd.toml ' ||
    fail "/etc/uplinkd/uplinkd.toml is not a conffile"
/usr/sbin/uplinkd --check-config /etc/uplinkd/uplinkd.toml || fail "the default config is refused"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
[ -f "/usr/lib/$multiarch/uplinkd/plugins/uplinkd-cloud-generic-mqtt.so" ] ||
    fail "plugins are not in /usr/lib/$multiarch/uplinkd/plugins"
for f in /usr/bin/uplinkctl /usr/share/dbus-1/system.d/io.uplinkd.Uplink1.conf \
    /usr/share/man/man8/uplinkd.8.gz /usr/share/man/man1/uplinkctl.1.gz \
    /usr/share/doc/uplinkd/examples/aws-iot.toml /usr/lib/sysusers.d/uplinkd.conf; do
    [ -f "$f" ] || fail "$f is not installed"
done
uplinkd-modem-emulator --help >/dev/null || fail "uplinkd-modem-emulator does not run"

step "systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/uplinkd.service >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "systemd-analyze verify refuses the unit"; }
! grep -q 'uplinkd.service' "$work/verify.log" ||
    { cat "$work/verify.log"; fail "systemd-analyze verify complains about the unit"; }

step "running the installed uplinkd as user uplinkd against Mosquitto with TLS"
bash "$src/tools/make-test-ca.sh" "$work/pki" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
cafile $work/pki/ca.crt
certfile $work/pki/server.crt
keyfile $work/pki/server.key
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker_pid=$!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "mosquitto did not start"

cat >"$work/uplinkd.toml" <<CONF
[daemon]
state_dir = "/var/lib/uplinkd"
log_level = "debug"
[api]
socket = "/run/uplinkd/uplinkd.sock"
socket_group = "uplinkd-clients"
[routes.pkg.cloud]
type = "generic-mqtt"
host = "localhost"
port = $port
client_id = "uplinkd-package-test"
[routes.pkg.tls]
ca_file = "$work/pki/ca.crt"
CONF
chmod 644 "$work/uplinkd.toml"
setpriv --reuid=uplinkd --regid=uplinkd --init-groups \
    /usr/sbin/uplinkd --config "$work/uplinkd.toml" >"$work/uplinkd.log" 2>&1 &
daemon_pid=$!
wait_for 10 test -S /run/uplinkd/uplinkd.sock || fail "uplinkd does not listen"
[ "$(stat -c %G:%a /run/uplinkd/uplinkd.sock)" = uplinkd-clients:660 ] ||
    fail "the socket is not 0660 uplinkd-clients: $(stat -c %G:%a /run/uplinkd/uplinkd.sock)"
if setpriv --reuid=nobody --regid=nogroup --clear-groups uplinkctl status >/dev/null 2>&1; then
    fail "a user outside uplinkd-clients could use the socket"
fi
wait_for 30 bash -c "uplinkctl status --json pkg | grep -Eq '\"state\": *\"online\"'" ||
    fail "route pkg did not come online: $(uplinkctl status 2>&1)"
uplinkctl publish -r pkg -t pkg/test --retain --wait-delivered 'hello from the package' ||
    fail "uplinkctl publish failed"
got=$(mosquitto_sub -h localhost -p "$port" --cafile "$work/pki/ca.crt" -t pkg/test -C 1 -W 10) ||
    fail "the broker has no message on pkg/test"
[ "$got" = "hello from the package" ] || fail "the broker has \"$got\""
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "uplinkd did not stop cleanly"
daemon_pid=

step "purging"
purge || fail "purging failed"
for f in /var/lib/uplinkd /etc/uplinkd/uplinkd.toml /usr/sbin/uplinkd /run/uplinkd; do
    [ ! -e "$f" ] || fail "$f is still there after purge"
done

step "passed"
