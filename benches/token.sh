#!/usr/bin/env bash
# Load benchmark of POST /oauth2/token (client_credentials, HTTP Basic) on loopback with wrk.
#
# Usage: benches/token.sh LABEL
# env: ALG (ES256 | EdDSA | RS256, default ES256), APPS (clients in the store, default 1000),
#      DB (sqlite | postgres, default sqlite; postgres starts a throwaway cluster from the Debian
#      binaries under /usr/lib/postgresql, as the test kit does),
#      CONCS (default "32"), DURATION (default 15), WARMUP (default 3), WRK_THREADS (default 1),
#      PORT (default 18081), OUTDIR (default target/bench),
#      EXTRA_TOML (appended to the config file, e.g. '[metrics]\nenabled = false\n'),
#      SERVER_LOG (TESSERA_LOG of the server, default warn: no line per request),
#      LOG_FORMAT (pretty | json, default pretty), TLS (1: serve HTTPS with a fresh self-signed
#      certificate; wrk keeps its connections, so the handshakes are not what is measured),
#      PIN (1: the server on CPU 0 and wrk on CPU 1, so that the load generator's own work, its
#      TLS above all, does not run on the server's core: what a node with its own cores pays)
#
# Builds tessera in release mode, seeds a fresh SQLite database with APPS tenants, each with one
# application and one secret, starts `tessera serve`, checks one response, then per concurrency
# runs a warm-up and a measured wrk run spread round-robin over all clients. Prints one TSV line
# per run with the same columns as ../shared/ceiling/bench_http.sh:
#   label conc rps p50_ms p90_ms p99_ms max_ms non200 sock_err server_cpu_s server_cpu_us_per_req
#   wrk_cpu_s loadavg1 sys_idle_pct sys_softirq_pct sys_steal_pct
set -euo pipefail
cd "$(dirname "$0")/.."
LABEL="$1"
ALG="${ALG:-ES256}"; APPS="${APPS:-1000}"
CONCS="${CONCS:-32}"; DURATION="${DURATION:-15}"; WARMUP="${WARMUP:-3}"
WRK_THREADS="${WRK_THREADS:-1}"; PORT="${PORT:-18081}"; OUTDIR="${OUTDIR:-target/bench}"
mkdir -p "$OUTDIR"
cargo build --release --locked -q -p tessera -p tessera-bench
DATA=$(mktemp -d); chmod 755 "$DATA"
PGBIN=""; PGRUN=()
stop_pg() { [ -n "$PGBIN" ] && "${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$DATA/pg" -m immediate stop > /dev/null 2>&1 || true; }
trap 'stop_pg; rm -rf "$DATA"' EXIT
export TESSERA_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TESSERA_DATABASE_URL="sqlite://$DATA/tessera.db"
if [ "${DB:-sqlite}" = postgres ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  [ "$(id -u)" = 0 ] && { PGRUN=(runuser -u postgres --); mkdir -p "$DATA/pg" && chown postgres "$DATA/pg"; }
  PGPORT=$((PORT + 1000))
  "${PGRUN[@]}" "$PGBIN/initdb" -A trust -U tessera -D "$DATA/pg" --no-sync > /dev/null
  "${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$DATA/pg" -l "$DATA/pg/log" -w \
    -o "-p $PGPORT -k $DATA/pg -c listen_addresses=127.0.0.1" start > /dev/null
  "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U tessera tessera
  export TESSERA_DATABASE_URL="postgres://tessera@127.0.0.1:$PGPORT/tessera"
fi
printf 'log_format = "%s"\n[tokens]\nalgorithm = "%s"\n%b' "${LOG_FORMAT:-pretty}" "$ALG" "${EXTRA_TOML:-}" \
  > "$DATA/tessera.toml"
SCHEME=http; SERVE_TLS=()
if [ "${TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$DATA/key.pem" -out "$DATA/cert.pem" 2> /dev/null
  SCHEME=https; SERVE_TLS=(--tls-cert "$DATA/cert.pem" --tls-key "$DATA/key.pem")
fi
export TESSERA_CONFIG="$DATA/tessera.toml"
./target/release/tessera-bench-seed "$TESSERA_DATABASE_URL" "$APPS" "$DATA/creds.txt"
LOG="$OUTDIR/$LABEL.server.log"
SERVER_CPU=(); WRK_CPU=()
[ "${PIN:-0}" = 1 ] && { SERVER_CPU=(taskset -c 0); WRK_CPU=(taskset -c 1); }
TESSERA_LOG="${SERVER_LOG:-warn}" "${SERVER_CPU[@]}" ./target/release/tessera serve --listen "127.0.0.1:$PORT" "${SERVE_TLS[@]}" \
  > "$OUTDIR/$LABEL.serve.json" 2> "$LOG" &
SPID=$!
trap 'kill -TERM $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; stop_pg; rm -rf "$DATA"' EXIT
for _ in $(seq 1 200); do [ "$(curl -sk -o /dev/null -w "%{http_code}" "$SCHEME://127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.05; done
# sanity: one request, decode the token
curl -sk -H "Authorization: $(head -1 "$DATA/creds.txt")" -d grant_type=client_credentials \
  "$SCHEME://127.0.0.1:$PORT/oauth2/token" > "$OUTDIR/$LABEL.sample.json"
python3 - "$OUTDIR/$LABEL.sample.json" >&2 <<'PY'
import base64, json, sys
r = json.load(open(sys.argv[1])); t = r["access_token"]
d = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, p, s = t.split(".")
print("sample:", d(h), sorted(d(p)), "token bytes", len(t), "keys", sorted(r))
PY
export CREDS="$DATA/creds.txt"
URL="$SCHEME://127.0.0.1:$PORT/oauth2/token"
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$SPID/stat"; }
for C in $CONCS; do
  "${WRK_CPU[@]}" wrk -t"$WRK_THREADS" -c"$C" -d"${WARMUP}s" -s benches/token.lua "$URL" > /dev/null
  sleep 1
  S0=($(head -1 /proc/stat)); T0=$(ticks)
  OUT=$( { /usr/bin/time -f 'WRKCPU %U %S' "${WRK_CPU[@]}" wrk -t"$WRK_THREADS" -c"$C" -d"${DURATION}s" --latency -s benches/token.lua "$URL"; } 2>&1 )
  T1=$(ticks); S1=($(head -1 /proc/stat))
  stot=0; for i in 1 2 3 4 5 6 7 8; do stot=$((stot + S1[i] - S0[i])); done
  spct() { echo "scale=1; 100*($1)/$stot" | bc -l; }
  echo "$OUT" > "$OUTDIR/$LABEL.c$C.wrk.txt"
  R=$(echo "$OUT" | grep '^RESULT')
  g() { echo "$R" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k{print $2}'; }
  REQ=$(g requests); SCPU=$(echo "($T1-$T0)/$HZ" | bc -l)
  WCPU=$(echo "$OUT" | awk '/^WRKCPU/{print $2+$3}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.2f\t%s\t%s\t%s\t%s\n' "$LABEL" "$C" "$(g rps)" "$(g p50_ms)" "$(g p90_ms)" "$(g p99_ms)" \
    "$(g max_ms)" "$(( $(g non200) + $(g no_token) ))" "$(g sock_err)" "$SCPU" "$(echo "1000000*$SCPU/$REQ" | bc -l)" "$WCPU" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(spct "${S1[4]}-${S0[4]}+${S1[5]}-${S0[5]}")" "$(spct "${S1[7]}-${S0[7]}")" "$(spct "${S1[8]}-${S0[8]}")"
done
