#!/usr/bin/env bash
# Runs tessera's token benchmark and the bare reference endpoint (../shared/ceiling) back to back
# with the same load, connections and machine, for ES256 and EdDSA, and prints the TSV lines.
# The ceiling is copied to $CEILING_DIR (default /tmp/ceiling) and built there, outside the shared
# folder. Needs wrk, time and bc (apt-get install -y wrk time bc).
#
# Usage: benches/compare.sh            env: ROUNDS (default 2), CONCS (default "32"), as token.sh
#   CEILING_LTO=1 builds the ceiling with tessera's release profile (fat LTO, one codegen unit)
#   instead of its own, in /tmp/ceiling-lto, to tell what the profile alone is worth.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-2}"; export CONCS="${CONCS:-32}"
if [ "${CEILING_LTO:-0}" = 1 ]; then
  CEILING_DIR="${CEILING_DIR:-/tmp/ceiling-lto}"
  export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
fi
CEILING_DIR="${CEILING_DIR:-/tmp/ceiling}"
if [ ! -x "$CEILING_DIR/target/release/tokensrv" ]; then
  rm -rf "$CEILING_DIR" && cp -r ../shared/ceiling "$CEILING_DIR" && chmod -R u+w "$CEILING_DIR"
  (cd "$CEILING_DIR" && cargo build --release -q && ./keys.sh > /dev/null)
fi
unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
for r in $(seq 1 "$ROUNDS"); do
  for alg in ES256 EdDSA; do
    mode=$(echo "$alg" | tr 'A-Z' 'a-z')
    "$CEILING_DIR/wait_idle.sh" 120 >&2 || true
    (cd "$CEILING_DIR" && OUTDIR=runs/tessera-compare ./bench_http.sh "ceiling-$mode-r$r" --mode "$mode" --signer raw)
    "$CEILING_DIR/wait_idle.sh" 120 >&2 || true
    ALG="$alg" benches/token.sh "tessera-$mode-r$r"
  done
done
