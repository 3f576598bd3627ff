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
  # Go's fuzzer sometimes ends a short run with "context deadline exceeded"
  # when a worker is slow to stop: a toolchain flake, not a finding (a real
  # finding writes "Failing input written"). Such a run is repeated, twice at
  # most: with two dozen targets, one repeat left a double flake too likely.
  for attempt in 1 2 3; do
    out=$(go test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" 2>&1) && { echo "$out" | tail -2; break; }
    echo "$out" | tail -20
    if [ "$attempt" -lt 3 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "== fuzz $pkg $name: deadline flake, running again"
      continue
    fi
    exit 1
  done
  count=$((count + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran for $fuzztime each, no failures"
