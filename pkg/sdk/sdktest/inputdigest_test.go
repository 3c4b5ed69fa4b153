package sdktest

import (
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// ArgsV1 adds 1 and 2, then waits for a signal before returning the sum.
func ArgsV1(ctx workflow.Context) (int, error) {
	var sum int
	if err := workflow.ExecuteActivity(ctx, Add, 1, 2).Get(ctx, &sum); err != nil {
		return 0, err
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return sum, nil
}

// ArgsV2 changed an argument of the activity: the result recorded for
// Add(1, 2) is not Add(1, 3)'s.
func ArgsV2(ctx workflow.Context) (int, error) {
	var sum int
	if err := workflow.ExecuteActivity(ctx, Add, 1, 3).Get(ctx, &sum); err != nil {
		return 0, err
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return sum, nil
}

// Commands are compared with their inputs (issue 9): new code that calls
// the same activity with other arguments blocks the run with DF1004,
// showing both; a worker that lists the activity in LenientInputs lets it
// go on.
func TestChangedActivityArgumentsBlockRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 60*time.Second)
	stop := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(ArgsV1, worker.RegisterOptions{Name: "Args"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "args"}, "Args", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the activity's outcome recorded", func() bool {
		evs, err := c.History(ctx, "args", "")
		for _, ev := range evs {
			if err == nil && ev.Type == history.ActivityCompleted {
				return true
			}
		}
		return false
	})
	stop()

	stop = testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(ArgsV2, worker.RegisterOptions{Name: "Args"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	testsrv.Must(t, c.SignalWorkflow(ctx, "args", "", "go", nil))
	blocked := waitBlocked(t, c, "args")
	for _, want := range []string{"DF1004", "input mismatch", "Args", "ActivityScheduled(Add) with [1,2]", "ActivityScheduled(Add) with [1,3]", "workflow.GetVersion"} {
		if !strings.Contains(blocked, want) {
			t.Errorf("blocked reason %q does not say %q", blocked, want)
		}
	}
	stop()

	testsrv.RunWorker(t, c, worker.Options{LenientInputs: []string{"Add"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(ArgsV2, worker.RegisterOptions{Name: "Args"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	if sum != 3 {
		t.Fatalf("sum %d, want the recorded 3", sum)
	}
}
