#!/usr/bin/env bash
# CPU per request, by thread, of a running segd under a wrk load:
#
#   bench/thread_cpu.sh PID wrk [WRK_ARGS...]
#
# for example, against `segd serve --data-dir D` on the 1M sample:
#
#   bench/thread_cpu.sh $(pgrep -x segd) wrk -t2 -c64 -d6s --latency \
#     -s bench/wrk/patch.lua http://127.0.0.1:8080
#
# Reads every thread's user and system ticks (/proc/PID/task/*/stat, fields
# 14 and 15) before and after the wrk run, sums them by thread name (segd
# names its threads: segd-io, segd-commit, segd-sync, segd-merge, ...) and
# divides by the requests wrk made. Threads under 0.5 µs a request are left
# out.
set -euo pipefail
pid=$1
shift
ticks() {
  for task in /proc/"$pid"/task/*; do
    echo "$(tr ' ' '_' <"$task/comm") $(cut -d' ' -f14,15 "$task/stat")"
  done | awk '{u[$1] += $2; s[$1] += $3} END {for (k in u) print k, u[k], s[k]}' |
    sort
}
before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
ticks >"$before"
out=$("$@")
ticks >"$after"
echo "$out" | grep -E 'Requests/sec|99%' || true
requests=$(echo "$out" | awk '/requests in/ {print $1}')
join "$before" "$after" | awk -v r="$requests" -v hz="$(getconf CLK_TCK)" '{
  user = ($4 - $2) * 1e6 / hz / r
  sys = ($5 - $3) * 1e6 / hz / r
  if (user + sys >= 0.5)
    printf "%-16s %6.1f µs a request (user %.1f, system %.1f)\n", $1, user + sys, user, sys
}'
