#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes a throw-away CA and a server certificate for "localhost" (and 127.0.0.1) in DIR:
# ca.crt ca.key server.crt server.key. Optionally a client certificate: client.crt client.key.
# Usage: tools/make-test-ca.sh DIR [client-name]
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=uplinkd test CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.crt 2>/dev/null
if [ "${2:-}" != "" ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout client.key -out client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile client.ext -out client.crt 2>/dev/null
fi
chmod 644 ./*.crt ./*.key
# The broker (which may drop privileges) reads the server key; the client key is uplinkd's secret
# and, like every secret file, must not be readable by every user.
if [ -f client.key ]; then chmod 600 client.key; fi
