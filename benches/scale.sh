#!/usr/bin/env bash
# A million merchants on one node (#13): seeds N merchants (one tenant, application and secret
# each) with tessera-bench-seed --bulk into a SQLite database kept under $DIR (reused when it is
# there), then per round starts `tessera serve` on it and reports the seconds until /readyz is
# 200, RSS and peak RSS after start-up, and token throughput with requests spread over 1,000
# clients and over all N, back to back on the same server.
#
# Usage: benches/scale.sh      env: N (default 1000000), DIR (default target/scale), ROUNDS (2),
#                              DURATION (12), PORT (18181)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000000}"; DIR="${DIR:-target/scale}"; ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-12}"; PORT="${PORT:-18181}"
cargo build --release --locked -q -p tessera -p tessera-bench
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
export TESSERA_MASTER_KEY=abababababababababababababababababababababababababababababababab
DB="sqlite://$DIR/m$N.db"
if [ ! -s "$DIR/auth$N.txt" ]; then
  rm -f "$DIR/m$N.db"*
  target/release/tessera --database "$DB" keys list > /dev/null
  target/release/tessera-bench-seed --bulk "$DB" "$N" "$DIR/auth$N.txt" 2> /dev/null
fi
head -1000 "$DIR/auth$N.txt" > "$DIR/auth1k.txt"
for r in $(seq 1 "$ROUNDS"); do
  start=$(date +%s.%N)
  target/release/tessera --database "$DB" serve --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
  pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; do sleep 0.05; done
  ready=$(echo "$(date +%s.%N) - $start" | bc)
  sleep 2
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"); hwm=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
  echo -e "round=$r\tready_s=$ready\trss_mib=$rss\tpeak_mib=$hwm"
  for creds in auth1k.txt "auth$N.txt"; do
    CREDS="$DIR/$creds" wrk -t1 -c32 -d3s -s benches/token.lua "http://127.0.0.1:$PORT" > /dev/null 2>&1
    line=$(CREDS="$DIR/$creds" wrk -t1 -c32 -d"${DURATION}s" -s benches/token.lua "http://127.0.0.1:$PORT" 2>&1 | grep RESULT)
    echo -e "round=$r\tspread=$creds\t$line"
  done
  kill "$pid"; wait "$pid" 2> /dev/null || true
done
