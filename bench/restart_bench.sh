#!/usr/bin/env bash
# Snapshot and restart times (issue: durability), on this machine's disk:
#
#   bench/restart_bench.sh [BUILD_DIR] [PROFILES] [DATA_DIR] [PATCH_SECONDS]
#
# 1. `segd serve --data-dir D --load` the `segd gen` file of PROFILES
#    (default 10M), then SIGTERM: the snapshot it writes, timed by segd.
# 2. `segd serve --data-dir D`: start to ready from that snapshot.
# 3. 40 s of batches of 1,000 profiles (4 clients) beside 5-predicate
#    counts (4 clients): the log passes 512 MiB, and the snapshot thread
#    writes a snapshot while both go on; the server logs its time.
# 4. SIGTERM and a start, so that the log after the snapshot is empty; then
#    PATCH_SECONDS (default 14) of one-profile PATCHes from 64 clients
#    (--fsync always), SIGKILL, and start to ready from the snapshot plus
#    the logged writes.
set -euo pipefail
build=${1:-build}
profiles=${2:-10000000}
dir=${3:-/tmp/segd-restart-bench}
patch_seconds=${4:-14}
segd="$build/tools/segd"
data=data/bench-$profiles-42.ndjson
work=$(mktemp -d)
trap 'rm -rf "$work" "$dir"' EXIT

command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
mkdir -p data
[ -s "$data" ] || "$segd" gen --profiles "$profiles" --seed 42 --out "$data"
rm -rf "$dir"

# Starts segd serve with the given flags; sets `server` and `url`, and
# prints the seconds from start to ready.
start() {
  local log=$work/log.$RANDOM
  local begin=$(date +%s.%N)
  "$segd" serve --port 0 "$@" >"$log" 2>&1 &
  server=$!
  until grep -q '^segd: ready' "$log"; do
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
  grep -E 'recovered|loaded' "$log" || true
  awk -v b="$begin" -v e="$(date +%s.%N)" 'BEGIN { printf "start to ready: %.1f s\n", e - b }'
  last_log=$log
}

echo "== load $data, then SIGTERM (a snapshot)"
start --data-dir "$dir" --load "$data"
kill -TERM "$server"; wait "$server" || true
grep 'snapshot written' "$last_log"
ls -l "$dir"/snapshot-*.snap

echo
echo "== restart from the snapshot"
start --data-dir "$dir"

echo
echo "== a snapshot while batches and counts go on: batches until the log"
echo "   passes 512 MiB and the snapshot thread has written one"
head -n 1000 "$data" >"$work/batch.ndjson"
export SEGD_BATCH_FILE="$work/batch.ndjson"
wrk -t1 -c4 -d40s --latency -s bench/wrk/count.lua "$url/v1/query" >"$work/count.out" &
counts=$!
wrk -t1 -c4 -d40s -s bench/wrk/batch.lua "$url/v1/profiles" |
  grep -E 'Requests/sec'
wait "$counts"
echo "counts beside them:"
grep -E 'Requests/sec|50%|99%' "$work/count.out"
grep 'snapshot written' "$last_log" ||
  echo "no snapshot yet: the log stayed under 512 MiB"

echo
echo "== SIGTERM (a snapshot) and a start, so that the log after the snapshot"
echo "   holds the PATCHes alone, not step 3's last batches"
kill -TERM "$server"; wait "$server" || true
start --data-dir "$dir"

echo
echo "== $patch_seconds s of PATCHes, 64 clients, --fsync always, then SIGKILL"
export SEGD_PROFILES=$profiles
wrk -t2 -c64 -d"${patch_seconds}s" -s bench/wrk/patch.lua "$url" | grep -E 'requests in|Requests/sec'
kill -KILL "$server"; wait "$server" 2>/dev/null || true

echo
echo "== restart from the snapshot plus the log"
start --data-dir "$dir"
kill -TERM "$server"; wait "$server" || true
