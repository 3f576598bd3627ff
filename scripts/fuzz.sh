#!/usr/bin/env bash
# Runs every fuzz target in the module, one at a time, for FUZZTIME each
# (default 30s). Usage: scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-30s}}
count=0
while IFS=: read -r file _ line; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  echo "== fuzz $pkg $name for $fuzztime"
  go test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime"
  count=$((count + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran for $fuzztime each, no failures"
