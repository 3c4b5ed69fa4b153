package tui

import (
	"errors"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// updating reports -update: rewrite the golden files in testdata. The flag
// is the one teatest's golden package defines (both test packages are one
// binary, so defining it again would panic).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// harness drives a Model the way a program does: commands run on their own
// goroutines and their messages come back to Update, one at a time.
type harness struct {
	t    testing.TB
	m    *Model
	msgs chan tea.Msg
	done chan struct{}
}

func newHarness(t testing.TB, o Options, w, h int) *harness {
	t.Helper()
	hs := &harness{t: t, m: New(o), msgs: make(chan tea.Msg, 1024), done: make(chan struct{})}
	t.Cleanup(func() { close(hs.done); hs.m.closeAll() })
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.m.Init())
	return hs
}

func (hs *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if batch, ok := msg.(tea.BatchMsg); ok {
			for _, c := range batch {
				hs.run(c)
			}
			return
		}
		if msg == nil {
			return
		}
		select {
		case hs.msgs <- msg:
		case <-hs.done:
		}
	}()
}

func (hs *harness) send(msg tea.Msg) {
	_, cmd := hs.m.Update(msg)
	hs.run(cmd)
}

// keys sends key presses: named keys ("enter", "esc", "ctrl+d", " ") or
// runes.
func (hs *harness) keys(keys ...string) {
	for _, k := range keys {
		hs.send(keyPress(k))
	}
}

// keyPress is the message a terminal's key press arrives as: a named key
// ("enter", "esc", "tab", "backspace", "ctrl+d", " ") or text.
func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case " ":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	if c, ok := strings.CutPrefix(k, "ctrl+"); ok && len(c) == 1 {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) > 1 {
		return tea.KeyPressMsg{Code: tea.KeyExtended, Text: k}
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// until handles messages until cond holds.
func (hs *harness) until(what string, cond func() bool) {
	hs.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case msg := <-hs.msgs:
			hs.send(msg)
		case <-deadline:
			hs.t.Fatalf("timed out waiting for %s; screen:\n%s", what, hs.text())
		}
	}
}

func (hs *harness) listed() {
	hs.t.Helper()
	hs.until("the runs list", func() bool { return hs.m.list.loaded })
}

func (hs *harness) opened() {
	hs.t.Helper()
	hs.until("the run's log", func() bool {
		v := hs.m.run
		if v == nil || v.info == nil || v.loading {
			return false
		}
		// The card shows the heartbeats of an open run's activities: wait
		// for them too, so that screens do not depend on when they came.
		return v.info.Status.IsClosed() || len(v.pendingNow().Activities) == 0 || v.heartbeats != nil
	})
}

// text is the screen as a terminal shows it: the text without its colour
// codes.
func (hs *harness) text() string { return ansi.Strip(hs.m.screen()) }

func (hs *harness) screenHas(s string) bool { return strings.Contains(hs.text(), s) }

// golden compares the screen with testdata/NAME.golden (-update rewrites it).
func (hs *harness) golden(name string) {
	hs.t.Helper()
	got := hs.text()
	lines := strings.Split(got, "\n")
	if len(lines) != hs.m.ctx.Height {
		hs.t.Errorf("%s: %d lines, want the screen's %d", name, len(lines), hs.m.ctx.Height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > hs.m.ctx.Width {
			hs.t.Errorf("%s: line %d is %d cells wide, more than the screen's %d: %q", name, i+1, w, hs.m.ctx.Width, l)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			hs.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		hs.t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		hs.t.Errorf("%s differs from %s (go test ./tui -update rewrites it)\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

var sizes = []struct {
	name string
	w, h int
}{{"80x24", 80, 24}, {"120x40", 120, 40}}

func TestGoldenViews(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			hs := newHarness(t, testOptions(newFakeSource(), nil), sz.w, sz.h)
			hs.listed()
			hs.golden("list-" + sz.name)
			hs.keys("?")
			hs.golden("help-list-" + sz.name)
			hs.keys("?")

			hs.keys("3")
			hs.golden("list-failed-" + sz.name)
			hs.keys("0", "/", "o", "r", "d")
			hs.golden("list-filtering-" + sz.name)
			hs.keys("enter", "j")
			hs.keys("enter")
			hs.opened()
			hs.golden("run-" + sz.name)

			hs.keys("j", "j", " ")
			hs.golden("run-expanded-" + sz.name)

			hs.keys("t")
			hs.golden("timeline-" + sz.name)
			hs.keys("esc", "?")
			hs.golden("help-" + sz.name)
		})
	}
}

func TestGoldenRunningRun(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			o := testOptions(newFakeSource(), nil)
			o.WorkflowID = "order-2"
			hs := newHarness(t, o, sz.w, sz.h)
			hs.listed()
			hs.opened()
			// The card: the activity's attempts, retry, heartbeat (read
			// apart from the history) and last failure; the timer.
			hs.until("the heartbeat", func() bool { return hs.screenHas("heartbeat 2s ago") })
			for _, want := range []string{"pending: activity ChargeCard (event 2) attempt 2/5", "retry 15:05:45 (in 10s)",
				"bank unavailable", "timer (event 3) 2m0s, fires 15:06:35 (in 1m0s)", "FOLLOW"} {
				if !hs.screenHas(want) {
					t.Errorf("the running run's view does not show %q:\n%s", want, hs.text())
				}
			}
			hs.golden("running-" + sz.name)
			hs.keys("t")
			hs.golden("running-timeline-" + sz.name)
		})
	}
}

