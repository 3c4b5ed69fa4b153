package tui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"
	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/durablefuture/durablefuture/tui"
)

// The flows run the inspector as a program (teatest) against an embedded
// server; what it writes goes through a terminal emulator, and the tests
// read the emulator's screen: what a terminal would show.

func options(c *client.Client) tui.Options {
	return tui.Options{
		Source:       tui.StoreSource{Store: c.Store()},
		NoColor:      true,
		Copy:         func(string) error { return nil },
		ListInterval: 200 * time.Millisecond,
	}
}

func start(t *testing.T, c *client.Client, id, typ string) *engine.RunInfo {
	t.Helper()
	ri, err := c.Store().StartWorkflow(testsrv.Context(t, 10*time.Second), engine.StartRequest{WorkflowID: id, Type: typ, Input: json.RawMessage(`["x"]`)})
	testsrv.Must(t, err)
	return ri
}

// appendEvents writes a record on a run's log as a worker would.
func appendEvents(t *testing.T, c *client.Client, ri *engine.RunInfo, evs ...history.Event) {
	t.Helper()
	ctx := testsrv.Context(t, 10*time.Second)
	log := c.Store().Log
	subj, err := log.Subject(ri.WorkflowID, ri.RunID)
	testsrv.Must(t, err)
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	_, err = log.Append(ctx, subj, history.TailOf(recs), &history.Record{Kind: history.KindDecision, Events: evs})
	testsrv.Must(t, err)
}

// flow is the inspector running as a program, and the terminal it draws
// on.
type flow struct {
	*teatest.TestModel
	term *vt.Emulator
}

func newFlow(t *testing.T, o tui.Options, w, h int) *flow {
	t.Helper()
	f := &flow{TestModel: teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(w, h)), term: vt.NewEmulator(w, h)}
	// The terminal's answers (to the background colour question) go
	// nowhere: the program reads no input here.
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, f.term); close(done) }()
	// Closing the input pipe ends the copy; Close would race with the
	// Read it is blocked in (the emulator's closed flag is not guarded).
	t.Cleanup(func() {
		if pw, ok := f.term.InputPipe().(*io.PipeWriter); ok {
			_ = pw.Close()
			<-done
		}
	})
	return f
}

// screen is the terminal's screen, after what the program wrote so far.
func (f *flow) screen(t *testing.T) string {
	t.Helper()
	b, err := io.ReadAll(f.Output())
	if err != nil {
		t.Fatal(err)
	}
	// Output to a terminal in cooked mode (the program did not make it raw:
	// its input is no terminal) has its newlines turned into CR LF.
	if _, err := f.term.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))); err != nil {
		t.Fatal(err)
	}
	return f.term.String()
}

// waitFor waits until the screen satisfies cond.
func (f *flow) waitFor(t *testing.T, what string, cond func(screen string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := f.screen(t)
		if cond(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitScreen(t *testing.T, f *flow, want ...string) {
	t.Helper()
	f.waitFor(t, strings.Join(want, ", "), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

func quit(t *testing.T, f *flow) {
	t.Helper()
	f.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	f.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

var (
	enter = tea.KeyPressMsg{Code: tea.KeyEnter}
	esc   = tea.KeyPressMsg{Code: tea.KeyEscape}
)

func TestFlowListFilterOpen(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	start(t, c, "order-a", "OrderWorkflow")
	start(t, c, "order-b", "OrderWorkflow")
	pay := start(t, c, "pay-c", "PaymentWorkflow")
	appendEvents(t, c, pay, history.Event{Seq: 2, Time: time.Now(), Type: history.ActivityScheduled, Name: "ChargeCard", Cause: 1, Input: json.RawMessage(`[12.5]`)})

	tm := newFlow(t, options(c), 120, 40)
	waitScreen(t, tm, "runs (3)", "order-a", "order-b", "pay-c", "● running")

	tm.Type("/pay")
	tm.Send(enter)
	waitScreen(t, tm, "runs (1 of 3)")

	tm.Send(enter)
	waitScreen(t, tm, "pay-c", "workflow started", "activity … running", "ChargeCard")

	// A run started meanwhile shows in the list when it is back.
	start(t, c, "order-d", "OrderWorkflow")
	tm.Send(esc)
	tm.Send(esc)
	waitScreen(t, tm, "runs (4)", "order-d")
	quit(t, tm)
}

func TestFlowFollowShowsNewEvents(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	ri := start(t, c, "follow-me", "OrderWorkflow")

	o := options(c)
	o.WorkflowID = "follow-me"
	tm := newFlow(t, o, 120, 40)
	// A running run opens followed.
	waitScreen(t, tm, "workflow started", "1 event", "FOLLOW")

	now := time.Now()
	appendEvents(t, c, ri, history.Event{Seq: 2, Time: now, Type: history.ActivityScheduled, Name: "ReserveStock", Cause: 1, Input: json.RawMessage(`["sku-1"]`)})
	waitScreen(t, tm, "ReserveStock", "activity … running")
	appendEvents(t, c, ri,
		history.Event{Seq: 3, Time: now.Add(time.Second), Type: history.ActivityCompleted, Name: "ReserveStock", Cause: 2, Attempt: 1, Result: json.RawMessage(`"res-1"`)},
		history.Event{Seq: 4, Time: now.Add(time.Second), Type: history.WorkflowCompleted, Cause: 3, Result: json.RawMessage(`"done"`)})
	waitScreen(t, tm, "workflow completed", "✓ completed")
	quit(t, tm)
}

func TestFlowConfirmedCancel(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(approval.ExpenseApprovalWorkflow))
		testsrv.Must(t, w.RegisterActivity(approval.RequestApprovalActivity))
		testsrv.Must(t, w.RegisterActivity(approval.RecordDecisionActivity))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "expense-1"}, approval.ExpenseApprovalWorkflow, "exp-1", 99.0, 3600)
	testsrv.Must(t, err)

	o := options(c)
	o.WorkflowID = run.ID()
	tm := newFlow(t, o, 120, 40)
	waitScreen(t, tm, "timer … pending", "FOLLOW")

	tm.Type("c")
	waitScreen(t, tm, "Cancel expense-1?")
	tm.Type("not needed")
	tm.Send(enter)
	// One wait: the events may be drawn before the status line is.
	waitScreen(t, tm, "cancel requested for expense-1", "workflow cancel requested", "⊘ canceled")

	var out any
	if err := run.Get(ctx, &out); err == nil {
		t.Fatal("the run completed; want it canceled")
	}
	quit(t, tm)
}

// StepA and StepB are the activities of AThenB; StepB fails for good until
// it is fixed.
var stepBFixed atomic.Bool

func StepA(ctx context.Context) (string, error) { return "a", nil }

func StepB(ctx context.Context, a string) (string, error) {
	if !stepBFixed.Load() {
		return "", engine.NewNonRetryableApplicationError("bug in B", "Bug")
	}
	return a + "b", nil
}

func AThenB(ctx workflow.Context) (string, error) {
	var a, b string
	if err := workflow.ExecuteActivity(ctx, StepA).Get(ctx, &a); err != nil {
		return "", err
	}
	err := workflow.ExecuteActivity(ctx, StepB, a).Get(ctx, &b)
	return b, err
}

// runAThenB runs AThenB on a worker of an embedded server until it fails:
// 1 started, 2 A scheduled, 3 A completed, 4 B scheduled, 5 B failed,
// 6 workflow failed.
func runAThenB(t *testing.T) (*client.Client, client.WorkflowRun) {
	t.Helper()
	stepBFixed.Store(false)
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(AThenB))
		testsrv.Must(t, w.RegisterActivity(StepA))
		testsrv.Must(t, w.RegisterActivity(StepB))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "a-then-b"}, AThenB)
	testsrv.Must(t, err)
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("the buggy run completed")
	}
	return c, run
}

