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

step "Chromium for the browser tests of dfctl web (internal/web)"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${DF_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing chromium"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || true
  fi
fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${DF_CHROMIUM:-}" ]; then
  echo "browser tests will run"
else
  echo "SKIP browser tests: Chromium is not installed and could not be (needs root and apt-get); set DF_CHROMIUM=/path/to/chrome"
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