func TestListFilters(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 120, 40)
	hs.listed()
	count := func() (int, int) { return hs.m.list.Count() }
	if shown, total := count(); shown != 9 || total != 9 {
		t.Fatalf("count = %d of %d, want 9 of 9", shown, total)
	}
	for _, tc := range []struct {
		keys []string
		want int
	}{
		{[]string{"1"}, 2}, // running, blocked included
		{[]string{"7"}, 1}, // blocked
		{[]string{"2"}, 3},
		{[]string{"3"}, 1},
		{[]string{"6"}, 1},
		{[]string{"0"}, 9},
		{[]string{"/", "p", "a", "y", "enter"}, 4},
		{[]string{"esc"}, 9},
		{[]string{"/", "s", "t", "a", "t", "u", "s", ":", "f", "a", "i", "l", "e", "d", "enter"}, 1},
		{[]string{"esc", "/", "o", "r", "d", "e", "r", " ", "s", "t", "a", "t", "u", "s", ":", "r", "u", "n", "n", "i", "n", "g", "enter"}, 1},
	} {
		hs.keys(tc.keys...)
		if shown, _ := count(); shown != tc.want {
			t.Errorf("after %q: %d runs shown, want %d", tc.keys, shown, tc.want)
		}
	}
	if !hs.screenHas("runs (1 of 9)") {
		t.Errorf("the title does not show the count:\n%s", hs.text())
	}
}

func TestKeysTypedAtOnce(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 120, 40)
	hs.listed()
	// A terminal may deliver "/pay" as one message.
	hs.send(keyPress("/pay"))
	if shown, _ := hs.m.list.Count(); shown != 4 {
		t.Fatalf("%d runs shown after /pay, want 4", shown)
	}
}

func TestExpandCollapse(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.WorkflowID = "order-1"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	v := hs.m.run
	if len(v.rows) != 5 { // started, 3 activities, completed
		t.Fatalf("%d rows, want 5", len(v.rows))
	}
	hs.keys("j", "j", "enter")
	if len(v.rows) != 9 || v.cursor != 2 {
		t.Fatalf("after expanding ChargeCard: %d rows, cursor %d; want 9, 2", len(v.rows), v.cursor)
	}
	if !hs.screenHas("└ attempt failed") {
		t.Errorf("expanded group shows no raw events:\n%s", hs.text())
	}
	hs.keys(" ")
	if len(v.rows) != 5 {
		t.Fatalf("after collapsing: %d rows, want 5", len(v.rows))
	}
}

func TestDetailScrolls(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.WorkflowID = "order-1"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	hs.keys("j", "j") // ChargeCard: four events, longer than the pane
	hs.text()
	v := hs.m.run
	if len(v.detailLines) <= v.detH {
		t.Fatalf("detail has %d lines, pane %d: nothing to scroll", len(v.detailLines), v.detH)
	}
	hs.keys("tab", "ctrl+d")
	hs.text()
	if v.detailTop == 0 {
		t.Fatal("ctrl-d in the detail pane did not scroll it")
	}
	if !hs.screenHas("tab: back to log") {
		t.Error("the detail pane does not show it has the keys")
	}
	hs.keys("tab", "j")
	if v.cursor != 3 {
		t.Errorf("after tab back, j moved the log to %d, want 3", v.cursor)
	}
}

func TestBackAndQuit(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 80, 24)
	hs.listed()
	hs.keys("enter")
	hs.opened()
	hs.keys("t")
	hs.keys("q")
	if hs.m.run == nil || hs.m.run.showTimeline {
		t.Fatal("q in the timeline should go back to the log")
	}
	hs.keys("esc")
	if hs.m.run != nil {
		t.Fatal("esc in the run view should go back to the list")
	}
	_, cmd := hs.m.Update(keyPress("q"))
	if cmd == nil {
		t.Fatal("q at the list should quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q at the list should quit")
	}
}

