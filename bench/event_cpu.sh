#!/usr/bin/env bash
# CPU per write, by thread, in a write phase of the live bench:
#
#   bench/event_cpu.sh [SEGD] [PROFILES] [DATA_DIR] [PHASE]
#
# Runs `segd bench --sections live --write-seconds 8` (defaults: build's
# segd, 10,000,000 profiles, /tmp/segd for the generated data), reads every
# thread's user and system ticks (/proc/PID/task/*/stat, fields 14 and 15)
# when PHASE begins and when it ends, sums them by thread name
# (segd-commit, segd-merge, ...), and divides by the writes of the phase.
# PHASE is `events` (event appends in batches of 1,000; the default) or
# `batches` (batches of 1,000 profiles). The rest of the process's ticks
# (its own stat, which keeps those of threads that have ended) are the
# query loop's, oneTBB's workers' and the main thread's: "others". It
# prints the bench's lines on resident memory (after the writes, and the
# run's peak) too.
set -euo pipefail
segd=${1:-build/tools/segd}
profiles=${2:-10000000}
data=${3:-/tmp/segd}
phase=${4:-events}
case $phase in
  events) start="live: batches" end="live: events in batches" what="an event" ;;
  batches) start="live: one-profile writes" end="live: batches" what="a profile" ;;
  *) echo "PHASE is events or batches, not $phase" >&2; exit 2 ;;
esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$segd" bench --profiles "$profiles" --data-dir "$data" --sections live \
  --write-seconds 8 --report /dev/null >"$out" 2>&1 &
pid=$!
ticks() {
  for task in /proc/"$pid"/task/*; do
    name=$(cat "$task"/comm)
    case $name in segd-*) echo "$name $(awk '{print $14 + $15}' "$task"/stat)" ;; esac
  done | awk '{t[$1] += $2} END {for (k in t) print k, t[k]}'
  echo "~process $(awk '{print $14 + $15}' /proc/"$pid"/stat)"
}
wait_for() {
  until grep -q "$1" "$out"; do
    kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; exit 1; }
    sleep 0.1
  done
}
wait_for "$start"
before=$(ticks)
wait_for "$end"
after=$(ticks)
wait "$pid"
grep "^$end\|resident" "$out"
writes=$(grep "^$end" "$out" | grep -o '1,000: [0-9]*' | grep -o '[0-9]*$')
export LC_ALL=C
join <(echo "$before" | sort) <(echo "$after" | sort) |
  awk -v n="$writes" -v what="$what" -v hz="$(getconf CLK_TCK)" '
    function row(name, s) {
      printf "%-16s %6.2f s  %5.2f us %s (at %d/s over 8 s)\n", name, s, s * 1e6 / (n * 8), what, n
    }
    $1 == "~process" { total = ($3 - $2) / hz; next }
    { s = ($3 - $2) / hz; named += s; if (s > 0) row($1, s) }
    END { row("others", total - named) }'
