package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func WatchedWorkflow(ctx workflow.Context, wait bool) (string, error) {
	if wait {
		var v string
		workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
		return v, nil
	}
	return "quick", nil
}

// A run started by a client whose runs watch is running is waited for
// without reading its entry: its close reaches the watch. The wait gets
// the result whether the run closes before the wait begins or during it,
// and the client keeps nothing of the runs once they closed.
func TestWaitForRunsStartedHere(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(WatchedWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	// The first wait starts the watch.
	first, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "watched-first"}, WatchedWorkflow, false)
	testsrv.Must(t, err)
	testsrv.Must(t, first.Get(ctx, nil))

	// Closed before the wait begins.
	var quick []client.WorkflowRun
	for i := range 20 {
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("watched-quick-%d", i)}, WatchedWorkflow, false)
		testsrv.Must(t, err)
		quick = append(quick, r)
	}
	for _, r := range quick {
		testsrv.WaitFor(t, ctx, "the quick run to close", func() bool {
			d, err := c.Describe(ctx, r.ID(), r.RunID())
			return err == nil && d.Status == engine.StatusCompleted
		})
	}
	for _, r := range quick {
		var v string
		testsrv.Must(t, r.Get(ctx, &v))
		if v != "quick" {
			t.Fatalf("%s: result %q", r.ID(), v)
		}
	}
	// Closed while the wait is on.
	slow, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "watched-slow"}, WatchedWorkflow, true)
	testsrv.Must(t, err)
	if n := c.Store().OpenRunsWatched(); n != 1 {
		t.Fatalf("the watch follows %d runs started here, want 1 (the open one)", n)
	}
	done := make(chan error, 1)
	var v string
	go func() { done <- slow.Get(ctx, &v) }()
	testsrv.Must(t, c.SignalWorkflow(ctx, "watched-slow", "", "go", "late"))
	testsrv.Must(t, <-done)
	if v != "late" {
		t.Fatalf("slow run result %q", v)
	}
	testsrv.WaitFor(t, ctx, "the watch to forget the closed runs", func() bool { return c.Store().OpenRunsWatched() == 0 })

	// A run that closes before its start returns (a worker took the start
	// task at once and ran it to the end while the client's publish was
	// being acknowledged): the wait must not count on a close it missed.
	var raced atomic.Bool
	defer engine.SetTestHookStart(func(step string) bool {
		if step == "task" && raced.CompareAndSwap(false, true) {
			testsrv.WaitFor(t, ctx, "the run to close before its start returns", func() bool {
				d, err := c.Describe(ctx, "watched-raced", "")
				return err == nil && d.Status == engine.StatusCompleted
			})
		}
		return false
	})()
	rr, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "watched-raced"}, WatchedWorkflow, false)
	testsrv.Must(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rr.Get(wctx, &v); err != nil || v != "quick" {
		t.Fatalf("a run that closed before its start returned: Get %q, %v", v, err)
	}
}