func TestCopyID(t *testing.T) {
	var copied []string
	hs := newHarness(t, testOptions(newFakeSource(), &copied), 80, 24)
	hs.listed()
	hs.keys("y")
	hs.until("the status line", func() bool { return hs.screenHas("copied order-2") })
	if len(copied) != 1 || copied[0] != "order-2" {
		t.Fatalf("copied %q, want order-2", copied)
	}
}

func TestErrorsGoToStatusLineAndClear(t *testing.T) {
	src := newFakeSource()
	src.listErr = errors.New("nats: connection closed")
	o := testOptions(src, nil)
	o.ListInterval = 10 * time.Millisecond
	hs := newHarness(t, o, 80, 24)
	hs.until("the error", func() bool { return hs.screenHas("✗ runs: nats: connection closed") })
	src.mu.Lock()
	src.listErr = nil
	src.mu.Unlock()
	hs.until("the list after the server is back", func() bool { return hs.m.list.loaded && !hs.screenHas("connection closed") })
}

func TestFollowShowsNewEvents(t *testing.T) {
	src := newFakeSource()
	o := testOptions(src, nil)
	o.WorkflowID = "order-2"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	// A running run opens followed.
	if !hs.screenHas("FOLLOW") {
		t.Fatalf("no FOLLOW badge:\n%s", hs.text())
	}
	src.Append("order-2", "run-o2", history.Record{Kind: history.KindDecision, Events: []history.Event{
		{Seq: 6, Time: at(70000), Type: history.ActivityCompleted, Name: "ChargeCard", Cause: 2, Attempt: 2, StartedAt: atp(70000), Result: []byte(`"ok"`)},
		{Seq: 7, Time: at(70001), Type: history.TimerCanceled, Cause: 3},
		{Seq: 8, Time: at(70001), Type: history.WorkflowCompleted, Result: []byte(`"done"`)},
	}})
	hs.until("the new events", func() bool { return hs.screenHas("workflow completed") })
	v := hs.m.run
	if v.cursor != len(v.rows)-1 {
		t.Errorf("cursor %d, want the last row %d", v.cursor, len(v.rows)-1)
	}
	if !hs.screenHas("✓ completed") || !hs.screenHas(`result:  "done"`) {
		t.Errorf("the header did not follow the close:\n%s", hs.text())
	}
	hs.keys("k")
	if _, paused := v.Following(); !paused || !hs.screenHas("FOLLOW paused") {
		t.Errorf("scrolling up did not pause follow:\n%s", hs.text())
	}
	hs.keys("G")
	if _, paused := v.Following(); paused {
		t.Error("G did not resume follow")
	}
	hs.keys("f")
	if on, _ := v.Following(); on || hs.screenHas("FOLLOW") {
		t.Error("f did not stop follow")
	}
}

func typeText(hs *harness, s string) {
	for _, r := range s {
		hs.send(keyPress(string(r)))
	}
}

func TestCancelAsksThenCancels(t *testing.T) {
	src := newFakeSource()
	o := testOptions(src, nil)
	o.WorkflowID = "order-2"
	hs := newHarness(t, o, 80, 24)
	hs.listed()
	hs.opened()

	hs.keys("c")
	hs.golden("prompt-cancel-80x24")
	hs.keys("esc")
	if hs.m.prompt != nil || src.runs[0].Status != "running" {
		t.Fatal("esc should abort the cancel")
	}

	hs.keys("c")
	typeText(hs, "customer asked")
	hs.keys("enter")
	hs.until("the status line", func() bool { return hs.screenHas("cancel requested for order-2") })
	hs.until("the cancel in the log", func() bool { return hs.screenHas("workflow canceled") })
	if !hs.screenHas("workflow cancel requested") || !hs.screenHas("customer asked") {
		t.Errorf("the log does not show the request and its reason:\n%s", hs.text())
	}
	if !hs.screenHas("⊘ canceled") {
		t.Errorf("the header does not show the run canceled:\n%s", hs.text())
	}
	// A describe that lags the log (the runs index is written after the
	// closing event) does not bring the run back to life.
	stale := *hs.m.run.info
	stale.Status, stale.CloseTime, stale.Failure = engine.StatusRunning, nil, nil
	hs.send(runInfoMsg{gen: hs.m.run.gen, info: &stale})
	if !hs.screenHas("⊘ canceled") || !hs.screenHas("failure: CanceledError: canceled") {
		t.Errorf("a stale describe reverted the header:\n%s", hs.text())
	}

	// A closed run has nothing to cancel or terminate.
	hs.keys("x")
	if hs.m.prompt != nil || !hs.screenHas("order-2 is canceled: there is nothing to terminate") {
		t.Errorf("x on a closed run:\n%s", hs.text())
	}
}

