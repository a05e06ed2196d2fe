#!/usr/bin/env bash
# Runs tessera and the sample payments API side by side on a fresh data directory, gets a token,
# calls the API with it, deletes the secret and shows the API refusing the token within a second.
# Usage: examples/payments-api/demo.sh   (from the repository root; needs cargo, curl, python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p tessera -p payments-api
BIN=target/release
DATA=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$DATA"' EXIT
export TESSERA_DATABASE_URL="sqlite://$DATA/tessera.db"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

$BIN/tessera serve --listen 127.0.0.1:18080 > "$DATA/tessera.out" 2> "$DATA/tessera.log" &
until curl -sf http://127.0.0.1:18080/readyz > /dev/null; do sleep 0.1; done

T=$($BIN/tessera tenant create --name Shop | json '["id"]')
APP=$($BIN/tessera app create --tenant "$T" --name checkout --role merchant | json '["client_id"]')
SECRET_JSON=$($BIN/tessera secret create --app "$APP" --name primary)
SECRET=$(echo "$SECRET_JSON" | json '["secret"]'); SECRET_ID=$(echo "$SECRET_JSON" | json '["id"]')
RS=$($BIN/tessera app create --tenant "$T" --name payments-api --role resource-server | json '["client_id"]')
RS_SECRET=$($BIN/tessera secret create --app "$RS" --name feed | json '["secret"]')
sleep 0.5   # the server picks up CLI changes within a second

PAYMENTS_FEED_CLIENT_ID=$RS PAYMENTS_FEED_CLIENT_SECRET=$RS_SECRET \
  $BIN/payments-api --issuer http://127.0.0.1:18080 --audience http://127.0.0.1:18080 \
  --listen 127.0.0.1:18090 > "$DATA/api.out" &
until curl -s -o /dev/null http://127.0.0.1:18090/whoami; do sleep 0.1; done

TOKEN=$(curl -s -u "$APP:$SECRET" -d grant_type=client_credentials \
  http://127.0.0.1:18080/oauth2/token | json '["access_token"]')
echo "GET /batches with the token:"
curl -s -w '  -> %{http_code}\n' -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18090/batches
echo "POST /transactions (needs transactions:process, which a merchant lacks):"
curl -s -w '  -> %{http_code}\n' -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18090/transactions
$BIN/tessera secret delete --app "$APP" "$SECRET_ID" > /dev/null
sleep 1
echo "GET /batches one second after the secret was deleted:"
curl -s -w '  -> %{http_code}\n' -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18090/batches
