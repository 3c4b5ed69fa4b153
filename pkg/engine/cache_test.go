package engine_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

var idleStarts atomic.Int32

// IdleWorkflow counts how often its code starts: once, unless its run was
// evicted from the cache and replayed.
func IdleWorkflow(ctx workflow.Context) (string, error) {
	idleStarts.Add(1)
	var s string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &s)
	return "got " + s, nil
}

// A run idle in the cache past CacheIdleTimeout is evicted (its goroutine
// and memory freed); the next task replays it from its history and it
// completes as if it had stayed.
func TestIdleRunEvictedAndReplayed(t *testing.T) {
	idleStarts.Store(0)
	log, logs := testsrv.CaptureLogs(t)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{CacheIdleTimeout: 200 * time.Millisecond, Logger: log}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdleWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "idle"}, IdleWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the idle run evicted", func() bool {
		return idleStarts.Load() == 1 && logs.Count(func(r testsrv.LogRecord) bool { return r.Msg == "run cache: idle runs evicted" }) > 0
	})
	testsrv.Must(t, c.SignalWorkflow(ctx, "idle", "", "go", "now"))
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "got now" {
		t.Fatalf("result %q", out)
	}
	if n := idleStarts.Load(); n != 2 {
		t.Fatalf("the workflow code started %d times, want 2 (once, then replayed after the eviction)", n)
	}
}

// With the idle timeout off, the run stays cached: no replay.
func TestIdleEvictionOff(t *testing.T) {
	idleStarts.Store(0)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{CacheIdleTimeout: -1}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdleWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "kept"}, IdleWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run started", func() bool { return idleStarts.Load() == 1 })
	testsrv.Must(t, c.SignalWorkflow(ctx, "kept", "", "go", "now"))
	testsrv.Must(t, run.Get(ctx, nil))
	if n := idleStarts.Load(); n != 1 {
		t.Fatalf("the workflow code started %d times, want 1 (the run stayed cached)", n)
	}
}