func TestSignalNeedsNameAndJSON(t *testing.T) {
	src := newFakeSource()
	hs := newHarness(t, testOptions(src, nil), 120, 40)
	hs.listed()
	hs.keys("s") // order-2, under the cursor in the list
	hs.golden("prompt-signal-120x40")
	hs.keys("enter", "enter")
	if !hs.screenHas("a signal needs a name") {
		t.Fatalf("no error for an empty name:\n%s", hs.text())
	}
	hs.keys("tab")
	typeText(hs, "approve")
	hs.keys("tab")
	typeText(hs, "yes")
	hs.keys("enter")
	if !hs.screenHas("not valid JSON") {
		t.Fatalf("no error for bad JSON:\n%s", hs.text())
	}
	hs.keys("ctrl+u")
	for range 3 {
		hs.keys("backspace")
	}
	typeText(hs, `{"by":"dana"}`)
	hs.keys("enter")
	hs.until("the signal", func() bool { return hs.screenHas("signal sent to order-2") })
	recs, _ := src.ReadPage(t.Context(), "order-2", "run-o2", 0, 100)
	last := recs[len(recs)-1].Events[0]
	if last.Type != history.SignalReceived || last.Name != "approve" || string(last.Input) != `{"by":"dana"}` {
		t.Fatalf("signal recorded as %+v", last)
	}
}

func TestOpenChildAndBack(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.WorkflowID = "batch-1"
	hs := newHarness(t, o, 120, 40)
	hs.listed()
	hs.opened()
	hs.keys("j") // the child workflow
	if !hs.screenHas("child workflow ✓") || !hs.screenHas("PartWorkflow batch-1-") {
		t.Fatalf("no child workflow row:\n%s", hs.text())
	}
	hs.keys("t")
	hs.golden("timeline-child-120x40")
	hs.keys("t", "o")
	hs.opened()
	if hs.m.run.ID != "batch-1-part-1" || !hs.screenHas("batch-1 › batch-1-part-1") || !hs.screenHas("parent batch-1 (o)") {
		t.Fatalf("o did not open the child:\n%s", hs.text())
	}
	hs.keys("esc")
	if hs.m.run == nil || hs.m.run.ID != "batch-1" {
		t.Fatal("esc from the child should go back to the parent")
	}
	hs.keys("esc")
	if hs.m.run != nil {
		t.Fatal("esc from the parent should go back to the list")
	}
}

func TestLostConnectionShowsAtOnce(t *testing.T) {
	src := newFakeSource()
	o := testOptions(src, nil)
	o.WorkflowID = "order-1"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	src.mu.Lock()
	src.down = true
	src.mu.Unlock()
	hs.send(runsTickMsg{})
	if !hs.screenHas("✗ server connection reconnecting") || !hs.screenHas("workflow completed") {
		t.Fatalf("the lost connection should show on the status line, over a view that keeps working:\n%s", hs.text())
	}
	src.mu.Lock()
	src.down = false
	src.mu.Unlock()
	hs.send(runsTickMsg{})
	if hs.screenHas("reconnecting") {
		t.Fatalf("the status line still shows the lost connection:\n%s", hs.text())
	}
}

func TestUnknownWorkflow(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.WorkflowID = "nope"
	hs := newHarness(t, o, 80, 24)
	hs.until("the error", func() bool { return hs.screenHas("no such run") && hs.screenHas("workflow not found") })
	hs.keys("esc")
	if hs.m.run != nil {
		t.Fatal("esc should go back to the list")
	}
}

