package sdktest

import (
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// A worker with ClosedRunRetention deletes a closed run (state and history)
// once it closed longer ago than that, and leaves running ones alone.
func TestWorkerClosedRunRetention(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{ClosedRunRetention: 300 * time.Millisecond}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
		testsrv.Must(t, w.RegisterWorkflow(NapWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "kept-running"}, NapWorkflow, time.Hour)
	testsrv.Must(t, err)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "swept"}, SumWorkflow, 2)
	testsrv.Must(t, err)
	testsrv.Must(t, run.Get(ctx, nil))
	for {
		_, err := c.Describe(ctx, "swept", "")
		if errors.Is(err, engine.ErrWorkflowNotFound) {
			break
		}
		if err != nil && !errors.Is(err, engine.ErrWorkflowNotFound) {
			t.Fatalf("describe swept: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the closed run was never deleted by the worker's retention sweep")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if evs, err := c.History(ctx, "swept", ""); err == nil && len(evs) > 0 {
		t.Fatalf("the deleted run's history is still readable: %d events", len(evs))
	}
	if _, err := c.Describe(ctx, "kept-running", ""); err != nil {
		t.Fatalf("the running run must be kept: %v", err)
	}
}
