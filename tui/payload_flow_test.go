package tui_test

import (
	"context"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func NopStep(ctx context.Context, i int) error { return nil }

// TooMuchAtOnce schedules n activities in one decision.
func TooMuchAtOnce(ctx workflow.Context, n int) error {
	for i := range n {
		workflow.ExecuteActivity(ctx, NopStep, i)
	}
	return workflow.Sleep(ctx, time.Hour)
}

// A run whose decision does not fit the server's max_payload shows as
// blocked, with the reason, in the list and in its view.
func TestFlowDecisionTooLargeShowsBlocked(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TooMuchAtOnce))
		testsrv.Must(t, w.RegisterActivity(NopStep))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "too-much"}, TooMuchAtOnce, 12000)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the run to be marked blocked", func() bool {
		ri, err := c.Describe(ctx, "too-much", "")
		return err == nil && ri.Blocked != ""
	})

	tm := newFlow(t, options(c), 160, 40)
	waitScreen(t, tm, "too-much", "⚠ blocked")
	quit(t, tm)

	o := options(c)
	o.WorkflowID = "too-much"
	tm = newFlow(t, o, 160, 40)
	waitScreen(t, tm, "blocked: ", "decision too large", "workflow task failed")
	quit(t, tm)
}