func TestReplayCheckVerdicts(t *testing.T) {
	src := newFakeSource()
	o := testOptions(src, nil)
	o.WorkflowID = "order-1"
	hs := newHarness(t, o, 80, 24)
	hs.opened()

	hs.keys("R")
	hs.until("the verdict", func() bool { return hs.screenHas("replay check of order-1: deterministic (worker worker-1)") })

	src.mu.Lock()
	src.mismatch = &history.Failure{Type: "NonDeterminismError",
		Message: "non-deterministic workflow: at event 4 history records ActivityScheduled(ChargeCard) but the code produced TimerStarted"}
	src.mu.Unlock()
	hs.keys("R")
	hs.until("the mismatch", func() bool {
		return hs.screenHas("✗ replay check of order-1: non-deterministic workflow: at event 4")
	})
	// A good read does not take the verdict off the status line.
	hs.send(runInfoMsg{gen: hs.m.run.gen, info: hs.m.run.info})
	if !hs.screenHas("non-deterministic workflow") {
		t.Errorf("the verdict went:\n%s", hs.text())
	}

	src.mu.Lock()
	src.mismatch, src.replayErr = nil, fmt.Errorf("%w: no worker of task queue default answered the replay check", engine.ErrNoWorker)
	src.mu.Unlock()
	hs.keys("R")
	hs.until("the error", func() bool { return hs.screenHas("✗ replay check of order-1: no worker answered") })
}

func TestResetAsksThenOpensNewRun(t *testing.T) {
	src := newFakeSource()
	o := testOptions(src, nil)
	o.WorkflowID = "order-2"
	hs := newHarness(t, o, 80, 24)
	hs.listed()
	hs.opened()

	hs.keys("j") // ChargeCard, scheduled by event 2
	hs.keys("z")
	hs.golden("prompt-reset-80x24")
	hs.keys("esc")
	if hs.m.prompt != nil || hs.m.run.RunID != "run-o2" {
		t.Fatal("esc should abort the reset")
	}

	hs.keys("G", "z") // the signal, event 4
	if !hs.screenHas("Reset order-2 to event 4 · SignalReceived?") || !hs.screenHas("This run is terminated") {
		t.Fatalf("the prompt does not show the event:\n%s", hs.text())
	}
	typeText(hs, "retry with the fix")
	hs.keys("tab", " ")
	if !hs.screenHas("[x] re-apply the signals") {
		t.Fatalf("space did not toggle re-apply:\n%s", hs.text())
	}
	hs.keys(" ", "x", "enter")
	hs.until("the new run", func() bool {
		return hs.m.run != nil && hs.m.run.RunID == "run-reset-1" && hs.m.run.info != nil && !hs.m.run.loading
	})
	if !hs.screenHas("reset to event 4 as run run-reset-1") || hs.screenHas("kept events") {
		t.Errorf("status line:\n%s", hs.text())
	}
	if !hs.screenHas("order-2  run run-reset-1") || !hs.screenHas("signal received") {
		t.Errorf("the view does not show the new run:\n%s", hs.text())
	}
	// The new run's times are its own: it started at the reset, and what
	// it does after the kept events counts from there, not from the old
	// run's start a minute before.
	src.Append("order-2", "run-reset-1", history.Record{Kind: history.KindDecision, Events: []history.Event{
		{Seq: 5, Time: testNow.Add(5 * time.Millisecond), Type: history.ActivityCompleted, Name: "ChargeCard", Cause: 2, Attempt: 1, Result: []byte(`"ok"`)}}})
	hs.until("the activity's outcome", func() bool { return hs.screenHas("activity ✓") })
	hs.keys("k", "k", " ") // ChargeCard, expanded; no longer following: a still screen
	for _, want := range []string{"started 2026-01-02 15:05:35 (0s ago)", "duration 0s", "reset:   from run run-o2 at event 4",
		"+5ms       └ completed", "ChargeCard (5ms)", "+20.000s   signal received"} {
		if !hs.screenHas(want) {
			t.Errorf("the reset run does not show %q:\n%s", want, hs.text())
		}
	}
	hs.golden("reset-run-80x24")
	// The timeline's axis starts at the reset: ChargeCard's 5 ms are not
	// squeezed by the minute before it.
	hs.keys("t")
	if !hs.screenHas("+5ms") || !hs.screenHas("SINCE THE RESET     +0s") {
		t.Errorf("the timeline of the reset run:\n%s", hs.text())
	}
	hs.golden("reset-run-timeline-80x24")
	hs.keys("t")
	recs, _ := src.ReadPage(t.Context(), "order-2", "run-reset-1", 0, 100)
	if first := recs[0].Events[0]; first.Reason != "retry with the fix" || first.ResetFrom == nil || first.ResetFrom.RunID != "run-o2" {
		t.Errorf("new run started with %+v", first)
	}

	// Event 2 is cut from its decision (the timer was started with it):
	// the status line says what was kept.
	hs.keys("g", "j", "z")
	if !hs.screenHas("to event 2 · ActivityScheduled?") {
		t.Fatalf("prompt:\n%s", hs.text())
	}
	hs.keys("enter")
	hs.until("the second reset", func() bool { return hs.m.run.RunID == "run-reset-2" })
	if !hs.screenHas("reset to event 2 as run run-reset-2; kept events 1..1") {
		t.Errorf("status line:\n%s", hs.text())
	}
}

