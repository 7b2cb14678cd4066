#!/usr/bin/env bash
# Property-based API fuzzing: Schemathesis (from PyPI, in a venv under the
# target directory) runs every operation of the server's generated OpenAPI
# against the real server on SQLite, authenticated as a visitor (website key
# and session token) and as an operator (bearer token), with rate limits
# lifted and a bounded number of examples per operation. Any server error,
# undocumented status code or response that does not match its schema fails.
#   NATTER_FUZZ_EXAMPLES (default 25) sets the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
venv="$target/fuzz-venv"
. scripts/py-venv.sh
py_venv "$venv" st "schemathesis==4.32.5"
cargo build -q -p natter-server --locked

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$target/debug/natter-server" --addr "127.0.0.1:$port" --data-dir "$dir" \
  --rate-per-ip 1000000000 --rate-per-website 1000000000 \
  --auth-rate-per-ip 1000000000 --auth-rate-per-email 1000000000 \
  --static-dir www --pkg-dir pkg >"$dir/server.log" 2>&1 &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"; }
trap stop EXIT
for _ in $(seq 1 300); do
  grep -q "Natter is running" "$dir/server.log" && break
  kill -0 "$server" 2>/dev/null || { cat "$dir/server.log"; exit 1; }
  sleep 0.1
done
base="http://127.0.0.1:$port"
field() { sed -n "s/.*$1[[:space:]]\+\([^[:space:]]\+\).*/\1/p" "$dir/server.log" | head -1; }
website_token=$(field "demo website token")
admin_email=$(field "admin login")
admin_password=$(field "admin password")
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

session=$(curl -sf -X POST "$base/api/public/chat/sessions" -H "X-API-Key: $website_token" \
  -H 'Content-Type: application/json' -d '{"userSessionId": "fuzzing-visitor"}')
session_token=$(json '["data"]["token"]' <<<"$session")
export NATTER_FUZZ_SESSION_ID NATTER_FUZZ_WEBSITE_TOKEN="$website_token"
NATTER_FUZZ_SESSION_ID=$(json '["data"]["sessionId"]' <<<"$session")
access_token=$(curl -sf -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\": \"$admin_email\", \"password\": \"$admin_password\"}" | json '["access_token"]')

# Logging out would end the operator's token for the rest of the run, and the
# room stream is a WebSocket: the socket fuzz test covers it.
"$venv/bin/st" --config-file scripts/schemathesis.toml run "$base/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${NATTER_FUZZ_EXAMPLES:-25}" --seed 20261124 --workers 2 --request-timeout 10 \
  --exclude-path /api/v1/auth/logout --exclude-path '/api/rooms/{id}/chat' \
  -H "X-API-Key: $website_token" -H "X-Session-Token: $session_token" -H "Authorization: Bearer $access_token" -H "Auth-Widget: $session_token" \
  --no-color --warnings off ${NATTER_FUZZ_ARGS:-}
