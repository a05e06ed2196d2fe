#!/usr/bin/env bash
# What one token request costs tessera, in counts that do not move with the machine's load:
# allocations (uprobes on mimalloc's entry points, `perf probe`, needs root) and user-space
# instructions (valgrind cachegrind), tessera against the ceiling for the instructions.
#
# Usage: benches/per-request.sh        env: ALG (default EdDSA), APPS (default 1000)
# Needs perf, valgrind and wrk (apt-get install -y linux-perf valgrind wrk); the ceiling as
# benches/compare.sh builds it (in $CEILING_DIR, default /tmp/ceiling).
#
# Instructions per request are the difference of a 4 s and a 12 s run at 4 connections divided
# by the difference in requests, so start-up and shutdown cancel out. valgrind runs SHA-256 in
# software (no SHA extensions), so tessera's HMAC counts about 6k instructions more than it
# costs on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ALG="${ALG:-EdDSA}"; APPS="${APPS:-1000}"; CEILING_DIR="${CEILING_DIR:-/tmp/ceiling}"
PORT=18095; CPORT=18096
cargo build --release --locked -q -p tessera -p tessera-bench
BIN="$PWD/target/release/tessera"
DATA=$(mktemp -d)
trap 'pkill -f "serve --listen 127.0.0.1:$PORT" || true; pkill -f "addr 127.0.0.1:$CPORT" || true; perf probe -q -d "probe_tessera:*" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export TESSERA_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TESSERA_DATABASE_URL="sqlite://$DATA/tessera.db" TESSERA_LOG=warn
printf '[tokens]\nalgorithm = "%s"\n' "$ALG" > "$DATA/tessera.toml"
export TESSERA_CONFIG="$DATA/tessera.toml" CREDS="$DATA/creds.txt"
./target/release/tessera-bench-seed "$TESSERA_DATABASE_URL" "$APPS" "$CREDS" > /dev/null
URL="http://127.0.0.1:$PORT/oauth2/token"
# -f: /readyz answers 503 until the directory is loaded, which under valgrind takes seconds.
ready() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
# The request count of wrk's RESULT line; a run with any non-200 answer is refused, since a cheap
# error would pass for a cheap token.
requests() {
  local r; r=$(grep RESULT)
  case "$r" in *" non200=0 "*) ;; *) echo "refused: $r" >&2; return 1 ;; esac
  sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$r"
}

# Allocations: the uprobes count every call while wrk runs.
for f in mi_malloc_aligned mi_zalloc_aligned mi_realloc_aligned; do perf probe -q -x "$BIN" --add "$f"; done
"$BIN" serve --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
ready "http://127.0.0.1:$PORT/readyz"
wrk -t1 -c8 -d2s -s benches/token.lua "$URL" > /dev/null
perf stat -x, -e 'probe_tessera:*' -p "$(pgrep -f "serve --listen 127.0.0.1:$PORT")" -- sleep 5 2> "$DATA/stat" &
STAT=$!
sleep 0.2
N=$(wrk -t1 -c8 -d4s -s benches/token.lua "$URL" | requests)
wait "$STAT"
awk -F, -v n="$N" -v alg="$ALG" '{s += $1} END {printf "tessera %s: %.1f allocations per token request\n", alg, s / n}' "$DATA/stat"
pkill -f "serve --listen 127.0.0.1:$PORT"; sleep 1
perf probe -q -d 'probe_tessera:*'

# Instructions: tessera, then the ceiling, each run twice under cachegrind.
instructions() { # label ready-url pattern url wrk-args... (the server command is in CMD)
  local label=$1 readyurl=$2 pattern=$3 url=$4; shift 4
  local out=() dur
  for dur in 4 12; do
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$DATA/cg.$dur" "${CMD[@]}" > /dev/null 2>&1 &
    ready "$readyurl"
    out+=("$(wrk -t1 -c4 -d${dur}s "$@" "$url" | requests)")
    pkill -INT -f "$pattern"
    while pgrep -f "$pattern" > /dev/null; do sleep 0.2; done
    out+=("$(awk '/^summary:/{print $2}' "$DATA/cg.$dur")")
  done
  echo "$label: $(( (out[3] - out[1]) / (out[2] - out[0]) )) user-space instructions per token request"
}
CMD=("$BIN" serve --listen "127.0.0.1:$PORT")
instructions "tessera $ALG" "http://127.0.0.1:$PORT/readyz" "serve --listen 127.0.0.1:$PORT" "$URL" -s benches/token.lua
SECRET=$(python3 -c 'import hashlib,base64;print(base64.urlsafe_b64encode(hashlib.sha256(b"seed-0").digest()).decode().rstrip("="))')
AUTH="Authorization: Basic $(printf 'bench-0000:%s' "$SECRET" | base64 -w0)"
MODE=$(echo "$ALG" | tr 'A-Z' 'a-z')
CMD=("$CEILING_DIR/target/release/tokensrv" --addr "127.0.0.1:$CPORT" --mode "$MODE" --signer raw)
(cd "$CEILING_DIR" && instructions "ceiling $ALG" "http://127.0.0.1:$CPORT/stats" "addr 127.0.0.1:$CPORT" \
  "http://127.0.0.1:$CPORT/token" -H "$AUTH" -s token.lua)
