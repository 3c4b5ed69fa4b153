package sdktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

var fastRetry = &workflow.RetryPolicy{InitialInterval: 50 * time.Millisecond, BackoffCoefficient: 1.5, MaximumAttempts: 5}

func Add(ctx context.Context, a, b int) (int, error) { return a + b, nil }

func SumWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second, RetryPolicy: fastRetry})
	total := 0
	for i := 0; i < n; i++ {
		var out int
		if err := workflow.ExecuteActivity(ctx, Add, total, i).Get(ctx, &out); err != nil {
			return 0, err
		}
		total = out
	}
	return total, nil
}

// startWorker runs a worker with the registrations reg makes until the test ends.
func startWorker(t *testing.T, c *client.Client, reg func(w *worker.Worker)) {
	t.Helper()
	testsrv.RunWorker(t, c, worker.Options{}, reg)
}

func TestSequentialActivities(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "sum-1"}, SumWorkflow, 5)
	testsrv.Must(t, err)
	var got int
	testsrv.Must(t, run.Get(ctx, &got))
	if got != 10 {
		t.Fatalf("got %d, want 10", got)
	}
	evs, err := c.History(ctx, "sum-1", "")
	testsrv.Must(t, err)
	// started + 5 x (scheduled, completed) + completed
	if len(evs) != 12 {
		t.Fatalf("history has %d events, want 12: %+v", len(evs), evs)
	}
	checkWellFormed(t, evs)
	// Each activity after the first was caused by the previous completion.
	if evs[3].Type != "ActivityScheduled" || evs[3].Cause != 3 || evs[1].Cause != 1 {
		t.Fatalf("causes: %+v %+v", evs[1], evs[3])
	}
}

func Boom(ctx context.Context) error {
	return failure.NewNonRetryableError("card declined", "CardDeclined")
}

func FailingWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: fastRetry})
	err := workflow.ExecuteActivity(ctx, Boom).Get(ctx, nil)
	return "", fmt.Errorf("charge failed: %w", err)
}

func PanicWorkflow(ctx workflow.Context) (string, error) {
	var m map[string]int
	m["x"] = 1
	return "", nil
}

func TestFailuresReachClient(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	// FailWorkflow: a panic fails the run (by default it blocks it:
	// panicpolicy_test.go).
	testsrv.RunWorker(t, c, worker.Options{WorkflowPanicPolicy: worker.FailWorkflow}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FailingWorkflow))
		testsrv.Must(t, w.RegisterWorkflow(PanicWorkflow))
		testsrv.Must(t, w.RegisterActivity(Boom))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{}, FailingWorkflow)
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	var wee *failure.WorkflowExecutionError
	if !errors.As(err, &wee) || failure.Type(err) != "CardDeclined" || !strings.Contains(err.Error(), "card declined") {
		t.Fatalf("want workflow error of type CardDeclined, got %v", err)
	}
	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{}, PanicWorkflow)
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	var pe *failure.PanicError
	if !errors.As(err, &pe) || !strings.Contains(pe.Stack, "PanicWorkflow") {
		t.Fatalf("want panic error with stack, got %v", err)
	}
}