func TestResetFromTheList(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 80, 24)
	hs.listed()
	hs.keys("z")
	if hs.m.prompt != nil || !hs.screenHas("open a run and select the event") {
		t.Errorf("z in the list:\n%s", hs.text())
	}
}

// The program asks the terminal for its background colour; on a light
// one the selection bar is light, and the screens are the same.
func TestLightBackground(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.NoColor = false
	hs := newHarness(t, o, 80, 24)
	hs.listed()
	before := hs.text()
	dark := hs.m.screen()
	hs.send(tea.BackgroundColorMsg{Color: color.White})
	if hs.m.ctx.Dark || hs.text() != before {
		t.Fatalf("dark %v after a white background; screen:\n%s", hs.m.ctx.Dark, hs.text())
	}
	if light := hs.m.screen(); !strings.Contains(dark, "48;5;236") || !strings.Contains(light, "48;5;254") {
		t.Errorf("the selection bar is not light on a light background:\n%q", light)
	}
	hs.send(tea.BackgroundColorMsg{Color: color.Black})
	if !hs.m.ctx.Dark || hs.m.screen() != dark {
		t.Errorf("a black background did not bring the dark styles back")
	}
}

// Pasted text (bracketed paste) goes to the input that has the keys, and
// nowhere else.
func TestPasteGoesToTheInput(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 120, 40)
	hs.listed()
	hs.send(tea.PasteMsg{Content: "pay"}) // no input: nothing happens
	if shown, _ := hs.m.list.Count(); shown != 9 || hs.m.list.Filtering() {
		t.Fatalf("a paste outside an input filtered the list: %d shown", shown)
	}
	hs.keys("/")
	hs.send(tea.PasteMsg{Content: "pay"})
	hs.keys("enter")
	if shown, _ := hs.m.list.Count(); shown != 4 {
		t.Fatalf("%d runs shown after pasting pay into the filter, want 4", shown)
	}
	hs.keys("esc", "s")
	hs.send(tea.PasteMsg{Content: "deploy"})
	if !hs.screenHas("signal name: deploy") {
		t.Errorf("the paste did not reach the signal prompt:\n%s", hs.text())
	}
}

// A failed run opens with its failure first: type and whole message, its
// causes, and the closing event selected in the detail pane.
func TestGoldenFailedRun(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			o := testOptions(newFakeSource(), nil)
			o.WorkflowID = "payment-1"
			hs := newHarness(t, o, sz.w, sz.h)
			hs.listed()
			hs.opened()
			text := strings.Join(strings.Fields(hs.text()), " ")
			for _, want := range []string{
				"failure: ActivityError: activity ChargeCard (event 2) failed after 2 attempts",
				"cause: CardDeclined: card declined by the issuer",
				"event 5 · workflow failed",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("the failed run's view does not show %q:\n%s", want, hs.text())
				}
			}
			if v := hs.m.run; v.cursor != len(v.rows)-1 {
				t.Errorf("cursor on row %d, want the closing event's %d", v.cursor, len(v.rows)-1)
			}
			hs.golden("failed-" + sz.name)

			// Z gives the detail pane the whole view; Z again gives it back.
			hs.keys("Z")
			if !hs.screenHas("(Z or esc: back)") || hs.screenHas("SEQ  TIME") || !hs.screenHas(`"type": "WorkflowFailed"`) {
				t.Errorf("Z did not zoom the detail pane:\n%s", hs.text())
			}
			hs.keys("ctrl+d")
			hs.golden("zoom-" + sz.name)
			hs.keys("Z")
			if hs.screenHas("(Z or esc: back)") || !hs.screenHas("SEQ  TIME") {
				t.Errorf("Z did not give the log back:\n%s", hs.text())
			}
			hs.keys("Z", "esc")
			if hs.m.run == nil || hs.m.run.Zoomed() {
				t.Errorf("esc should leave the zoom, not the run")
			}
		})
	}
}

// / starts a fresh filter: it does not add to the one before.
func TestFilterStartsFresh(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 80, 24)
	hs.listed()
	hs.keys("/")
	typeText(hs, "pay")
	hs.keys("enter")
	if shown, _ := hs.m.list.Count(); shown != 4 {
		t.Fatalf("%d runs after /pay, want 4", shown)
	}
	hs.keys("/")
	if shown, _ := hs.m.list.Count(); shown != 9 || hs.m.list.input.Value() != "" {
		t.Fatalf("/ kept %q (%d shown): want an empty filter", hs.m.list.input.Value(), shown)
	}
	typeText(hs, "order")
	hs.keys("enter")
	if shown, _ := hs.m.list.Count(); shown != 2 {
		t.Errorf("%d runs after /order, want 2 (not /payorder)", shown)
	}
}

