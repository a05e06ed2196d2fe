#!/usr/bin/env bash
# Brute-force benchmark (issue #14): wrong secrets for one client id from one address at full
# speed while the owner, from another address, asks for tokens; then a million made-up client
# ids from 62,500 addresses, with the server's RSS before and after. Prints the tool's lines.
#
# Usage: benches/bruteforce.sh        env: SECONDS_ATTACK (default 10), MADE_UP (default 1000000),
#                                          PORT (default 18091)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_ATTACK="${SECONDS_ATTACK:-10}"; MADE_UP="${MADE_UP:-1000000}"; PORT="${PORT:-18091}"
cargo build --release --locked -q -p tessera -p tessera-bench
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
export TESSERA_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TESSERA_DATABASE_URL="sqlite://$DATA/tessera.db"
./target/release/tessera-bench-seed "$TESSERA_DATABASE_URL" 1 "$DATA/creds.txt"
CREDS=$(head -1 "$DATA/creds.txt" | sed 's/^Basic //' | base64 -d)
TESSERA_LOG=warn ./target/release/tessera serve --listen "127.0.0.1:$PORT" > /dev/null 2> "$DATA/server.log" &
SPID=$!
trap 'kill -TERM $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 200); do [ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.05; done
./target/release/tessera-bench-bruteforce "http://127.0.0.1:$PORT" "${CREDS%%:*}" "${CREDS#*:}" "$SPID" \
  "$SECONDS_ATTACK" "$MADE_UP"
