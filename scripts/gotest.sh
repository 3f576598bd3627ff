#!/usr/bin/env bash
# Runs the Go tests with `go test -json` and prints a digest (made by
# internal/testsummary from the event stream): each package's result, every
# failure with its output, every skip with its reason, the report lines
# tests print (tear points, kills, ...), the number of data race reports
# when -race found any, and a closing "N passed, N failed, N skipped" line
# counted over top-level tests.
# Logs: .cache/test.json (the event stream) and .cache/test.log (the same
# run as plain text, as `go test -v` prints it).
# Usage: scripts/gotest.sh [go test flags] [packages]
# TESTLOG names another plain-text log (its .json twin sits next to it),
# TESTLABEL another label for the closing line (e.g. TESTLOG=.cache/e2e.log
# TESTLABEL=e2e for the end-to-end step).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
mkdir -p .cache
log=${TESTLOG:-.cache/test.log}
json=${log%.log}.json
[ "$json" = "$log" ] && json=$log.json
stderr=${log%.log}.stderr
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(./...)
# Built first, so that a broken tree elsewhere cannot stop the digest.
summary=.cache/testsummary
if ! go build -o "$summary" ./internal/testsummary; then
  echo "gotest: cannot build internal/testsummary" >&2
  exit 2
fi
go test -count=1 -json "${args[@]}" >"$json" 2>"$stderr"
rc=$?
"$summary" -json "$json" -stderr "$stderr" -log "$log" -label "${TESTLABEL:-unit}" || rc=2
rm -f "$stderr"
exit $rc
