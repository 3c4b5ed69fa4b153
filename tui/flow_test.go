package tui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
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
// server: what it draws is what a terminal would show.

func options(c *client.Client) tui.Options {
	return tui.Options{
		Source:       tui.StoreSource{Store: c.Store()},
		Renderer:     lipgloss.NewRenderer(io.Discard),
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

func waitScreen(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func quit(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

func TestFlowListFilterOpen(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	start(t, c, "order-a", "OrderWorkflow")
	start(t, c, "order-b", "OrderWorkflow")
	pay := start(t, c, "pay-c", "PaymentWorkflow")
	appendEvents(t, c, pay, history.Event{Seq: 2, Time: time.Now(), Type: history.ActivityScheduled, Name: "ChargeCard", Cause: 1, Input: json.RawMessage(`[12.5]`)})

	tm := teatest.NewTestModel(t, tui.New(options(c)), teatest.WithInitialTermSize(120, 40))
	waitScreen(t, tm, "runs (3)", "order-a", "order-b", "pay-c", "● running")

	tm.Type("/pay")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, "runs (1 of 3)")

	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, "pay-c", "workflow started", "activity … running", "ChargeCard")

	// A run started meanwhile shows in the list when it is back.
	start(t, c, "order-d", "OrderWorkflow")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	waitScreen(t, tm, "runs (4)", "order-d")
	quit(t, tm)
}

func TestFlowFollowShowsNewEvents(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	ri := start(t, c, "follow-me", "OrderWorkflow")

	o := options(c)
	o.WorkflowID = "follow-me"
	tm := teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(120, 40))
	waitScreen(t, tm, "workflow started", "1 event")
	tm.Type("f")
	waitScreen(t, tm, "FOLLOW")

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
	tm := teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(120, 40))
	tm.Type("f")
	waitScreen(t, tm, "timer … pending", "FOLLOW")

	tm.Type("c")
	waitScreen(t, tm, "Cancel expense-1?")
	tm.Type("not needed")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
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
	tm := teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(120, 40))
	waitScreen(t, tm, "✗ failed", "workflow failed")
	tm.Type("R")
	waitScreen(t, tm, "replay check of a-then-b: deterministic")
	quit(t, tm)
}

func TestFlowReplayCheckWithoutWorker(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	start(t, c, "nobody-runs-me", "OrderWorkflow")
	o := options(c)
	o.WorkflowID = "nobody-runs-me"
	tm := teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(120, 40))
	waitScreen(t, tm, "workflow started")
	tm.Type("R")
	waitScreen(t, tm, "✗ replay check of nobody-runs-me: no worker answered")
	quit(t, tm)
}

func TestFlowConfirmedResetOfFailedRun(t *testing.T) {
	c, run := runAThenB(t)
	o := options(c)
	o.WorkflowID = "a-then-b"
	tm := teatest.NewTestModel(t, tui.New(o), teatest.WithInitialTermSize(120, 40))
	waitScreen(t, tm, "✗ failed", "workflow failed")

	// The StepB row (event 4): the code is fixed, run it again from there.
	stepBFixed.Store(true)
	tm.Type("G")
	tm.Type("k")
	tm.Type("z")
	waitScreen(t, tm, "Reset a-then-b to event 4 · ActivityScheduled?")
	tm.Type("B fixed")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})

	// The new run is on show: its ID in the status line and the header,
	// then its completion.
	var newRun string
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		const said = "reset to event 4 as run "
		i := bytes.Index(b, []byte(said))
		if i < 0 || len(b) < i+len(said)+36 {
			return false
		}
		newRun = string(b[i+len(said) : i+len(said)+36])
		return bytes.Contains(b, []byte("a-then-b  run "+newRun)) && bytes.Contains(b, []byte("✓ completed"))
	}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))

	ctx := testsrv.Context(t, 10*time.Second)
	d, err := c.Describe(ctx, "a-then-b", "")
	testsrv.Must(t, err)
	if d.RunID != newRun || newRun == run.RunID() || d.Status != "completed" {
		t.Fatalf("latest run %s (%s), shown %s, old %s", d.RunID, d.Status, newRun, run.RunID())
	}
	quit(t, tm)
}