func TestFlowReplayCheck(t *testing.T) {
	c, _ := runAThenB(t)
	o := options(c)
	o.WorkflowID = "a-then-b"
	tm := newFlow(t, o, 120, 40)
	// The card says why first: the failure's type and message, its cause.
	waitScreen(t, tm, "✗ failed", "workflow failed", "failure: ", "bug in B", "event 6 · workflow failed")
	tm.Type("R")
	waitScreen(t, tm, "replay check of a-then-b: deterministic")
	quit(t, tm)
}

// S asks a live worker where the run's code waits; the answer shows in
// the detail pane.
func TestFlowStack(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(approval.ExpenseApprovalWorkflow))
		testsrv.Must(t, w.RegisterActivity(approval.RequestApprovalActivity))
		testsrv.Must(t, w.RegisterActivity(approval.RecordDecisionActivity))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "expense-stack"}, approval.ExpenseApprovalWorkflow, "exp-2", 10.0, 3600)
	testsrv.Must(t, err)

	o := options(c)
	o.WorkflowID = run.ID()
	tm := newFlow(t, o, 120, 40)
	waitScreen(t, tm, "timer … pending", "pending: timer (event", "fires")
	tm.Type("S")
	waitScreen(t, tm, "stack · after event", "main  blocked in")
	quit(t, tm)
}

func TestFlowReplayCheckWithoutWorker(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	start(t, c, "nobody-runs-me", "OrderWorkflow")
	o := options(c)
	o.WorkflowID = "nobody-runs-me"
	tm := newFlow(t, o, 120, 40)
	waitScreen(t, tm, "workflow started")
	tm.Type("R")
	waitScreen(t, tm, "✗ replay check of nobody-runs-me: no worker answered")
	quit(t, tm)
}

func TestFlowConfirmedResetOfFailedRun(t *testing.T) {
	c, run := runAThenB(t)
	o := options(c)
	o.WorkflowID = "a-then-b"
	tm := newFlow(t, o, 120, 40)
	waitScreen(t, tm, "✗ failed", "workflow failed")

	// The StepB row (event 4): the code is fixed, run it again from there.
	stepBFixed.Store(true)
	tm.Type("G")
	tm.Type("k")
	tm.Type("z")
	waitScreen(t, tm, "Reset a-then-b to event 4 · ActivityScheduled?")
	tm.Type("B fixed")
	tm.Send(enter)

	// The new run is on show: its ID in the status line and the header,
	// then its completion.
	var newRun string
	tm.waitFor(t, "the new run, completed", func(s string) bool {
		const said = "reset to event 4 as run "
		i := strings.Index(s, said)
		if i < 0 || len(s) < i+len(said)+36 {
			return false
		}
		newRun = s[i+len(said) : i+len(said)+36]
		return strings.Contains(s, "a-then-b  run "+newRun) && strings.Contains(s, "✓ completed")
	})

	ctx := testsrv.Context(t, 10*time.Second)
	d, err := c.Describe(ctx, "a-then-b", "")
	testsrv.Must(t, err)
	if d.RunID != newRun || newRun == run.RunID() || d.Status != "completed" {
		t.Fatalf("latest run %s (%s), shown %s, old %s", d.RunID, d.Status, newRun, run.RunID())
	}
	quit(t, tm)
}
