package sdktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/nats-io/nats.go/jetstream"
)

func SleepWorkflow(ctx workflow.Context, d time.Duration) (time.Duration, error) {
	start := workflow.Now(ctx)
	if err := workflow.Sleep(ctx, d); err != nil {
		return 0, err
	}
	return workflow.Now(ctx).Sub(start), nil
}

func TestDurableSleep(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow)) })
	ctx := testsrv.Context(t, 20*time.Second)
	t0 := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "sleeper"}, SleepWorkflow, time.Second)
	testsrv.Must(t, err)
	var slept time.Duration
	testsrv.Must(t, run.Get(ctx, &slept))
	if slept < time.Second || time.Since(t0) < time.Second {
		t.Fatalf("workflow time slept %v, wall %v; want at least 1s", slept, time.Since(t0))
	}
	evs, err := c.History(ctx, "sleeper", "")
	testsrv.Must(t, err)
	if got := types(evs); len(got) != 4 || got[1] != history.TimerStarted || got[2] != history.TimerFired || evs[2].Cause != 2 {
		t.Fatalf("history %v", got)
	}
	if late := evs[2].Time.Sub(*evs[1].FireAt); late < 0 || late > 2*time.Second {
		t.Fatalf("timer fired %v after its due time", late)
	}
}

// Slowish finishes after its argument, unless cancelled.
func Slowish(ctx context.Context, d time.Duration) (string, error) {
	select {
	case <-time.After(d):
		return "done", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// TimeoutWorkflow races an activity against a timer; the loser is cancelled.
func TimeoutWorkflow(ctx workflow.Context, work, limit time.Duration) (string, error) {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(tctx, limit)
	act := workflow.ExecuteActivity(ctx, Slowish, work)
	var out string
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(act, func(f workflow.Future) {
		cancelTimer()
		if err := f.Get(ctx, &out); err != nil {
			out = "error"
		}
	})
	sel.AddFuture(timer, func(f workflow.Future) { out = "timeout" })
	sel.Select(ctx)
	// A cancelled timer reports cancellation.
	if err := timer.Get(ctx, nil); out != "timeout" && !failure.IsCanceledError(err) {
		return "", err
	}
	return out, nil
}

func TestTimerInSelectorAndCancel(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TimeoutWorkflow))
		testsrv.Must(t, w.RegisterActivity(Slowish))
	})
	ctx := testsrv.Context(t, 20*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fast"}, TimeoutWorkflow, 10*time.Millisecond, time.Minute)
	testsrv.Must(t, err)
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "done" {
		t.Fatalf("fast activity: %q", out)
	}
	evs, err := c.History(ctx, "fast", "")
	testsrv.Must(t, err)
	var timerSeq int64
	cancelled := false
	for _, ev := range evs {
		switch ev.Type {
		case history.TimerStarted:
			timerSeq = ev.Seq
		case history.TimerCanceled:
			cancelled = ev.Cause == timerSeq
		}
	}
	if !cancelled {
		t.Fatalf("timer %d not cancelled: %v", timerSeq, types(evs))
	}
	// The cancelled timer's schedule is gone from JetStream.
	info, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	si, err := info.Info(ctx, jetstream.WithSubjectFilter("df.task.sched.>"))
	testsrv.Must(t, err)
	if len(si.State.Subjects) != 0 { // State.Msgs counts the whole stream
		t.Fatalf("schedules left after the timer was cancelled: %v", si.State.Subjects)
	}

	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "slow"}, TimeoutWorkflow, time.Minute, 200*time.Millisecond)
	testsrv.Must(t, err)
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "timeout" {
		t.Fatalf("slow activity: %q", out)
	}
}

// A timer that falls due while the server and every worker are down fires
// at once when they come back.
func TestTimerFiresAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	s := testsrv.StartIn(t, dir)
	ctx := testsrv.Context(t, 60*time.Second)
	c, err := client.Dial(ctx, client.Options{URL: s.ClientURL()})
	testsrv.Must(t, err)
	stop := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow)) })
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "restart-sleeper"}, SleepWorkflow, 2*time.Second)
	testsrv.Must(t, err)
	var fireAt time.Time
	testsrv.WaitFor(t, ctx, "timer started", func() bool {
		evs, err := c.History(ctx, "restart-sleeper", "")
		if err == nil && len(evs) > 1 && evs[1].Type == history.TimerStarted {
			fireAt = *evs[1].FireAt
			return true
		}
		return false
	})
	stop()
	c.Close()
	s.Stop()
	// Stay down past the due time.
	select {
	case <-time.After(time.Until(fireAt) + 500*time.Millisecond):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	s2 := testsrv.StartIn(t, dir)
	c2 := testsrv.Client(t, s2)
	startWorker(t, c2, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow)) })
	restarted := time.Now()
	testsrv.Must(t, c2.GetWorkflow(run.ID(), run.RunID()).Get(ctx, nil))
	if d := time.Since(restarted); d > 2*time.Second {
		t.Fatalf("overdue timer fired %v after the restart", d)
	}
}

// A run still open at its execution timeout ends as timed_out, and its
// timers go with it.
func TestWorkflowExecutionTimeout(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SleepWorkflow)) })
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "too-slow", WorkflowExecutionTimeout: 500 * time.Millisecond}, SleepWorkflow, time.Hour)
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	var wee *failure.WorkflowExecutionError
	if !errors.As(err, &wee) || wee.Status != "timed_out" || !failure.IsTimeoutError(err) || failure.TimeoutType(err) != "WorkflowExecution" {
		t.Fatalf("Get: %v", err)
	}
	evs, err := c.History(ctx, "too-slow", "")
	testsrv.Must(t, err)
	if got := types(evs); got[len(got)-1] != history.WorkflowTimedOut {
		t.Fatalf("history %v", got)
	}
	st, err := c.Store().JS.Stream(ctx, "DF_TASKS")
	testsrv.Must(t, err)
	si, err := st.Info(ctx, jetstream.WithSubjectFilter("df.task.sched.>"))
	testsrv.Must(t, err)
	// With a subject filter the server lists the matching subjects;
	// State.Msgs stays the whole stream's count (a task whose ack is on
	// its way counted there: the test failed under load).
	if len(si.State.Subjects) != 0 {
		t.Fatalf("schedules left after the timeout: %v", si.State.Subjects)
	}
}
