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
# Everything but BenchmarkKeygen (top-level names not starting "Ke"), then
# the key generations: RSA-4096 takes about half a second a key, so it gets
# a fixed 3 keys a run (its spread over the runs is still reported).
go test -run='^$' -bench='^Benchmark([^K]|K[^e])' -benchmem -count="$count" ./firmware/... ./simulator/... ./ifd/... | tee -a "$raw"
go test -run='^$' -bench='^BenchmarkKeygen$/^(P-256|RSA-2048)$' -benchmem -count="$count" ./firmware/piv/ | tee -a "$raw"
go test -run='^$' -bench='^BenchmarkKeygen$/^RSA-4096$' -benchtime=3x -benchmem -count="$count" ./firmware/piv/ | tee -a "$raw"

# The exhaustive tear tests, timed once from the command line after a build
# that leaves only the test binaries' start to the clock; reported as a
# synthetic benchmark line: wall-clock ns, and the time the test binaries
# themselves report ("ok pkg 0.021s"), summed.
echo "bench: the exhaustive tear tests" >&2
go test -count=1 -run='^$' ./firmware/... >/dev/null
start=$(date +%s%N)
tear=$(go test -count=1 -run='Tear' ./firmware/...)
end=$(date +%s%N)
echo "$tear" >&2
inside=$(awk '$1 == "ok" && $3 ~ /s$/ { sub(/s$/, "", $3); t += $3 } END { printf "%.3f", t * 1000 }' <<<"$tear")
echo "BenchmarkTearTests 1 $((end - start)) ns/op $inside in-tests-ms" | tee -a "$raw"

# Through pcscd: each invocation starts pcscd if needed, and stops it if it
# started it. vicc answers about 20 APDU/s: 50 exchanges a run.
echo "bench: through pcscd" >&2
rc=0
go test -tags e2e -run='^$' -bench='ThroughPCSCD$' -benchtime=5000x -count="$count" ./e2e/... | tee -a "$raw" || rc=$?
go test -tags e2e -run='^$' -bench='^BenchmarkGetVersionVsVICC$' -benchtime=50x -count="$count" ./e2e/... | tee -a "$raw" || rc=$?
go test -tags e2e -run='^$' -bench='^BenchmarkStartUp$' -benchtime=5x -count="$count" ./e2e/... | tee -a "$raw" || rc=$?
go run ./internal/benchreport -out docs <"$raw"
if [ "$rc" -ne 0 ]; then
  echo "bench: a pcscd benchmark failed (see above); the report lacks its row" >&2
fi
exit "$rc"
