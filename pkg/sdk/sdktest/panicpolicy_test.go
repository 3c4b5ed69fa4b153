package sdktest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// Panic policy (issue 9): a panic in workflow code, or a recorded value
// that does not decode into the code's types, blocks the run (DF1005)
// until a worker with fixed code takes it; WorkflowPanicPolicy FailWorkflow
// fails the run instead.

// TwoStepsBad panics on its second step (a bug in newly deployed code).
func TwoStepsBad(ctx workflow.Context, n int) (int, error) {
	var a int
	if err := workflow.ExecuteActivity(ctx, Add, n, 1).Get(ctx, &a); err != nil {
		return 0, err
	}
	steps := []int{a}
	return steps[a], nil // index out of range
}

// TwoStepsFixed is the same code with the bug fixed.
func TwoStepsFixed(ctx workflow.Context, n int) (int, error) {
	var a int
	if err := workflow.ExecuteActivity(ctx, Add, n, 1).Get(ctx, &a); err != nil {
		return 0, err
	}
	var b int
	if err := workflow.ExecuteActivity(ctx, Add, a, 10).Get(ctx, &b); err != nil {
		return 0, err
	}
	return b, nil
}

// DecodeBad takes Add's int result into a string: the recorded value does
// not decode into the code's type.
func DecodeBad(ctx workflow.Context, n int) (int, error) {
	var s string
	if err := workflow.ExecuteActivity(ctx, Add, n, 1).Get(ctx, &s); err != nil {
		return 0, err
	}
	return len(s), nil
}

func waitBlocked(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	var blocked string
	testsrv.WaitFor(t, testsrv.Context(t, 30*time.Second), id+" blocked", func() bool {
		ri, err := c.Describe(testsrv.Context(t, 5*time.Second), id, "")
		blocked = ""
		if err == nil {
			blocked = ri.Blocked
		}
		return blocked != ""
	})
	return blocked
}

func TestWorkflowPanicBlocksRunUntilFixed(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	stopBad := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoStepsBad, worker.RegisterOptions{Name: "TwoSteps"}))
		testsrv.Must(t, w.RegisterWorkflowWithOptions(DecodeBad, worker.RegisterOptions{Name: "Decode"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "panic-2nd"}, "TwoSteps", json.RawMessage(`[1]`))
	testsrv.Must(t, err)
	drun, err := c.StartJSON(ctx, client.StartOptions{ID: "decode-bad"}, "Decode", json.RawMessage(`[1]`))
	testsrv.Must(t, err)
	_, err = c.StartJSON(ctx, client.StartOptions{ID: "args-bad"}, "TwoSteps", json.RawMessage(`["one"]`))
	testsrv.Must(t, err)

	for id, wants := range map[string][]string{
		"panic-2nd":  {"DF1005", "TwoSteps", "panic: runtime error: index out of range", "panicpolicy_test.go:"},
		"decode-bad": {"DF1005", "Decode", "decode result into *string", "panicpolicy_test.go:"},
		"args-bad":   {"DF1005", "TwoSteps", "arguments do not decode", "argument 1 (int)"},
	} {
		blocked := waitBlocked(t, c, id)
		t.Logf("%s: %s", id, blocked)
		if strings.Contains(blocked, "\n") {
			t.Errorf("%s: blocked reason is not one line: %q", id, blocked)
		}
		for _, want := range wants {
			if !strings.Contains(blocked, want) {
				t.Errorf("%s: blocked reason %q does not say %q", id, blocked, want)
			}
		}
		evs, err := c.History(ctx, id, "")
		testsrv.Must(t, err)
		for _, ev := range evs {
			if ev.Type == history.WorkflowFailed {
				t.Fatalf("%s: the run failed: %+v", id, ev)
			}
		}
		last := evs[len(evs)-1]
		if last.Type != history.WorkflowTaskFailed || last.Failure == nil || last.Failure.Message != blocked ||
			last.Failure.Type != "WorkflowCodeError" || (id != "args-bad" && !strings.Contains(last.Failure.Stack, "goroutine")) {
			t.Errorf("%s: the history ends with %+v, want the WorkflowTaskFailed of %q with the stack", id, last, blocked)
		}
	}
	stopBad()

	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoStepsFixed, worker.RegisterOptions{Name: "TwoSteps"}))
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoStepsFixed, worker.RegisterOptions{Name: "Decode"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	for _, r := range []client.WorkflowRun{run, drun} {
		var got int
		testsrv.Must(t, r.Get(ctx, &got))
		if got != 12 {
			t.Fatalf("fixed code returned %d, want 12", got)
		}
	}
	ri, err := c.Describe(ctx, "panic-2nd", "")
	testsrv.Must(t, err)
	if ri.Blocked != "" {
		t.Errorf("still marked blocked: %q", ri.Blocked)
	}
}

func TestWorkflowPanicFailPolicyFailsRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{WorkflowPanicPolicy: worker.FailWorkflow}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(TwoStepsBad, worker.RegisterOptions{Name: "TwoSteps"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "panic-fail"}, "TwoSteps", json.RawMessage(`[1]`))
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	if !failure.IsPanicError(err) || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("want the run failed with the panic, got %v", err)
	}
}