// The selection bar covers the whole row, its coloured cells included;
// without colour it is drawn in reverse video.
func TestSelectedRowHighlightedWhole(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.NoColor = false
	hs := newHarness(t, o, 120, 40)
	hs.listed()
	bar := "\x1b[1;48;5;236m"
	row := strings.Split(hs.m.screen(), "\n")[2]
	if !strings.HasPrefix(row, bar) || !strings.Contains(ansi.Strip(row), "order-2") {
		t.Fatalf("the selected row does not start with the bar: %q", row)
	}
	// Every reset inside the row (after the coloured status) starts the
	// bar again.
	inner := strings.TrimSuffix(strings.TrimPrefix(row, bar), "\x1b[m")
	if n, m := strings.Count(inner, "\x1b[m"), strings.Count(inner, "\x1b[m"+bar); n == 0 || n != m {
		t.Errorf("%d resets in the row, %d followed by the bar: %q", n, m, row)
	}

	hs = newHarness(t, testOptions(newFakeSource(), nil), 120, 40)
	hs.listed()
	row = strings.Split(hs.m.screen(), "\n")[2]
	if !strings.HasPrefix(row, "\x1b[1;7m") || !strings.Contains(row, "›") {
		t.Errorf("without colour the selected row is not in reverse video with its mark: %q", row)
	}
}

// : lists the actions, filters them as one types (prefix first, then
// letters in order), and enter runs the one selected: here S, the stack.
func TestPaletteRunsStack(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			src := newFakeSource()
			src.stack = &engine.WorkflowStack{WorkflowID: "order-2", RunID: "run-o2", Type: "OrderWorkflow", LastEventSeq: 5,
				Coroutines: []engine.CoroutineStack{{Name: "main", State: "blocked", BlockedIn: "Selector.Select",
					WaitingFor: "activity ChargeCard (event 2), timer (event 3)", Function: "main.OrderWorkflow",
					File: "/src/order/workflow.go", Line: 31,
					Frames: []engine.StackFrame{{Function: "main.OrderWorkflow", File: "/src/order/workflow.go", Line: 31}}},
					{Name: "notifier", State: "done"}},
				SignalChannels: []engine.SignalChannelState{{Name: "priority", Buffered: 1}}}
			o := testOptions(src, nil)
			o.WorkflowID = "order-2"
			hs := newHarness(t, o, sz.w, sz.h)
			hs.listed()
			hs.opened()
			hs.keys(":")
			for _, want := range []string{"signal", "cancel", "terminate", "replay check", "reset to event", "stack"} {
				if !hs.screenHas(want) {
					t.Errorf("the palette does not list %q:\n%s", want, hs.text())
				}
			}
			hs.golden("palette-" + sz.name)
			typeText(hs, "st")
			if got := hs.m.palette.shown; len(got) != 2 || hs.m.palette.entries[got[0]].Help().Desc != "stack" ||
				hs.m.palette.entries[got[1]].Help().Desc != "reset to event" {
				t.Fatalf("after st the palette shows %v:\n%s", got, hs.text())
			}
			hs.keys("enter")
			if hs.m.palette != nil {
				t.Fatal("enter did not close the palette")
			}
			hs.until("the stack", func() bool { return hs.screenHas("blocked in Selector.Select") })
			hs.golden("stack-" + sz.name)
			hs.keys("Z") // the whole stack, at any size
			for _, want := range []string{"stack · after event 5", "main.OrderWorkflow", "workflow.go:31", `signal channel "priority": 1 received`} {
				if !strings.Contains(strings.Join(strings.Fields(hs.text()), " "), want) {
					t.Errorf("the stack does not show %q:\n%s", want, hs.text())
				}
			}
			hs.keys("Z", "esc")
			if hs.m.run == nil || hs.m.run.StackShown() {
				t.Fatal("esc should close the stack and stay on the run")
			}
		})
	}
}

func TestStackWithoutWorker(t *testing.T) {
	o := testOptions(newFakeSource(), nil)
	o.WorkflowID = "order-2"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	hs.keys("S")
	hs.until("the answer", func() bool { return hs.screenHas("stack: no answer") && hs.screenHas("no worker") })
	hs.keys("S")
	if hs.m.run.StackShown() {
		t.Error("S again should show the event again")
	}
	hs.keys(":")
	typeText(hs, "zzz")
	if !hs.screenHas("no action matches") {
		t.Errorf("no match:\n%s", hs.text())
	}
	hs.keys("esc")
	if hs.m.palette != nil || hs.m.run == nil {
		t.Error("esc should close the palette only")
	}
}

