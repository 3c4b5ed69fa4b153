#!/usr/bin/env bash
# End-to-end test of `dfctl tui` as a user runs it: the built binary in a
# real terminal (a detached tmux session) against `dfctl dev --examples` with
# live workflows. It checks the runs list, opening a run, the timeline and
# quitting, waiting on what the screen shows (capture-pane) with deadlines.
# Exits 0 with a SKIP line when tmux is missing and cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "tui-e2e: installing tmux"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux) >/dev/null 2>&1 || true
  fi
  if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP tui-e2e: tmux is not installed and could not be installed (needs root and apt-get)"
    exit 0
  fi
fi

work=$(mktemp -d)
session="dftui-$$"
dev_pid=""
export TMUX_TMPDIR="$work" # a private tmux server, whatever else runs
cleanup() {
  tmux kill-server >/dev/null 2>&1 || true
  if [ -n "$dev_pid" ]; then kill "$dev_pid" 2>/dev/null || true; wait "$dev_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL tui-e2e: $*"
  echo "--- screen:"; tmux capture-pane -p -t "$session" 2>/dev/null || true
  echo "--- dev server log (tail):"; tail -n 20 "$work/dev.log" 2>/dev/null || true
  echo "--- tui log (tail):"; tail -n 20 "$work/state/durablefuture/tui.log" 2>/dev/null || true
  exit 1
}

# capture NAME: with TUI_E2E_CAPTURE=DIR, save the screen as DIR/NAME.txt
# (the screens in docs/tui.md come from here).
capture() {
  if [ -n "${TUI_E2E_CAPTURE:-}" ]; then
    mkdir -p "$TUI_E2E_CAPTURE"
    tmux capture-pane -p -t "$session" | sed -e 's/[[:space:]]*$//' >"$TUI_E2E_CAPTURE/$1.txt"
  fi
}

# wait_screen TEXT [SECONDS]: poll the screen until it shows TEXT.
wait_screen() {
  local want=$1 deadline=$((SECONDS + ${2:-15}))
  while [ $SECONDS -lt $deadline ]; do
    if tmux capture-pane -p -t "$session" 2>/dev/null | grep -qF -- "$want"; then return 0; fi
    sleep 0.1
  done
  fail "the screen never showed: $want"
}

# colour_on_screen: whether the screen has a colour (foreground or
# background; bold and faint do not count).
colour_on_screen() {
  tmux capture-pane -e -p -t "$session" 2>/dev/null | grep -qE $'\e\\[([0-9]+;)*(3[0-7]|9[0-7]|4[0-7]|10[0-7]|38|48)(;[0-9]+)*m'
}

# wait_gone TEXT [SECONDS]: poll until the screen no longer shows TEXT.
wait_gone() {
  local want=$1 deadline=$((SECONDS + ${2:-15}))
  while [ $SECONDS -lt $deadline ]; do
    if ! tmux capture-pane -p -t "$session" 2>/dev/null | grep -qF -- "$want"; then return 0; fi
    sleep 0.1
  done
  fail "the screen still shows: $want"
}

echo "tui-e2e: building dfctl"
go build -o "$work/dfctl" ./cmd/dfctl
dfctl() { "$work/dfctl" --server "nats://127.0.0.1:$port" "$@"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + RANDOM % 20000)))
"$work/dfctl" dev --examples --port "$port" --store "$work/store" >"$work/dev.log" 2>&1 &
dev_pid=$!
deadline=$((SECONDS + 30))
until dfctl list >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "dev server did not answer on port $port"
  kill -0 "$dev_pid" 2>/dev/null || fail "dev server exited"
  sleep 0.2
done

echo "tui-e2e: starting workflows"
for id in tui-e2e-a tui-e2e-b; do
  dfctl start OrderWithRetriesWorkflow --id "$id" --input '"a"' --input '"b"' --input 1 --input 1 >/dev/null
done
dfctl start ExpenseApprovalWorkflow --id tui-e2e-expense --input '"exp-9"' --input 50 --input 3600 >/dev/null
dfctl result tui-e2e-a --wait >/dev/null 2>&1 || true
dfctl result tui-e2e-b --wait >/dev/null 2>&1 || true

echo "tui-e2e: dfctl tui in tmux"
# A session that outlives the others keeps the tmux server up: killing the
# last session ends the server, and a new-session racing with its exit
# fails ("server exited unexpectedly").
tmux new-session -d -s keepalive -x 20 -y 5 "sleep 3600"
tmux new-session -d -s "$session" -x 120 -y 40 \
  "env XDG_STATE_HOME=$work/state TERM=xterm-256color $work/dfctl --server nats://127.0.0.1:$port tui; echo TUI-EXITED rc=\$?; sleep 600"

wait_screen "tui-e2e-a"
wait_screen "tui-e2e-b"
wait_screen "OrderWithRetriesWorkflow"
wait_screen "runs (3)"
wait_screen "● running"
capture list
echo "ok: the list shows the runs"
colour_on_screen || fail "no colour on the screen"
echo "ok: in colour"

