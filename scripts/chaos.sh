#!/usr/bin/env bash
# The chaos suite: a real nats-server process and three worker processes;
# 540 runs of mixed shapes; a random worker SIGKILLed every 500 ms; the
# server SIGSTOPped for 5-10 s twice and SIGKILLed and restarted twice.
# Prints the counts; exits non-zero if any run was lost or wrong, a history
# is malformed, or an activity ran after its outcome was recorded.
#
# Environment (all optional): CHAOS_RUNS, CHAOS_SEED, CHAOS_FAULT_SECONDS,
# CHAOS_RECOVERY_SECONDS, CHAOS_ARTIFACTS (kept: the store, the server and
# worker logs, the attempts logs, histories of failing runs; default: a new
# temporary directory, removed when the suite passes).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=${CHAOS_ARTIFACTS:-}
export CHAOS_ARTIFACTS=${CHAOS_ARTIFACTS:-$(mktemp -d -t df-chaos-XXXXXX)}
out="$CHAOS_ARTIFACTS/go-test.log"
mkdir -p "$CHAOS_ARTIFACTS"

start=$(date +%s)
status=0
go test -tags chaos -count=1 -timeout 8m -v -run 'TestChaos$' ./internal/chaos/ >"$out" 2>&1 || status=$?
# The counts, the fault schedule and, on failure, the problems.
grep -E 'chaos: |chaos_test.go:[0-9]+: [^ ]|^(--- |ok|FAIL|PASS|panic)' "$out" | sed -e 's/^ *chaos_test.go:[0-9]*: //' || true
echo "chaos: wall time $(( $(date +%s) - start ))s (build included)"
if [ "$status" -ne 0 ]; then
  echo "chaos: FAILED; artifacts (store, logs, attempts, histories, go-test.log) in $CHAOS_ARTIFACTS"
  echo "chaos: inspect a run: nats-server -js -sd $CHAOS_ARTIFACTS/store -p 4333 & go run ./cmd/dfctl -s nats://127.0.0.1:4333 show <workflow-id>"
  exit "$status"
fi
if [ -z "$keep" ]; then
  rm -rf "$CHAOS_ARTIFACTS"
fi