// The prompt marks the field that has the keys, with or without colour,
// and its placeholders read as hints.
func TestPromptShowsFocus(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 80, 24)
	hs.listed()
	hs.keys("s")
	if !hs.screenHas("› signal name: e.g. approve") || !hs.screenHas("  input JSON:  e.g. {") {
		t.Fatalf("the name field is not marked:\n%s", hs.text())
	}
	hs.keys("tab")
	if !hs.screenHas("  signal name: e.g. approve") || !hs.screenHas("› input JSON:  e.g. {") {
		t.Fatalf("tab did not move the mark to the JSON field:\n%s", hs.text())
	}
	if strings.Contains(hs.m.screen(), "\x1b[5m") {
		t.Error("the cursor blinks")
	}
}

// The card takes at most its share of the view: a run waiting on many
// activities says how many lines are left; a long result takes two lines.
func TestCardKeepsToItsShare(t *testing.T) {
	src := newFakeSource()
	evs := []history.Event{{Seq: 1, Time: at(0), Type: history.WorkflowStarted, Name: "FanOut", WorkflowID: "fan-1", RunID: "run-f1", TaskQueue: "default"}}
	for i := range 12 {
		evs = append(evs, history.Event{Seq: int64(i + 2), Time: at(5), Type: history.ActivityScheduled, Name: fmt.Sprintf("Shard%d", i), Cause: 1})
	}
	src.setLog("fan-1", "run-f1", []history.Record{{Kind: history.KindInput, Events: evs[:1]}, {Kind: history.KindDecision, Events: evs[1:]}})
	src.runs = append(src.runs, engine.RunInfo{WorkflowID: "fan-1", RunID: "run-f1", Type: "FanOut", TaskQueue: "default",
		Status: engine.StatusRunning, StartTime: at(0)})
	long := `{"items":"` + strings.Repeat("x", 400) + `"}`
	ct := at(10)
	src.runs = append(src.runs, engine.RunInfo{WorkflowID: "big-1", RunID: "run-g1", Type: "Big", TaskQueue: "default",
		Status: engine.StatusCompleted, StartTime: at(0), CloseTime: &ct, Result: []byte(long)})
	src.setLog("big-1", "run-g1", []history.Record{{Kind: history.KindInput, Events: []history.Event{
		{Seq: 1, Time: at(0), Type: history.WorkflowStarted, Name: "Big", WorkflowID: "big-1", RunID: "run-g1"},
		{Seq: 2, Time: at(10), Type: history.WorkflowCompleted, Result: []byte(long)}}}})

	o := testOptions(src, nil)
	o.WorkflowID = "fan-1"
	hs := newHarness(t, o, 80, 24)
	hs.opened()
	lines := strings.Split(hs.text(), "\n")
	if !strings.HasPrefix(lines[4], "pending: activity Shard0 (event 2) attempt 1/∞") ||
		!strings.Contains(lines[8], "… 8 more lines") || !strings.Contains(lines[9], "SEQ  TIME") {
		t.Errorf("the card is not five lines ending with what is left:\n%s", hs.text())
	}

	o.WorkflowID = "big-1"
	hs = newHarness(t, o, 80, 24)
	hs.opened()
	lines = strings.Split(hs.text(), "\n")
	if !strings.HasPrefix(lines[4], `result:  {"items":"xxx`) || !strings.HasSuffix(strings.TrimRight(lines[5], " "), "x…") ||
		!strings.Contains(lines[6], "SEQ  TIME") {
		t.Errorf("the result does not take two lines:\n%s", hs.text())
	}
}

func TestCopyLink(t *testing.T) {
	var copied []string
	o := testOptions(newFakeSource(), &copied)
	hs := newHarness(t, o, 80, 24)
	hs.listed()
	hs.keys("Y")
	hs.until("the status line", func() bool { return hs.screenHas("no dfctl web address") })
	o.WebURL = "http://127.0.0.1:8080"
	hs = newHarness(t, o, 80, 24)
	hs.listed()
	hs.keys("Y")
	want := "http://127.0.0.1:8080/runs/order-2/run-o2"
	hs.until("the status line", func() bool { return hs.screenHas("copied http://127.0.0.1:8080/runs/") })
	if len(copied) != 1 || copied[0] != want {
		t.Fatalf("copied %q, want %s", copied, want)
	}
}