# Filter to one run, then open it.
tmux send-keys -t "$session" / t u i - e 2 e - a Enter
wait_screen "runs (1 of 3)"
wait_gone "tui-e2e-b"
echo "ok: / filters the list"
tmux send-keys -t "$session" Enter
wait_screen "workflow started"
wait_screen "ValidateOrderActivity"
wait_screen "activity"
capture run
tmux send-keys -t "$session" j j
tmux send-keys -t "$session" Space
wait_screen "└ attempt failed"
capture run-expanded
echo "ok: enter opens the run with its events"

# Z gives the detail pane the whole screen, and back.
tmux send-keys -t "$session" Z
wait_screen "(Z or esc: back)"
wait_gone "SEQ  TIME"
capture zoom
tmux send-keys -t "$session" Z
wait_screen "SEQ  TIME"
echo "ok: Z zooms the detail pane and back"

tmux send-keys -t "$session" t
wait_screen "TIMELINE"
wait_screen "waiting"
capture timeline
echo "ok: t shows the timeline"
tmux send-keys -t "$session" Escape
wait_gone "TIMELINE"

tmux send-keys -t "$session" q
wait_screen "runs (1 of 3)"
tmux send-keys -t "$session" q
wait_screen "TUI-EXITED rc=0"
echo "ok: q goes back, then quits"
tmux kill-session -t "$session"

# dfctl tui ID opens the run; c cancels it after confirmation.
tmux new-session -d -s "$session" -x 120 -y 40 \
  "env XDG_STATE_HOME=$work/state TERM=xterm-256color $work/dfctl --server nats://127.0.0.1:$port tui tui-e2e-expense; echo TUI-EXITED rc=\$?; sleep 600"
wait_screen "timer … pending"
# A running run opens followed, its pending work on the card.
wait_screen "FOLLOW"
wait_screen "pending: timer (event"
capture running
tmux send-keys -t "$session" :
wait_screen "enter runs"
capture palette
tmux send-keys -t "$session" s t
tmux send-keys -t "$session" Enter
wait_screen "main  blocked in"
capture stack
tmux send-keys -t "$session" S
wait_gone "main  blocked in"
echo "ok: the card shows the pending timer; : runs the stack"
tmux send-keys -t "$session" c
wait_screen "Cancel tui-e2e-expense?"
capture cancel-prompt
tmux send-keys -t "$session" -l "no longer needed"
tmux send-keys -t "$session" Enter
wait_screen "workflow canceled"
wait_screen "⊘ canceled"
wait_screen "no longer needed"
wait_screen "failure: "
capture canceled
[ "$(dfctl list --status canceled | grep -c tui-e2e-expense)" = 1 ] || fail "dfctl list does not show the run canceled"
echo "ok: dfctl tui ID opens the run, c cancels it"
tmux send-keys -t "$session" q
wait_screen "runs (3)"
tmux send-keys -t "$session" q
wait_screen "TUI-EXITED rc=0"

# Without a terminal it refuses and points at dfctl show.
if out=$("$work/dfctl" --server "nats://127.0.0.1:$port" tui </dev/null 2>&1); then
  fail "dfctl tui without a terminal succeeded"
fi
echo "$out" | grep -qF "dfctl show" || fail "no pointer at dfctl show: $out"
echo "ok: without a terminal it refuses"

# --color never, and NO_COLOR with the default --color auto: the same
# screens without colour.
for how in "--color never" "NO_COLOR=1"; do
  flag=""; envv=""
  case $how in --*) flag=$how ;; *) envv=$how ;; esac
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x 120 -y 28 \
    "env XDG_STATE_HOME=$work/state TERM=xterm-256color $envv $work/dfctl --server nats://127.0.0.1:$port $flag tui; echo TUI-EXITED rc=\$?; sleep 600"
  wait_screen "runs (3)"
  wait_screen "✓ completed"
  if colour_on_screen; then fail "$how: colour on the screen"; fi
  # The selected row is still marked: in reverse video.
  tmux capture-pane -e -p -t "$session" | grep -qE $'\e\\[([0-9]+;)*7(;[0-9]+)*m' || fail "$how: the selected row is not in reverse video"
  tmux send-keys -t "$session" q
  wait_screen "TUI-EXITED rc=0"
  tmux kill-session -t "$session"
  echo "ok: $how: no colour"
done

# A failed run opens on its failure: type and message first, at 80x24 and
# 120x40, with the closing event selected.
dfctl start OrderWorkflow --id tui-e2e-failed --input '"c"' --input '"p"' --input -5 --input 1 >/dev/null
dfctl result tui-e2e-failed --wait >/dev/null 2>&1 || true
for size in 80x24 120x40; do
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x "${size%x*}" -y "${size#*x}" \
    "env XDG_STATE_HOME=$work/state TERM=xterm-256color $work/dfctl --server nats://127.0.0.1:$port tui tui-e2e-failed; echo TUI-EXITED rc=\$?; sleep 600"
  wait_screen "✗ failed"
  wait_screen "failure: "
  wait_screen "charge -5.00"
  wait_screen "event 4 · workflow failed"
  capture "failed-$size"
  tmux send-keys -t "$session" q
  wait_screen "runs (4)"
  tmux send-keys -t "$session" q
  wait_screen "TUI-EXITED rc=0"
  echo "ok: $size: a failed run opens on its failure"
done

echo "PASS tui-e2e"
