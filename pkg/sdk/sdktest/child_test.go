package sdktest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// SquareChild squares n with an activity; a negative n fails.
func SquareChild(ctx workflow.Context, n int) (int, error) {
	if n < 0 {
		return 0, failure.NewNonRetryableError(fmt.Sprintf("%d is negative", n), "ChildBoom")
	}
	var out int
	err := workflow.ExecuteActivity(ctx, Add, n*n, 0).Get(ctx, &out)
	return out, err
}

// FanOutParent runs one child per input and sums their results.
func FanOutParent(ctx workflow.Context, ns []int) (int, error) {
	futs := make([]workflow.ChildWorkflowFuture, len(ns))
	for i, n := range ns {
		futs[i] = workflow.ExecuteChildWorkflow(ctx, SquareChild, n)
	}
	sum := 0
	for _, f := range futs {
		var v int
		if err := f.Get(ctx, &v); err != nil {
			return 0, fmt.Errorf("child: %w", err)
		}
		sum += v
	}
	return sum, nil
}

func TestChildWorkflowsFanOut(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanOutParent))
		testsrv.Must(t, w.RegisterWorkflow(SquareChild))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fan-parent"}, FanOutParent, []int{1, 2, 3, 4})
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	if sum != 30 {
		t.Fatalf("sum %d", sum)
	}
	// Each history links to the other.
	evs, err := c.History(ctx, "fan-parent", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	n := 0
	for _, ev := range evs {
		if ev.Type != history.ChildWorkflowScheduled {
			continue
		}
		n++
		child, err := c.History(ctx, ev.Child.WorkflowID, ev.Child.RunID)
		testsrv.Must(t, err)
		p := child[0].Parent
		if p == nil || p.WorkflowID != "fan-parent" || p.RunID != run.RunID() || p.Seq != ev.Seq {
			t.Fatalf("child %s does not link back: %+v", ev.Child.WorkflowID, p)
		}
		d, err := c.Describe(ctx, ev.Child.WorkflowID, "")
		testsrv.Must(t, err)
		if d.Status != "completed" || d.Parent == nil {
			t.Fatalf("child describe: %+v", d)
		}
	}
	if n != 4 {
		t.Fatalf("%d children scheduled", n)
	}

	// A child's failure reaches the parent with its type.
	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fan-fail"}, FanOutParent, []int{1, -2})
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	var cwe *failure.ChildWorkflowError
	if failure.Type(err) != "ChildBoom" {
		t.Fatalf("parent failure: %v (type %q)", err, failure.Type(err))
	}
	_ = errors.As(err, &cwe)
}

// SleepyChild sleeps for an hour unless stopped.
func SleepyChild(ctx workflow.Context) error { return workflow.Sleep(ctx, time.Hour) }

// ShortParent starts a sleepy child with a policy and returns at once.
func ShortParent(ctx workflow.Context, policy string) (workflow.WorkflowExecution, error) {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{ParentClosePolicy: workflow.ParentClosePolicy(policy)})
	var we workflow.WorkflowExecution
	err := workflow.ExecuteChildWorkflow(ctx, SleepyChild).GetChildWorkflowExecution().Get(ctx, &we)
	return we, err
}

func TestParentClosePolicy(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(ShortParent))
		testsrv.Must(t, w.RegisterWorkflow(SleepyChild))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	for policy, want := range map[string]string{"terminate": "terminated", "request_cancel": "canceled", "abandon": "running"} {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "parent-" + policy}, ShortParent, policy)
		testsrv.Must(t, err)
		var we workflow.WorkflowExecution
		testsrv.Must(t, run.Get(ctx, &we))
		if want == "running" {
			d, err := c.Describe(ctx, we.ID, we.RunID)
			testsrv.Must(t, err)
			if d.Status != "running" {
				t.Fatalf("abandoned child: %s", d.Status)
			}
			continue
		}
		ri, err := c.WaitClosed(ctx, we.ID, we.RunID)
		testsrv.Must(t, err)
		if string(ri.Status) != want {
			t.Fatalf("%s: child ended %s, want %s", policy, ri.Status, want)
		}
	}
}
