#!/usr/bin/env bash
# What the operating features cost on the token endpoint (issue #11's figures), back to back in
# one run, same load: the default server (metrics on, warn-level logs), then each variant.
#   base         metrics on, logs at warn (no line per request), plain HTTP: as shipped
#   no-metrics   [metrics] enabled = false
#   json-logs    TESSERA_LOG=info, log_format = json: one JSON line per request (to a file)
#   tls          HTTPS (rustls, TLS 1.3, P-256 certificate; wrk keeps its connections alive)
# Prints token.sh's TSV lines; read the ratios of each variant to the base run of its round.
#
# Usage: benches/overhead.sh        env: ROUNDS (default 2), VARIANTS (default all four, e.g.
#        "base tls"), ALG (default ES256), PIN (1: server and wrk on separate CPUs), as token.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-2}"; VARIANTS="${VARIANTS:-base no-metrics json-logs tls}"
export CONCS="${CONCS:-32}" ALG="${ALG:-ES256}"
for r in $(seq 1 "$ROUNDS"); do
  for v in $VARIANTS; do
    case "$v" in
      base) benches/token.sh "base-r$r" ;;
      no-metrics) EXTRA_TOML='[metrics]\nenabled = false\n' benches/token.sh "no-metrics-r$r" ;;
      json-logs) SERVER_LOG=info LOG_FORMAT=json benches/token.sh "json-logs-r$r" ;;
      tls) TLS=1 benches/token.sh "tls-r$r" ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
  done
done
