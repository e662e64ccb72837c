#!/usr/bin/env bash
# Runs every system test (Tests/system/tests/*.sh), each in a sandbox of its own, and
# prints "N passed, N failed". Usage: run.sh BINARY [TEST...]
set -u
export BIN=$(readlink -f "$1")
cd "$(dirname "$0")"; shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/*.sh)
total_passed=0
total_failed=0
for test in "${tests[@]}"; do
    echo "== $test"
    summary=$(mktemp)
    ( source ./lib.sh
      trap 'sandbox_down; echo "$PASSED $FAILED" >"'"$summary"'"' EXIT
      sandbox_up
      source "$test" )
    read -r p f <"$summary" || { p=0; f=1; echo "  FAIL  $test did not finish"; }
    rm -f "$summary"
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
done
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
