#!/usr/bin/env bash
# Measures gotta report's speed-up from 1 to N workers (default 2) in one command: the report (default --quick) from
# an empty results folder with --workers 1, then with --workers N, then checks that both wrote the same records (but
# for their seconds). Extra arguments go to both runs instead of --quick, e.g. `bash scripts/workers_speedup.sh 2` for
# the quick report or `bash scripts/workers_speedup.sh 2 --suite seed` for the full one (about 16 minutes on 2
# cores). Prints the machine's load before each run: timings on a shared machine are only as good as its load.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"
shift || true
args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--quick); fi
export GOFLAGS=-mod=mod GOMLX_BACKEND="${GOMLX_BACKEND:-go}" GOMLX_NO_AUTO_INSTALL=1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gotta" ./cmd/gotta
declare -A secs
for w in 1 "$workers"; do
  echo "== gotta report ${args[*]} --workers $w (load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
  start=$(date +%s.%N)
  "$tmp/gotta" report "${args[@]}" --workers "$w" --results "$tmp/w$w/results" --out "$tmp/w$w/report.html" \
    >"$tmp/w$w.log" 2>&1 || { cat "$tmp/w$w.log"; exit 1; }
  secs[$w]=$(echo "$(date +%s.%N) - $start" | bc)
  grep -E "examples computed|took" "$tmp/w$w.log"
  (cd "$tmp/w$w/results" && find . -name '*.jsonl' | sort | while read -r f; do
    echo "== $f"; sed -E 's/"seconds":[-0-9.eE+]+//' "$f"; done) >"$tmp/w$w.records"
done
if cmp -s "$tmp/w1.records" "$tmp/w$workers.records"; then same="identical"; else same="DIFFERENT"; fi
echo "workers 1: ${secs[1]} s; workers $workers: ${secs[$workers]} s; speed-up $(echo "scale=2; ${secs[1]} / ${secs[$workers]}" | bc)x; records $same (load now: $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$same" = identical ]
