#!/usr/bin/env bash
# A million merchants on one node (#13): seeds N merchants (one tenant, application and secret
# each) with tessera-bench-seed --bulk into a SQLite database kept under $DIR (reused when it is
# there), then per round starts `tessera serve` on it and reports the seconds until /readyz is
# 200, RSS and peak RSS after start-up, and token throughput with requests spread over 1,000
# clients and over all N, back to back on the same server; then deletes one merchant's
# application with the CLI and reports how long until the server refuses its credentials.
# STORE=postgres copies the seeded rows into a throwaway PostgreSQL cluster (Debian's binaries, as
# the test kit runs them; COPY from the SQLite database) and serves from that instead.
#
# Usage: benches/scale.sh      env: N (default 1000000), DIR (default target/scale), ROUNDS (2),
#                              DURATION (12), PORT (18181), STORE (sqlite | postgres),
#                              BINS (default target/release/tessera)
# BINS="OLD/tessera target/release/tessera" serves each round with each binary in turn, on the
# same database: an A/B of two builds (the CLI steps use this tree's binary).
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
SERVE_DB="$DB"
if [ "${STORE:-sqlite}" = postgres ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); PGRUN=()
  PG="$DIR/pg"; rm -rf "$PG"; mkdir -p "$PG"
  [ "$(id -u)" = 0 ] && { PGRUN=(runuser -u postgres --); chown postgres "$PG"; }
  PGPORT=$((PORT + 1000))
  "${PGRUN[@]}" "$PGBIN/initdb" -A trust -U tessera -D "$PG" --no-sync > /dev/null
  "${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$PG" -l "$PG/log" -w \
    -o "-p $PGPORT -k $PG -c listen_addresses=127.0.0.1 -c shared_buffers=512MB" start > /dev/null
  trap '"${PGRUN[@]}" "$PGBIN/pg_ctl" -D "$PG" -m fast stop > /dev/null 2>&1 || true' EXIT
  "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U tessera tessera
  SERVE_DB="postgres://tessera@127.0.0.1:$PGPORT/tessera"
  target/release/tessera --database "$SERVE_DB" tenant list > /dev/null   # the schema
  psql() { "$PGBIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U tessera tessera "$@"; }
  copy() {   # table, columns, the SELECT that reads them from SQLite
    sqlite3 -csv "$DIR/m$N.db" "$3" | psql -c "\\copy $1 ($2) FROM STDIN WITH (FORMAT csv)"
  }
  t0=$(date +%s)
  copy tenants "id, name, kind, parent_id, status, created_at, seq" \
    "SELECT id, name, kind, parent_id, status, created_at, seq FROM tenants"
  copy applications "client_id, tenant_id, name, role, status, created_at, seq" \
    "SELECT client_id, tenant_id, name, role, status, created_at, seq FROM applications"
  copy secrets "id, client_id, name, digest, created_at, expires_at, deleted, seq" \
    "SELECT id, client_id, name, '\x' || lower(hex(digest)), created_at, expires_at, deleted, seq FROM secrets"
  copy secret_usage "secret_id, last_used_at" "SELECT secret_id, last_used_at FROM secret_usage"
  psql -c "UPDATE change_seq SET value = GREATEST(value, 1) WHERE id = 1" -c "VACUUM ANALYZE"
  echo "postgres: copied $N merchants in $(( $(date +%s) - t0 )) s" >&2
fi
for r in $(seq 1 "$ROUNDS"); do for bin in ${BINS:-target/release/tessera}; do
  start=$(date +%s.%N)
  "$bin" --database "$SERVE_DB" serve --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
  pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; do sleep 0.05; done
  ready=$(echo "$(date +%s.%N) - $start" | bc)
  sleep 2
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"); hwm=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
  echo -e "round=$r\tbin=$bin\tready_s=$ready\trss_mib=$rss\tpeak_mib=$hwm"
  for creds in auth1k.txt "auth$N.txt"; do
    CREDS="$DIR/$creds" wrk -t1 -c32 -d3s -s benches/token.lua "http://127.0.0.1:$PORT" > /dev/null 2>&1
    line=$(CREDS="$DIR/$creds" wrk -t1 -c32 -d"${DURATION}s" -s benches/token.lua "http://127.0.0.1:$PORT" 2>&1 | grep RESULT)
    echo -e "round=$r\tspread=$creds\t$line"
  done
  # One merchant deleted with the CLI, the clock started before the command: until a token
  # request with its credentials is refused.
  # A merchant still there: earlier rounds (and runs) deleted some.
  token() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $basic" \
    -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth2/token"; }
  for _ in 1 2 3 4 5 6 7 8; do
    basic=$(sed -n "$(shuf -n1 -i "1-$N")p" "$DIR/auth$N.txt")
    [ "$(token)" = 200 ] && break
  done
  [ "$(token)" = 200 ] || { echo "no live merchant found to delete" >&2; exit 1; }
  client=$(echo "${basic#Basic }" | base64 -d | cut -d: -f1)
  start=$(date +%s.%N)
  target/release/tessera --database "$SERVE_DB" app delete "$client" > /dev/null
  cli=$(echo "$(date +%s.%N) - $start" | bc)
  until [ "$(token)" = 401 ]; do sleep 0.01; done
  echo -e "round=$r\tdelete_cli_s=$cli\tdelete_refused_s=$(echo "$(date +%s.%N) - $start" | bc)"
  kill "$pid"; wait "$pid" 2> /dev/null || true
done; done
