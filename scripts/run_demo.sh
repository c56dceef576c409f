#!/usr/bin/env bash
# `make run`: makes a sample dataset (once), starts `segd serve` on it and
# shows, with curl, a segment saved, its count and preview, a membership
# check and a write that changes the count. The server then keeps running
# until Ctrl-C, which stops it cleanly.
set -euo pipefail
build=${1:-build}
segd="$build/tools/segd"
profiles=${SEGD_DEMO_PROFILES:-1000000}
port=${SEGD_PORT:-8080}
data=data/sample-$profiles.ndjson
url=http://127.0.0.1:$port

mkdir -p data
if [ ! -s "$data" ]; then
  echo "Generating $profiles profiles into $data (once; later runs reuse it) ..."
  "$segd" gen --profiles "$profiles" --seed 42 --out "$data.tmp"
  mv "$data.tmp" "$data"
fi

if curl -s -o /dev/null "$url/healthz"; then
  echo "Port $port is taken; run SEGD_PORT=8090 make run to use another." >&2
  exit 1
fi

# The server keeps its data in data/segd: a later run starts from what the
# last one saved (its snapshot and log) instead of loading the sample again.
load=(--load "$data")
if ls data/segd/snapshot-*.snap >/dev/null 2>&1; then
  echo "Starting from data/segd, saved by the last run (rm -rf data/segd to start over)"
  load=()
fi
"$segd" serve --port "$port" --data-dir data/segd "${load[@]}" &
server=$!
stop() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# /healthz answers 503 while the sample loads.
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; do
  kill -0 "$server" 2>/dev/null || { echo "segd serve stopped" >&2; exit 1; }
  sleep 0.5
done

step() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Save a segment: leads in Pune, Mumbai or Nagpur"
show curl -s -X PUT "$url/v1/segments/west-leads" -d '{
  "description": "Leads in Pune, Mumbai or Nagpur",
  "rule": {"all": [{"field": "customer_type", "op": "eq", "value": "lead"},
                   {"field": "city", "op": "in", "value": ["Pune", "Mumbai", "Nagpur"]}]}}'

step "Its count and a preview of 3 members"
preview=$(curl -s -X POST "$url/v1/query" \
  -d '{"rule": {"segment": "west-leads"}, "limit": 3, "fields": ["name", "city", "email"]}')
printf '$ curl -s -X POST %s/v1/query -d '\''{"rule": {"segment": "west-leads"}, "limit": 3, ...}'\''\n%s\n' \
  "$url" "$preview"
first=$(printf '%s' "$preview" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)

step "Is $first in the segment?"
show curl -s "$url/v1/segments/west-leads/members/$first"

step "A write: $first moves to Delhi, and the count changes at once"
show curl -s -X PATCH "$url/v1/profiles/$first" -d '{"city": "Delhi"}'
show curl -s "$url/v1/segments/west-leads/members/$first"
show curl -s "$url/v1/segments/west-leads"

step "Which segments is $first in now? (none)"
show curl -s "$url/v1/profiles/$first/segments"

cat <<EOF

segd is serving $profiles profiles at $url
Try more:
  curl -s $url/v1/segments
  curl -s "$url/v1/segments/west-leads/members?format=csv&limit=5"
  curl -s -X POST $url/v1/report -d '{"group_by": "city", "limit": 5}'
  curl -s "$url/v1/search?q=patil&limit=3"
The API: api/openapi.json. Ctrl-C stops the server.
EOF
wait "$server"
