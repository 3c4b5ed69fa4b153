package sdktest

import (
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// Worker safety (issue 9): workflow code that breaks the scheduler's rules
// (a go statement that calls the workflow API, code that does not yield)
// blocks its own run, never the worker process or its other runs.

// foreignEnded counts the goroutines started with the go statement that
// ended after their workflow call (the engine ends them; their deferred
// calls run).
var foreignEnded atomic.Int32

func GoSleepBad(ctx workflow.Context) (string, error) {
	go func() {
		defer foreignEnded.Add(1)
		_ = workflow.Sleep(ctx, time.Second)
	}()
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return "bad", nil
}

func GoActivityBad(ctx workflow.Context) (int, error) {
	go func() {
		defer foreignEnded.Add(1)
		_ = workflow.ExecuteActivity(ctx, Add, 1, 2).Get(ctx, nil)
	}()
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return 0, nil
}

// GoSleepFixed and GoActivityFixed are the same code with workflow.Go.
func GoSleepFixed(ctx workflow.Context) (string, error) {
	done := workflow.NewChannel(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		_ = workflow.Sleep(ctx, 10*time.Millisecond)
		done.Send(ctx, true)
	})
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	done.Receive(ctx, nil)
	return "slept", nil
}

func GoActivityFixed(ctx workflow.Context) (int, error) {
	sums := workflow.NewChannel(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var sum int
		_ = workflow.ExecuteActivity(ctx, Add, 1, 2).Get(ctx, &sum)
		sums.Send(ctx, sum)
	})
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	var sum int
	sums.Receive(ctx, &sum)
	return sum, nil
}

// inSubprocess runs the calling test again in a child process (the test
// binary, for this test only) and reports whether the caller is that child.
// The parent fails if the child fails or dies: a test of "the worker
// process survives" must not take the whole test binary down when the
// worker does not.
func inSubprocess(t *testing.T) (child bool) {
	t.Helper()
	const env = "DF_TEST_SUBPROCESS"
	if os.Getenv(env) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Fatalf("the test process failed or died (%v); last lines of its output:\n%s", err, strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the child process did not run %s:\n%s", t.Name(), out)
	}
	return false
}

// A go statement in workflow code whose goroutine calls the workflow API
// (workflow.Sleep, ExecuteActivity(...).Get) used to kill the worker
// process (a panic on a goroutine nobody recovers: exit 2, every run it
// hosts). Now the goroutine is ended, its run is blocked with DF1007 naming
// workflow.Go, the worker goes on with its other runs, and the run
// completes once a worker with fixed code takes it.
func TestGoStatementBlocksRunNotWorker(t *testing.T) {
	if !inSubprocess(t) {
		return
	}
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	stopBad := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GoSleepBad, worker.RegisterOptions{Name: "GoSleep"}))
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GoActivityBad, worker.RegisterOptions{Name: "GoActivity"}))
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	sleepRun, err := c.StartJSON(ctx, client.StartOptions{ID: "go-sleep"}, "GoSleep", nil)
	testsrv.Must(t, err)
	actRun, err := c.StartJSON(ctx, client.StartOptions{ID: "go-activity"}, "GoActivity", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "both go statements' goroutines to make their workflow call and end", func() bool {
		return foreignEnded.Load() >= 2
	})

	// The worker process is alive and runs other workflows.
	sum, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "go-sum"}, SumWorkflow, 4)
	testsrv.Must(t, err)
	var got int
	testsrv.Must(t, sum.Get(ctx, &got))
	if got != 6 {
		t.Fatalf("sum = %d, want 6", got)
	}

	// The next task of each run blocks it, naming workflow.Go and where.
	for id, api := range map[string]string{"go-sleep": "workflow.Sleep", "go-activity": "workflow.ExecuteActivity"} {
		testsrv.Must(t, c.SignalWorkflow(ctx, id, "", "go", nil))
		var blocked string
		testsrv.WaitFor(t, ctx, id+" blocked", func() bool {
			ri, err := c.Describe(ctx, id, "")
			blocked = ""
			if err == nil {
				blocked = ri.Blocked
			}
			return blocked != ""
		})
		for _, want := range []string{"DF1007", "workflow.Go", api, "workersafety_test.go:"} {
			if !strings.Contains(blocked, want) {
				t.Errorf("%s: blocked reason %q does not say %q", id, blocked, want)
			}
		}
		evs, err := c.History(ctx, id, "")
		testsrv.Must(t, err)
		last := evs[len(evs)-1]
		if last.Type != history.WorkflowTaskFailed || last.Failure == nil || last.Failure.Message != blocked || last.Failure.Type != "WorkflowCodeError" {
			t.Errorf("%s: the history ends with %+v, want the WorkflowTaskFailed of %q", id, last, blocked)
		}
	}
	stopBad()

	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GoSleepFixed, worker.RegisterOptions{Name: "GoSleep"}))
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GoActivityFixed, worker.RegisterOptions{Name: "GoActivity"}))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	var slept string
	testsrv.Must(t, sleepRun.Get(ctx, &slept))
	var three int
	testsrv.Must(t, actRun.Get(ctx, &three))
	if slept != "slept" || three != 3 {
		t.Fatalf("fixed code returned %q and %d", slept, three)
	}
	for _, id := range []string{"go-sleep", "go-activity"} {
		ri, err := c.Describe(ctx, id, "")
		testsrv.Must(t, err)
		if ri.Blocked != "" {
			t.Errorf("%s still marked blocked: %q", id, ri.Blocked)
		}
	}
}

