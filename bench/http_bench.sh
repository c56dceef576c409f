#!/usr/bin/env bash
# The server's figures (issue: the server), with wrk on loopback, client and
# server on the same two cores, each figure with the rest of the server idle:
#
#   bench/http_bench.sh [BUILD_DIR] [SECONDS]
#
# Uses data/sample-1000000.ndjson (made by `make run`, or here). Prints each
# figure with the wrk command behind it, then the in-process baseline of
# `segd bench --sections server` on the same data. The server runs without a
# write-ahead log, as the baseline does; bench/durability_bench.sh measures
# what the log costs.
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
segd="$build/tools/segd"
data=data/sample-1000000.ndjson
work=$(mktemp -d)

command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
mkdir -p data
[ -s "$data" ] || "$segd" gen --profiles 1000000 --seed 42 --out "$data"

"$segd" serve --port 0 --load "$data" >"$work/log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
until grep -q 'listening on' "$work/log"; do sleep 0.2; done
url=$(grep -o 'http://[0-9.:]*' "$work/log" | head -1)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; do
  sleep 0.5
done
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$server/status"; }

curl -s -o /dev/null -X PUT "$url/v1/segments/west-leads" -d '{"rule": {"all": [
  {"field": "customer_type", "op": "eq", "value": "lead"},
  {"field": "city", "op": "in", "value": ["Pune", "Mumbai", "Nagpur"]}]}}'

head -n 1000 "$data" >"$work/batch.ndjson"
export SEGD_BATCH_FILE="$work/batch.ndjson"
lua=bench/wrk

run() {
  local title=$1; shift
  echo
  echo "== $title"
  echo "\$ wrk $*"
  wrk "$@" | grep -E 'Requests/sec|Latency|99%|Non-2xx|Socket errors|requests in'
}
run "contains, 64 keep-alive clients" -t2 -c64 -d"${seconds}s" --latency \
  -s "$lua/contains.lua" "$url"
run "query preview of 20, no count, 3-predicate rule, 64 clients" -t2 -c64 \
  -d"${seconds}s" --latency -s "$lua/preview.lua" "$url/v1/query"
run "query count, 5-predicate rule, 16 clients" -t1 -c16 -d"${seconds}s" \
  --latency -s "$lua/count.lua" "$url/v1/query"
run "batches of 1,000 profiles (x1000 for profiles/s), 4 clients" -t1 -c4 \
  -d"${seconds}s" --latency -s "$lua/batch.lua" "$url/v1/profiles"

echo
echo "== 1,000 idle keep-alive connections, then one request on each"
python3 - "$url" <<'EOF'
import socket, sys
host, port = sys.argv[1].split("//")[1].split(":")
conns = [socket.create_connection((host, int(port))) for _ in range(1000)]
req = b"GET /v1/segments/west-leads HTTP/1.1\r\nHost: x\r\n\r\n"
for c in conns: c.sendall(req)
ok = 0
for c in conns:
    c.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk: break
        data += chunk
    ok += data.startswith(b"HTTP/1.1 200")
print(f"answered 200: {ok} of {len(conns)}")
EOF

echo
echo "== members export of west-leads as NDJSON, streamed"
before=$(rss)
curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s\n' \
  "$url/v1/segments/west-leads/members?format=ndjson" | tee "$work/export"
after=$(rss)
members=$(curl -s "$url/v1/segments/west-leads" | grep -o '"count":[0-9]*' | cut -d: -f2)
awk -v m="$members" -v b="$before" -v a="$after" '{
  printf "%d members, %.2fM members/s; server RSS %+.1f MB\n", m, m / $4 / 1e6, (a - b) / 1e6 }' "$work/export"
echo "== everyone (all profiles) as NDJSON"
curl -s -X PUT "$url/v1/segments/everyone" -d '{"rule": {"all": []}}' >/dev/null
before=$(rss)
curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s\n' \
  "$url/v1/segments/everyone/members?format=ndjson" | tee "$work/export"
after=$(rss)
awk -v m=1000000 -v b="$before" -v a="$after" '{
  printf "%d members, %.2fM members/s; server RSS %+.1f MB\n", m, m / $4 / 1e6, (a - b) / 1e6 }' "$work/export"

kill -TERM $server; wait $server 2>/dev/null || true
echo
[ -e data/bench-1000000-42.ndjson ] ||
  ln -s sample-1000000.ndjson data/bench-1000000-42.ndjson
echo "== in-process baseline: $segd bench --profiles 1000000 --sections server"
"$segd" bench --profiles 1000000 --data-dir data --sections server 2>/dev/null |
  grep -v '^generating'
