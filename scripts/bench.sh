#!/usr/bin/env bash
# make bench: every benchmark, several runs each, then docs/benchmarks.md and
# docs/benchmarks.json (each figure next to its goal; ratios between figures of
# this same run). Raw output is kept in .cache/bench.txt.
# BENCHCOUNT sets the runs per benchmark (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache docs
count=${BENCHCOUNT:-5}
raw=.cache/bench.txt
: >"$raw"
echo "bench: in-process benchmarks, $count runs each" >&2
go test -run='^$' -bench=. -benchmem -count="$count" ./firmware/... ./simulator/... | tee -a "$raw"
echo "bench: through pcscd (starts pcscd if needed, stops it if it started it)" >&2
rc=0
go test -tags e2e -run='^$' -bench=. -benchtime=5000x -count="$count" ./e2e/... | tee -a "$raw" || rc=$?
go run ./internal/benchreport -out docs <"$raw"
if [ "$rc" -ne 0 ]; then
  echo "bench: the pcscd benchmark failed (see above); the report lacks its row" >&2
fi
exit "$rc"