// sleeping counts the runs of SleepyBad inside time.Sleep now.
var sleeping atomic.Int32

func SleepyBad(ctx workflow.Context) (string, error) {
	sleeping.Add(1)
	defer sleeping.Add(-1)
	time.Sleep(3 * time.Second) // blocks the workflow goroutine without yielding
	return "bad", nil
}

func SleepyFixed(ctx workflow.Context) (string, error) {
	if err := workflow.Sleep(ctx, 10*time.Millisecond); err != nil {
		return "", err
	}
	return "fixed", nil
}

// Workflow code that does not yield for longer than the deadlock timeout
// (time.Sleep here) is reported as a deadlock (DF1006) and its run blocked;
// the worker's task slot is given back meanwhile, so another run completes
// on the same one-slot worker while the stuck code still sleeps. The
// abandoned goroutine ends quietly when it wakes, and the run completes
// from its history on a worker with fixed code.
func TestDeadlockBlocksRunNotWorker(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	stopBad := testsrv.RunWorker(t, c, worker.Options{DeadlockTimeout: 500 * time.Millisecond, MaxConcurrentWorkflowTasks: 1}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(SleepyBad, worker.RegisterOptions{Name: "Sleepy"}))
		testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
		testsrv.Must(t, w.RegisterActivity(Add))
	})
	ctx := testsrv.Context(t, 60*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "sleepy"}, "Sleepy", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the workflow code to sleep", func() bool { return sleeping.Load() > 0 })

	sum, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "sleepy-sum"}, SumWorkflow, 3)
	testsrv.Must(t, err)
	testsrv.Must(t, sum.Get(ctx, nil))
	if sleeping.Load() == 0 {
		t.Fatal("the other run completed only after the stuck workflow code returned: the worker's task slot was stalled")
	}

	var blocked string
	testsrv.WaitFor(t, ctx, "the run blocked", func() bool {
		ri, err := c.Describe(ctx, "sleepy", "")
		blocked = ""
		if err == nil {
			blocked = ri.Blocked
		}
		return blocked != ""
	})
	for _, want := range []string{"DF1006", "Sleepy", `"main"`, "500ms", "workersafety_test.go:", "SleepyBad", "workflow.Sleep"} {
		if !strings.Contains(blocked, want) {
			t.Errorf("blocked reason %q does not say %q", blocked, want)
		}
	}
	stopBad()

	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(SleepyFixed, worker.RegisterOptions{Name: "Sleepy"}))
	})
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "fixed" {
		t.Fatalf("result %q", out)
	}
	// The abandoned goroutines wake up, find their run gone and end
	// without touching anything (the race detector watches).
	testsrv.WaitFor(t, ctx, "the abandoned workflow goroutines to end", func() bool { return sleeping.Load() == 0 })
}
