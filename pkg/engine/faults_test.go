package engine_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func WaitThenInc(ctx workflow.Context) (int, error) {
	var n int
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &n)
	var out int
	err := workflow.ExecuteActivity(ctx, Inc, n).Get(ctx, &out)
	return out, err
}

// When JetStream has no room for a decision, the run is marked blocked
// with the reason (not retried every second for ever) and resumes by
// itself once space is freed, with no restart.
func TestStorageFullBlocksThenResumes(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(WaitThenInc))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "full"}, WaitThenInc)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run started", func() bool {
		evs, err := c.History(ctx, "full", "")
		return err == nil && len(evs) >= 1
	})
	// An operator caps the history stream at what it holds now: the next
	// decision has no room.
	js := c.Store().JS
	st, err := js.Stream(ctx, "DF_HISTORY")
	testsrv.Must(t, err)
	info, err := st.Info(ctx)
	testsrv.Must(t, err)
	cfg := info.Config
	cfg.MaxBytes = int64(info.State.Bytes) + 300 // room for the signal, not the decision
	_, err = js.UpdateStream(ctx, cfg)
	testsrv.Must(t, err)
	testsrv.Must(t, c.SignalWorkflow(ctx, "full", "", "go", 41))
	testsrv.WaitFor(t, ctx, "the run marked blocked: storage full", func() bool {
		ri, err := c.Describe(ctx, "full", "")
		return err == nil && strings.Contains(ri.Blocked, "storage is full")
	})
	cfg.MaxBytes = -1
	_, err = js.UpdateStream(ctx, cfg)
	testsrv.Must(t, err)
	var out int
	testsrv.Must(t, run.Get(ctx, &out))
	if out != 42 {
		t.Fatalf("result %d, want 42", out)
	}
	ri, err := c.Describe(ctx, "full", "")
	testsrv.Must(t, err)
	if ri.Status != engine.StatusCompleted || ri.Blocked != "" {
		t.Fatalf("after space was freed: %+v", ri)
	}
}

// A worker that dies right after committing a decision made on a signals
// wake-up (before publishing the activity task that decision requires) must
// not strand the run: the redelivered wake-up finds no new signal, and
// re-publishes what the decision that applied the last signal requires.
func TestSignalDecisionCrashWindow(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 30*time.Second)
	var armed, crashes atomic.Int32
	defer engine.SetTestHookAfterDecision(func() bool {
		return armed.Load() == 1 && crashes.Add(1) == 1
	})()
	testsrv.RunWorker(t, c, worker.Options{WorkflowTaskTimeout: 500 * time.Millisecond}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(WaitThenInc))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "sig-crash"}, WaitThenInc)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run started", func() bool {
		evs, err := c.History(ctx, "sig-crash", "")
		return err == nil && len(evs) >= 1
	})
	armed.Store(1)
	testsrv.Must(t, c.SignalWorkflow(ctx, "sig-crash", "", "go", 1))
	var out int
	testsrv.Must(t, run.Get(ctx, &out))
	if out != 2 || crashes.Load() < 1 {
		t.Fatalf("result %d after %d crashes; want 2 after one crash", out, crashes.Load())
	}
}
