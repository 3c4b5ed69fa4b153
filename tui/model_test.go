package tui

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
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
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "ctrl+d":
			msg = tea.KeyMsg{Type: tea.KeyCtrlD}
		case "ctrl+c":
			msg = tea.KeyMsg{Type: tea.KeyCtrlC}
		case " ":
			msg = tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		hs.send(msg)
	}
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
			hs.t.Fatalf("timed out waiting for %s; screen:\n%s", what, hs.m.View())
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
		return hs.m.run != nil && hs.m.run.info != nil && !hs.m.run.loading
	})
}

func (hs *harness) screenHas(s string) bool { return strings.Contains(hs.m.View(), s) }

// golden compares the screen with testdata/NAME.golden (-update rewrites it).
func (hs *harness) golden(name string) {
	hs.t.Helper()
	got := ansi.Strip(hs.m.View())
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
		t.Errorf("the title does not show the count:\n%s", hs.m.View())
	}
}

func TestKeysTypedAtOnce(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 120, 40)
	hs.listed()
	// A terminal may deliver "/pay" as one message.
	hs.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/pay")})
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
		t.Errorf("expanded group shows no raw events:\n%s", hs.m.View())
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
	hs.m.View()
	v := hs.m.run
	if len(v.detailLines) <= v.detH {
		t.Fatalf("detail has %d lines, pane %d: nothing to scroll", len(v.detailLines), v.detH)
	}
	hs.keys("tab", "ctrl+d")
	hs.m.View()
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
	_, cmd := hs.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
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
	hs.keys("f")
	if !hs.screenHas("FOLLOW") {
		t.Fatalf("no FOLLOW badge:\n%s", hs.m.View())
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
	if !hs.screenHas("✓ completed") || !hs.screenHas(`result: "done"`) {
		t.Errorf("the header did not follow the close:\n%s", hs.m.View())
	}
	hs.keys("k")
	if _, paused := v.Following(); !paused || !hs.screenHas("FOLLOW paused") {
		t.Errorf("scrolling up did not pause follow:\n%s", hs.m.View())
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
		hs.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
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
		t.Errorf("the log does not show the request and its reason:\n%s", hs.m.View())
	}
	if !hs.screenHas("⊘ canceled") {
		t.Errorf("the header does not show the run canceled:\n%s", hs.m.View())
	}

	// A closed run has nothing to cancel or terminate.
	hs.keys("x")
	if hs.m.prompt != nil || !hs.screenHas("order-2 is canceled: there is nothing to terminate") {
		t.Errorf("x on a closed run:\n%s", hs.m.View())
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
		t.Fatalf("no error for an empty name:\n%s", hs.m.View())
	}
	hs.keys("tab")
	typeText(hs, "approve")
	hs.keys("tab")
	typeText(hs, "yes")
	hs.keys("enter")
	if !hs.screenHas("not valid JSON") {
		t.Fatalf("no error for bad JSON:\n%s", hs.m.View())
	}
	hs.send(tea.KeyMsg{Type: tea.KeyCtrlU})
	for range 3 {
		hs.send(tea.KeyMsg{Type: tea.KeyBackspace})
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
		t.Fatalf("no child workflow row:\n%s", hs.m.View())
	}
	hs.keys("t")
	hs.golden("timeline-child-120x40")
	hs.keys("t", "o")
	hs.opened()
	if hs.m.run.ID != "batch-1-part-1" || !hs.screenHas("batch-1 › batch-1-part-1") || !hs.screenHas("parent batch-1 (o)") {
		t.Fatalf("o did not open the child:\n%s", hs.m.View())
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
		t.Fatalf("the lost connection should show on the status line, over a view that keeps working:\n%s", hs.m.View())
	}
	src.mu.Lock()
	src.down = false
	src.mu.Unlock()
	hs.send(runsTickMsg{})
	if hs.screenHas("reconnecting") {
		t.Fatalf("the status line still shows the lost connection:\n%s", hs.m.View())
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
		t.Errorf("the verdict went:\n%s", hs.m.View())
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
		t.Fatalf("the prompt does not show the event:\n%s", hs.m.View())
	}
	typeText(hs, "retry with the fix")
	hs.keys("tab", " ")
	if !hs.screenHas("[x] re-apply the signals") {
		t.Fatalf("space did not toggle re-apply:\n%s", hs.m.View())
	}
	hs.keys(" ", "x", "enter")
	hs.until("the new run", func() bool {
		return hs.m.run != nil && hs.m.run.RunID == "run-reset-1" && hs.m.run.info != nil && !hs.m.run.loading
	})
	if !hs.screenHas("reset to event 4 as run run-reset-1") || hs.screenHas("kept events") {
		t.Errorf("status line:\n%s", hs.m.View())
	}
	if !hs.screenHas("order-2  run run-reset-1") || !hs.screenHas("signal received") {
		t.Errorf("the view does not show the new run:\n%s", hs.m.View())
	}
	recs, _ := src.ReadPage(t.Context(), "order-2", "run-reset-1", 0, 100)
	if first := recs[0].Events[0]; first.Reason != "retry with the fix" || first.ResetFrom == nil || first.ResetFrom.RunID != "run-o2" {
		t.Errorf("new run started with %+v", first)
	}

	// Event 2 is cut from its decision (the timer was started with it):
	// the status line says what was kept.
	hs.keys("g", "j", "z")
	if !hs.screenHas("to event 2 · ActivityScheduled?") {
		t.Fatalf("prompt:\n%s", hs.m.View())
	}
	hs.keys("enter")
	hs.until("the second reset", func() bool { return hs.m.run.RunID == "run-reset-2" })
	if !hs.screenHas("reset to event 2 as run run-reset-2; kept events 1..1") {
		t.Errorf("status line:\n%s", hs.m.View())
	}
}

func TestResetFromTheList(t *testing.T) {
	hs := newHarness(t, testOptions(newFakeSource(), nil), 80, 24)
	hs.listed()
	hs.keys("z")
	if hs.m.prompt != nil || !hs.screenHas("open a run and select the event") {
		t.Errorf("z in the list:\n%s", hs.m.View())
	}
}
