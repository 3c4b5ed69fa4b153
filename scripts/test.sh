#!/usr/bin/env bash
# The one test command: static checks, the whole suite with the race
# detector, then an end-to-end run of the built dfctl binary against a
# `dfctl dev --examples` server. Needs only Go; every server is embedded.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "go vet"
go vet ./...

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go test -race ./..."
go test -race -count=1 -timeout 12m ./...

step "10,000 durable timers (alone, without -race: it measures lateness)"
DF_HEAVY=1 go test -count=1 -timeout 5m -run 'TestTenThousandTimers' -v ./pkg/sdk/sdktest/ 2>&1 | grep -E '10,000|^(---|ok|FAIL|PASS)'

step "end-to-end: dfctl binary against dfctl dev --examples"
go test -tags e2e -count=1 -timeout 5m -v ./e2e/ 2>&1 | tail -n 40

step "end-to-end: dfctl tui in tmux"
bash scripts/tui-e2e.sh

step "chaos suite: nats-server and worker processes SIGKILLed and SIGSTOPped (scripts/chaos.sh)"
bash scripts/chaos.sh
