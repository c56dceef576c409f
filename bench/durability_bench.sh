#!/usr/bin/env bash
# The write-ahead log's cost (issue: durability), with wrk on loopback,
# client and server on the same two cores, on this machine's own disk:
#
#   bench/durability_bench.sh [BUILD_DIR] [SECONDS] [DATA_DIR_PARENT]
#
# For each of: no log (no --data-dir), --fsync no, everysec and always,
# starts `segd serve` on data/sample-1000000.ndjson and measures one-profile
# writes (PATCH of a random profile) from 64 keep-alive clients, then
# batches of 1,000 profiles (replacing existing ones) from 4 clients.
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
parent=${3:-data}
segd="$build/tools/segd"
data=data/sample-1000000.ndjson
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
[ -s "$data" ] || "$segd" gen --profiles 1000000 --seed 42 --out "$data"
head -n 1000 "$data" >"$work/batch.ndjson"
export SEGD_BATCH_FILE="$work/batch.ndjson"
lua=bench/wrk

for mode in none no everysec always; do
  dir="$parent/durability-bench-$mode"
  rm -rf "$dir"
  args=(serve --port 0 --load "$data")
  [ "$mode" = none ] || args+=(--data-dir "$dir" --fsync "$mode")
  "$segd" "${args[@]}" >"$work/log" 2>&1 &
  server=$!
  until grep -q 'listening on' "$work/log"; do sleep 0.2; done
  url=$(grep -o 'http://[0-9.:]*' "$work/log" | head -1)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; do
    sleep 0.5
  done
  echo
  echo "== log: $mode"
  echo "\$ wrk -t2 -c64 -d${seconds}s --latency -s bench/wrk/patch.lua $url"
  wrk -t2 -c64 -d"${seconds}s" --latency -s "$lua/patch.lua" "$url" |
    grep -E 'Requests/sec|99%|Non-2xx'
  echo "\$ wrk -t1 -c4 -d${seconds}s --latency -s bench/wrk/batch.lua $url/v1/profiles  (x1000 profiles)"
  wrk -t1 -c4 -d"${seconds}s" --latency -s "$lua/batch.lua" "$url/v1/profiles" |
    grep -E 'Requests/sec|99%|Non-2xx'
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
done
