package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func Square(ctx context.Context, n int) (int, error) { return n * n, nil }

func FanInWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var fs []workflow.Future
	for i := range n {
		fs = append(fs, workflow.ExecuteActivity(ctx, Square, i))
	}
	sum := 0
	for _, f := range fs {
		var v int
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// Completions of a fan-out that arrive together are applied by one
// decision: far fewer decision records than activities, every outcome
// recorded once, the right result.
func TestFanInMergesCompletions(t *testing.T) {
	const n = 300
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 60*time.Second)
	// The completions pile up while no workflow worker runs, then arrive
	// together at the one that starts: they must not take a decision each.
	stopWF := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanInWorkflow))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fan-in"}, FanInWorkflow, n)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the activities scheduled", func() bool {
		evs, err := c.History(ctx, "fan-in", "")
		return err == nil && len(evs) >= n+1
	})
	stopWF()
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Square))
	})
	testsrv.WaitFor(t, ctx, "every completion waiting", func() bool { return wfPending(ctx, c) >= n })
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanInWorkflow))
	})
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	want := 0
	for i := range n {
		want += i * i
	}
	if sum != want {
		t.Fatalf("sum %d, want %d", sum, want)
	}
	log := c.Store().Log
	subj, err := log.Subject("fan-in", run.RunID())
	testsrv.Must(t, err)
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	decisions, outcomes := 0, map[int64]int{}
	for _, rec := range recs {
		if rec.Kind == history.KindDecision {
			decisions++
		}
		for _, ev := range rec.Events {
			if ev.Type == history.ActivityCompleted {
				outcomes[ev.Cause]++
			}
		}
	}
	if len(outcomes) != n {
		t.Fatalf("%d activities have an outcome, want %d", len(outcomes), n)
	}
	for seq, k := range outcomes {
		if k != 1 {
			t.Fatalf("activity %d has %d outcomes", seq, k)
		}
	}
	t.Logf("%d activities, %d decision records", n, decisions)
	if decisions > n/2 {
		t.Fatalf("%d decisions for %d completions: they were not merged", decisions, n)
	}
}
