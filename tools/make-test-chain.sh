#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Adds to a test CA made by tools/make-test-ca.sh (DIR holds ca.crt and ca.key): an intermediate
# CA signed by it (inter.crt, inter.key) and a private key that belongs to no certificate
# (other.key), for tests of the credential checks.
# Usage: tools/make-test-chain.sh DIR
set -euo pipefail
cd "$1"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=uplinkd test intermediate" \
  -keyout inter.key -out inter.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > inter.ext
openssl x509 -req -in inter.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
  -extfile inter.ext -out inter.crt 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
chmod 644 inter.crt inter.key
chmod 600 other.key
