package sdktest

import (
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// Countdown adds n to total with an activity, then continues as new with
// n-1 until n is 0.
func Countdown(ctx workflow.Context, n, total int) (int, error) {
	if n == 0 {
		return total, nil
	}
	var sum int
	if err := workflow.ExecuteActivity(ctx, Add, total, n).Get(ctx, &sum); err != nil {
		return 0, err
	}
	return 0, workflow.NewContinueAsNewError(ctx, Countdown, n-1, sum)
}

func TestContinueAsNew(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(Countdown))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	first, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "countdown"}, Countdown, 4, 0)
	testsrv.Must(t, err)
	var total int
	testsrv.Must(t, first.Get(ctx, &total)) // follows the chain
	if total != 10 {
		t.Fatalf("total %d, want 10", total)
	}
	// The first run continued as new; each run has its own short history.
	d, err := c.Describe(ctx, "countdown", first.RunID())
	testsrv.Must(t, err)
	if d.Status != "continued_as_new" || d.Next == "" {
		t.Fatalf("first run: %+v", d)
	}
	runs := 1
	for next := d.Next; next != ""; runs++ {
		evs, err := c.History(ctx, "countdown", next)
		testsrv.Must(t, err)
		if evs[0].Seq != 1 || evs[0].ContinuedFrom == "" || len(evs) > 5 {
			t.Fatalf("run %s history: %v", next, types(evs))
		}
		last := evs[len(evs)-1]
		next = ""
		if last.Type == history.WorkflowContinuedAsNew {
			next = last.Next.RunID
		}
	}
	if runs != 5 {
		t.Fatalf("%d runs in the chain, want 5", runs)
	}
	latest, err := c.Describe(ctx, "countdown", "")
	testsrv.Must(t, err)
	if latest.Status != "completed" || string(latest.Result) != "10" || latest.ContinuedFrom == "" {
		t.Fatalf("latest run: %+v", latest)
	}
}
