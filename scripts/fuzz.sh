#!/usr/bin/env bash
# Runs every fuzz target in the module, one at a time, for FUZZTIME each
# (default 30s). Usage: scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-30s}}
# Go minimises every new interesting input for up to 60 s by default, and
# counts no executions meanwhile: FuzzOpenPGP (a card per input) spent whole
# 40 s runs at "0/sec" minimising. Minimising a finding still happens, for
# at most this long; the rest of the time goes to fuzzing.
minimize=${FUZZMINIMIZETIME:-5s}
count=0
while IFS=: read -r file _ line; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg="./$(dirname "${file#./}")"
  echo "== fuzz $pkg $name for $fuzztime"
  # Go's fuzzer sometimes ends a timed run with "context deadline exceeded"
  # when a worker is slow to stop: its coordinator racing its own -fuzztime
  # deadline (golang/go#51484), not a finding (a real finding writes
  # "Failing input written"). Such a run is repeated, twice at most, with as
  # many executions as it had reached as its budget (-fuzztime Nx), which
  # has no deadline to race; cgo targets (ifd's FuzzDecode) hit the race
  # twice in a row on a busy machine.
  budget=$fuzztime
  for attempt in 1 2 3; do
    out=$(go test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$budget" -fuzzminimizetime="$minimize" 2>&1) && { echo "$out" | tail -2; break; }
    echo "$out" | tail -20
    if [ "$attempt" -lt 3 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 | grep -oE '[0-9]+' || true)
      [ -n "$execs" ] && [ "$execs" -gt 0 ] && budget="${execs}x"
      echo "== fuzz $pkg $name: deadline flake, running again for $budget"
      continue
    fi
    exit 1
  done
  count=$((count + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran for $fuzztime each, no failures"
