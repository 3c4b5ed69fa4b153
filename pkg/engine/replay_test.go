package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// TwoIncs is the recorded code: Inc then Inc.
func TwoIncs(ctx workflow.Context) (int, error) {
	var a, b int
	if err := workflow.ExecuteActivity(ctx, Inc, 1).Get(ctx, &a); err != nil {
		return 0, err
	}
	err := workflow.ExecuteActivity(ctx, Inc, a).Get(ctx, &b)
	return b, err
}

// TwoIncsChanged inserts a timer before the second step: incompatible.
func TwoIncsChanged(ctx workflow.Context) (int, error) {
	var a, b int
	if err := workflow.ExecuteActivity(ctx, Inc, 1).Get(ctx, &a); err != nil {
		return 0, err
	}
	if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
		return 0, err
	}
	err := workflow.ExecuteActivity(ctx, Inc, a).Get(ctx, &b)
	return b, err
}

// TwoIncsGuarded makes the same change behind GetVersion: compatible.
func TwoIncsGuarded(ctx workflow.Context) (int, error) {
	var a, b int
	if err := workflow.ExecuteActivity(ctx, Inc, 1).Get(ctx, &a); err != nil {
		return 0, err
	}
	if workflow.GetVersion(ctx, "pause", workflow.DefaultVersion, 1) == 1 {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
	err := workflow.ExecuteActivity(ctx, Inc, a).Get(ctx, &b)
	return b, err
}

// Both replay paths catch an incompatible change, naming the event, and
// accept a change guarded by GetVersion.
func TestReplayCatchesIncompatibleChange(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(Inc)) })
	stop := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoIncs, worker.RegisterOptions{Name: "Steps"}))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "steps"}, "Steps", nil)
	testsrv.Must(t, err)
	testsrv.Must(t, run.Get(ctx, nil))
	evs, err := c.History(ctx, "steps", "")
	testsrv.Must(t, err)
	recs, _, err := c.Store().HistoryTolerant(ctx, "steps", run.RunID())
	testsrv.Must(t, err)

	// In go test, with the replayer.
	check := func(fn any) error {
		r := replayer.New()
		testsrv.Must(t, r.RegisterWorkflowWithOptions(fn, worker.RegisterOptions{Name: "Steps"}))
		return r.ReplayHistory(history.NewFile(recs))
	}
	if err := check(TwoIncs); err != nil {
		t.Fatalf("unchanged code: %v", err)
	}
	err = check(TwoIncsChanged)
	var nde *engine.NonDeterminismError
	if !errors.As(err, &nde) || nde.Seq != 4 || !strings.Contains(nde.Recorded, "ActivityScheduled(Inc)") || !strings.Contains(nde.Produced, "TimerStarted") {
		t.Fatalf("incompatible change: %v", err)
	}
	if err := check(TwoIncsGuarded); err != nil {
		t.Fatalf("guarded change: %v", err)
	}

	// Through a live worker running the changed code.
	stop()
	stop = testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoIncsChanged, worker.RegisterOptions{Name: "Steps"}))
	})
	var res *engine.ReplayResult
	testsrv.WaitFor(t, ctx, "the new worker to answer", func() bool {
		res, err = c.Store().ReplayRun(ctx, "steps", "")
		return !errors.Is(err, engine.ErrNoWorker)
	})
	testsrv.Must(t, err)
	if res.Deterministic || res.Mismatch == nil || !strings.Contains(res.Mismatch.Message, "event 4") {
		t.Fatalf("live replay of an incompatible change: %+v", res)
	}
	stop()
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoIncsGuarded, worker.RegisterOptions{Name: "Steps"}))
	})
	testsrv.WaitFor(t, ctx, "the new worker to answer", func() bool {
		res, err = c.Store().ReplayHistory(ctx, "default", evs)
		return !errors.Is(err, engine.ErrNoWorker)
	})
	testsrv.Must(t, err)
	if !res.Deterministic {
		t.Fatalf("live replay of a guarded change: %+v", res.Mismatch)
	}
}

func TestReplayWithoutWorker(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 10*time.Second)
	_, err := c.Store().ReplayHistory(ctx, "nobody-here", []history.Event{{Seq: 1, Type: history.WorkflowStarted, Name: "X"}})
	if !errors.Is(err, engine.ErrNoWorker) {
		t.Fatalf("no worker: %v", err)
	}
}

var (
	stepACalls atomic.Int32
	stepBFixed atomic.Bool
)

func StepA(ctx context.Context) (string, error) {
	stepACalls.Add(1)
	return "a", nil
}

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

// A failed run is reset to before its failure once the bug is fixed: the
// new run keeps the history up to the boundary (StepA is not run again),
// continues with the code deployed now and completes.
func TestResetFailedRun(t *testing.T) {
	stepACalls.Store(0)
	stepBFixed.Store(false)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(AThenB))
		testsrv.Must(t, w.RegisterActivity(StepA))
		testsrv.Must(t, w.RegisterActivity(StepB))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "a-then-b"}, AThenB)
	testsrv.Must(t, err)
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("the buggy run completed")
	}
	// History: 1 started, 2 A scheduled, 3 A completed, 4 B scheduled, 5 B failed, 6 failed.
	stepBFixed.Store(true)
	res, err := c.Store().ResetWorkflow(ctx, engine.ResetRequest{WorkflowID: "a-then-b", ToEvent: 3, Reason: "B fixed"})
	testsrv.Must(t, err)
	if res.KeptThrough != 3 || res.RunID == run.RunID() || res.OldTerminate {
		// Event 3 (A completed) is kept; B, scheduled with it, is decided again.
		t.Fatalf("reset: %+v", res)
	}
	var out string
	testsrv.Must(t, c.GetWorkflow("a-then-b", res.RunID).Get(ctx, &out))
	if out != "ab" || stepACalls.Load() != 1 {
		t.Fatalf("result %q, StepA ran %d times", out, stepACalls.Load())
	}
	evs, err := c.History(ctx, "a-then-b", "")
	testsrv.Must(t, err)
	if evs[0].RunID != res.RunID || evs[0].ResetFrom == nil || evs[0].ResetFrom.RunID != run.RunID() || evs[2].Type != history.ActivityCompleted {
		t.Fatalf("new history: %+v", evs[:3])
	}
	if got := types(evs); len(got) != 6 || got[3] != history.ActivityScheduled || got[4] != history.ActivityCompleted {
		t.Fatalf("new history: %v", got)
	}
	d, err := c.Describe(ctx, "a-then-b", "")
	testsrv.Must(t, err)
	if d.RunID != res.RunID || d.Status != "completed" {
		t.Fatalf("describe: %+v", d)
	}
}

func types(evs []history.Event) []history.EventType {
	out := make([]history.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
