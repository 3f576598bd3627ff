#!/usr/bin/env bash
# Runs the Go tests verbosely into .cache/test.log and prints a digest: each
# package's result, every failure with its output, every skip with its
# reason, the report lines tests print (tear points, kills, ...), and a
# closing "N passed, N failed, N skipped" line counted over top-level tests.
# Usage: scripts/gotest.sh [go test flags] [packages]
# TESTLOG names another log file, TESTLABEL another label for the closing
# line (e.g. TESTLOG=.cache/e2e.log TESTLABEL=e2e for the end-to-end step).
# With -race, a failure also prints the number of data race reports.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
log=${TESTLOG:-.cache/test.log}
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(./...)
go test -count=1 -v "${args[@]}" >"$log" 2>&1
rc=$?
grep -E '^(ok|FAIL|panic:)|^(tear test|kill test|report):' "$log"
# Skips, with the reason line that follows each.
grep -E -A1 '^\s*--- SKIP' "$log" | grep -v '^--$' || true
if [ $rc -ne 0 ]; then
  echo "---- failing tests (full log: $log) ----"
  awk '/^=== RUN/{buf=""} {buf=buf $0 "\n"} /^\s*--- FAIL/{printf "%s", buf; buf=""}' "$log" | tail -200
  grep -E -A30 '^panic:|build failed|\[setup failed\]' "$log" | head -60
  # go test -race: how many reports; the first one whole when no failing
  # test showed it (a race found after the tests ran fails only the package).
  races=$(grep -cE '^WARNING: DATA RACE' "$log")
  if [ "$races" -gt 0 ]; then
    echo "---- $races data race report(s) (WARNING: DATA RACE in $log) ----"
    if ! grep -qE '^\s*--- FAIL' "$log"; then
      awk '/^WARNING: DATA RACE/{p=1} p{print} p && /^==================$/{exit}' "$log"
    fi
  fi
fi
pass=$(grep -cE '^--- PASS' "$log")
fail=$(grep -cE '^--- FAIL' "$log")
skip=$(grep -cE '^--- SKIP' "$log")
echo "${TESTLABEL:-unit}: $pass passed, $fail failed, $skip skipped"
exit $rc
