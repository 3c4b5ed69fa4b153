package sdktest

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// CollectWorkflow receives n "item" signals and returns them in the order
// it received them.
func CollectWorkflow(ctx workflow.Context, n int) ([]int, error) {
	ch := workflow.GetSignalChannel(ctx, "item")
	var got []int
	for len(got) < n {
		var v int
		ch.Receive(ctx, &v)
		got = append(got, v)
	}
	return got, nil
}

type decision struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
}

// ApprovalWorkflow waits for an approval signal with a timer as deadline.
func ApprovalWorkflow(ctx workflow.Context, deadline time.Duration) (string, error) {
	var d decision
	timedOut := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, "decision"), func(c workflow.Channel, more bool) { c.Receive(ctx, &d) })
	sel.AddFuture(workflow.NewTimer(ctx, deadline), func(workflow.Future) { timedOut = true })
	sel.Select(ctx)
	switch {
	case timedOut:
		return "expired", nil
	case d.Approved:
		return "approved by " + d.By, nil
	}
	return "rejected by " + d.By, nil
}

func TestSignals(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(CollectWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(ApprovalWorkflow))
	})
	ctx := testsrv.Context(t, 30*time.Second)

	// Signals sent in a burst arrive in the order they were accepted.
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "collect"}, CollectWorkflow, 30)
	testsrv.Must(t, err)
	for i := range 30 {
		testsrv.Must(t, c.SignalWorkflow(ctx, "collect", "", "item", i))
	}
	var got []int
	testsrv.Must(t, run.Get(ctx, &got))
	for i, v := range got {
		if v != i {
			t.Fatalf("signals out of order: %v", got)
		}
	}
	evs, err := c.History(ctx, "collect", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)

	// A signal to a closed or unknown workflow is a clear error.
	if err := c.SignalWorkflow(ctx, "collect", "", "item", 99); !errors.Is(err, failure.ErrWorkflowClosed) {
		t.Fatalf("signal to a completed workflow: %v", err)
	}
	if err := c.SignalWorkflow(ctx, "nobody", "", "item", 1); !errors.Is(err, failure.ErrWorkflowNotFound) {
		t.Fatalf("signal to an unknown workflow: %v", err)
	}

	// Signal-with-start starts the run, then signals the running one.
	run, err = c.SignalWithStartWorkflow(ctx, "approve-1", "decision", decision{Approved: true, By: "ann"}, client.StartOptions{}, ApprovalWorkflow, time.Minute)
	testsrv.Must(t, err)
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "approved by ann" {
		t.Fatalf("approval: %q", out)
	}
	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "approve-2"}, ApprovalWorkflow, 300*time.Millisecond)
	testsrv.Must(t, err)
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "expired" {
		t.Fatalf("deadline: %q", out)
	}
}

// Signals sent while the workflow worker is SIGKILLed are neither lost nor
// applied twice, and keep their order.
func TestSignalsAcrossWorkerKill(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	child := startChildWorker(t, s.ClientURL())
	ctx := testsrv.Context(t, 60*time.Second)
	const n = 60
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "signals-kill"}, CollectWorkflow, n)
	testsrv.Must(t, err)
	for i := range n {
		if i == n/3 {
			testsrv.Must(t, child.Process.Signal(syscall.SIGKILL))
		}
		if i == 2*n/3 {
			startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(CollectWorkflow)) })
		}
		testsrv.Must(t, c.SignalWorkflow(ctx, "signals-kill", "", "item", i))
	}
	var got []int
	testsrv.Must(t, run.Get(ctx, &got))
	if fmt.Sprint(got) != fmt.Sprint(seq(n)) {
		t.Fatalf("got %v", got)
	}
	evs, err := c.History(ctx, "signals-kill", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	seen := map[uint64]bool{}
	for _, ev := range evs {
		if ev.Type == history.SignalReceived {
			if seen[ev.SignalSeq] {
				t.Fatalf("signal %d applied twice", ev.SignalSeq)
			}
			seen[ev.SignalSeq] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("%d signals recorded, want %d", len(seen), n)
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
