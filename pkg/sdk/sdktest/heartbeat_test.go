package sdktest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/nats-io/nats.go/jetstream"
)

// hbNotes collects what heartbeat-test activities observe, by workflow ID.
var hbNotes = struct {
	sync.Mutex
	m map[string][]string
}{m: map[string][]string{}}

func hbNote(ctx context.Context, format string, args ...any) {
	hbNotes.Lock()
	defer hbNotes.Unlock()
	id := activity.GetInfo(ctx).WorkflowID
	hbNotes.m[id] = append(hbNotes.m[id], fmt.Sprintf(format, args...))
}

// hbReset forgets the notes of earlier tests (and runs, with -count).
func hbReset() {
	hbNotes.Lock()
	defer hbNotes.Unlock()
	clear(hbNotes.m)
}

func hbNotesOf(id string) []string {
	hbNotes.Lock()
	defer hbNotes.Unlock()
	return append([]string(nil), hbNotes.m[id]...)
}

func hasNote(id, note string) bool {
	for _, n := range hbNotesOf(id) {
		if n == note {
			return true
		}
	}
	return false
}

// HBProgress counts from where the last heartbeating attempt got to. Its
// first attempt fails at failAt ("fail") or waits there for its context to
// end ("hold": the test stops the worker; "crash": the same, after rows
// that take 300ms each).
func HBProgress(ctx context.Context, n, failAt int, mode string) (int, error) {
	info := activity.GetInfo(ctx)
	start, note := 0, ""
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &start, &note); err != nil {
			return 0, err
		}
	}
	hbNote(ctx, "attempt %d starts at %d (%q)", info.Attempt, start, note)
	for i := start; i < n; i++ {
		if mode == "crash" && info.Attempt == 1 {
			time.Sleep(300 * time.Millisecond) // a slow row
		}
		activity.RecordHeartbeat(ctx, i+1, fmt.Sprintf("row %d", i+1))
		if info.Attempt == 1 && i+1 == failAt {
			hbNote(ctx, "holding")
			if mode != "fail" {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return 0, errors.New("flaky backend")
		}
	}
	return start, nil
}

func HBProgressWorkflow(ctx workflow.Context, n, failAt int, mode string) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 20 * time.Second, RetryPolicy: fastRetry})
	var start int
	err := workflow.ExecuteActivity(ctx, HBProgress, n, failAt, mode).Get(ctx, &start)
	return start, err
}

func heartbeatKV(t *testing.T, c *client.Client) jetstream.KeyValue {
	t.Helper()
	kv, err := c.Store().JS.KeyValue(testsrv.Context(t, 5*time.Second), "df_heartbeats")
	testsrv.Must(t, err)
	return kv
}

// The details of the last heartbeat before a failure reach the retry; they
// are deleted once the activity completes.
func TestHeartbeatDetailsSurviveFailure(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBProgressWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBProgress))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-fail"}, HBProgressWorkflow, 10, 3, "fail")
	testsrv.Must(t, err)
	var start int
	testsrv.Must(t, run.Get(ctx, &start))
	// Three heartbeats in a burst: the throttle writes the first at once and
	// holds the others; the failure flushes the last one.
	want := []string{`attempt 1 starts at 0 ("")`, "holding", `attempt 2 starts at 3 ("row 3")`}
	if got := hbNotesOf("hb-fail"); start != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("resumed at %d; activity saw %q, want %q", start, got, want)
	}
	kv := heartbeatKV(t, c)
	key := run.RunID() + ".2"
	testsrv.WaitFor(t, ctx, "heartbeat details deleted", func() bool {
		_, err := kv.Get(ctx, key)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
}

// A worker stopped in the middle of an attempt leaves its latest details for
// the worker that takes the activity over.
func TestHeartbeatDetailsSurviveWorkerStop(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	reg := func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBProgressWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBProgress))
	}
	stop1 := testsrv.RunWorker(t, c, worker.Options{Identity: "first", ShutdownTimeout: 100 * time.Millisecond}, reg)
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-stop"}, HBProgressWorkflow, 8, 5, "hold")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the first attempt to reach row 5", func() bool { return hasNote("hb-stop", "holding") })
	stop1()
	testsrv.RunWorker(t, c, worker.Options{Identity: "second"}, reg)
	var start int
	testsrv.Must(t, run.Get(ctx, &start))
	if got := hbNotesOf("hb-stop"); start != 5 || got[len(got)-1] != `attempt 2 starts at 5 ("row 5")` {
		t.Fatalf("resumed at %d; activity saw %q", start, got)
	}
	evs, err := c.History(ctx, "hb-stop", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	if last := evs[len(evs)-2]; last.Type != history.ActivityCompleted || last.Identity != "second" || last.Attempt != 2 {
		t.Fatalf("activity outcome: %+v", last)
	}
}

// A worker that loses its connection (as good as a crash: nothing more is
// written, its task is not given back) leaves the details of its last
// throttled write; the task comes back after the activity task timeout and
// the next attempt resumes from them.
func TestHeartbeatDetailsSurviveWorkerCrash(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	reg := func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBProgressWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBProgress))
	}
	opts := worker.Options{Identity: "doomed", ActivityTaskTimeout: time.Second, WorkflowTaskTimeout: time.Second,
		ShutdownTimeout: 100 * time.Millisecond, Logger: testsrv.Logger(t)}
	c1 := testsrv.Client(t, s)
	w1 := worker.New(c1, opts)
	reg(w1)
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w1.Run(runCtx) }()
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-crash"}, HBProgressWorkflow, 8, 5, "crash")
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the first attempt to reach row 5", func() bool { return hasNote("hb-crash", "holding") })
	c1.Store().NC.Close()
	stopRun()
	<-ran // an error: its connection is gone
	opts.Identity = "survivor"
	testsrv.RunWorker(t, c, opts, reg)
	var start int
	testsrv.Must(t, run.Get(ctx, &start))
	// Rows end at 0.3s, 0.6s ... 1.5s: the first is written at once, the
	// next write (of row 3 or 4) a second later; row 5's is not due yet.
	got := hbNotesOf("hb-crash")
	t.Logf("resumed at row %d: %q", start, got)
	if start < 1 || start > 4 || got[len(got)-1] != fmt.Sprintf(`attempt 2 starts at %d ("row %d")`, start, start) {
		t.Fatalf("resumed at %d; activity saw %q", start, got)
	}
}

// HBStall heartbeats once and then hangs on its first attempt; later
// attempts heartbeat steadily for longer than the heartbeat timeout.
func HBStall(ctx context.Context, beats int) (string, error) {
	activity.RecordHeartbeat(ctx)
	if activity.GetInfo(ctx).Attempt == 1 {
		<-ctx.Done()
		cause := context.Cause(ctx)
		hbNote(ctx, "cause %v %s", failure.IsTimeoutError(cause), failure.TimeoutType(cause))
		return "", cause
	}
	for i := 0; i < beats; i++ {
		time.Sleep(40 * time.Millisecond) // work between heartbeats
		activity.RecordHeartbeat(ctx, i)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	return "ok", nil
}

func HBStallWorkflow(ctx workflow.Context, beats int) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 20 * time.Second, HeartbeatTimeout: 300 * time.Millisecond, RetryPolicy: fastRetry})
	var out string
	err := workflow.ExecuteActivity(ctx, HBStall, beats).Get(ctx, &out)
	return out, err
}

// An attempt that stops heartbeating fails with a heartbeat timeout and is
// retried; one that heartbeats runs past the heartbeat timeout.
func TestHeartbeatTimeoutRetries(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBStallWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBStall))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-stall"}, HBStallWorkflow, 20) // 20 x 40ms > 300ms
	testsrv.Must(t, err)
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if got := hbNotesOf("hb-stall"); out != "ok" || fmt.Sprint(got) != "[cause true Heartbeat]" {
		t.Fatalf("got %q; the first attempt saw %q", out, got)
	}
	evs, err := c.History(ctx, "hb-stall", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	var failed []history.Event
	for _, ev := range evs {
		if ev.Type == history.ActivityAttemptFailed {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("want one failed attempt, history: %v", types(evs))
	}
	f := failed[0].Failure
	if err := engine.FromFailure(f); f.Type != "TimeoutError" || failure.TimeoutType(err) != failure.TimeoutHeartbeat {
		t.Fatalf("attempt failure: %+v", f)
	}
}

// HBBlock runs until its context ends.
func HBBlock(ctx context.Context) error {
	hbNote(ctx, "run")
	<-ctx.Done()
	return ctx.Err()
}

// HBAlwaysFails fails quickly, retryably.
func HBAlwaysFails(ctx context.Context) error {
	hbNote(ctx, "run")
	return errors.New("still down")
}

// HBTimeoutWorkflow runs an activity that cannot finish in time and reports
// what the error it got says; with fail it returns that error instead.
func HBTimeoutWorkflow(ctx workflow.Context, kind string, fail bool) (string, error) {
	var opts workflow.ActivityOptions
	fn := any(HBBlock)
	switch kind {
	case "start-to-close":
		opts = workflow.ActivityOptions{StartToCloseTimeout: 200 * time.Millisecond,
			RetryPolicy: &workflow.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}}
	case "schedule-to-close-attempt":
		// The attempt's deadline is the schedule-to-close one: no retry.
		opts = workflow.ActivityOptions{StartToCloseTimeout: 20 * time.Second, ScheduleToCloseTimeout: 300 * time.Millisecond}
	case "schedule-to-close-retry":
		// Attempt 1 at 0s, attempt 2 at ~0.4s; attempt 3 would start after 1s.
		fn = HBAlwaysFails
		opts = workflow.ActivityOptions{ScheduleToCloseTimeout: time.Second,
			RetryPolicy: &workflow.RetryPolicy{InitialInterval: 400 * time.Millisecond, BackoffCoefficient: 2}}
	case "schedule-to-close-late":
		opts = workflow.ActivityOptions{TaskQueue: "hb-late", ScheduleToCloseTimeout: 300 * time.Millisecond}
	}
	ctx = workflow.WithActivityOptions(ctx, opts)
	err := workflow.ExecuteActivity(ctx, fn).Get(ctx, nil)
	if fail {
		return "", fmt.Errorf("gave up: %w", err)
	}
	var ae *failure.ActivityError
	if !errors.As(err, &ae) {
		return "", fmt.Errorf("not an activity error: %v", err)
	}
	return fmt.Sprintf("%v %s %s attempts=%d", failure.IsTimeoutError(err), failure.TimeoutType(err), failure.Type(err), ae.Attempt), nil
}

func TestActivityTimeoutsAreTyped(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	reg := func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBTimeoutWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBBlock))
		testsrv.Must(t, w.RegisterActivity(HBAlwaysFails))
	}
	startWorker(t, c, reg)
	ctx := testsrv.Context(t, 30*time.Second)
	for _, tc := range []struct{ kind, want string }{
		{"start-to-close", "true StartToClose TimeoutError attempts=2"},
		{"schedule-to-close-attempt", "true ScheduleToClose TimeoutError attempts=1"},
		{"schedule-to-close-retry", "true ScheduleToClose TimeoutError attempts=2"},
	} {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-" + tc.kind}, HBTimeoutWorkflow, tc.kind, false)
		testsrv.Must(t, err)
		var got string
		testsrv.Must(t, run.Get(ctx, &got))
		if got != tc.want {
			t.Errorf("%s: the workflow saw %q, want %q", tc.kind, got, tc.want)
		}
		if n := len(hbNotesOf("hb-" + tc.kind)); fmt.Sprintf("attempts=%d", n) != tc.want[len(tc.want)-len("attempts=1"):] {
			t.Errorf("%s: the activity ran %d times", tc.kind, n)
		}
	}

	// The last attempt's failure is the cause of a schedule-to-close timeout.
	evs, err := c.History(ctx, "hb-schedule-to-close-retry", "")
	testsrv.Must(t, err)
	last := evs[len(evs)-2]
	if last.Type != history.ActivityFailed || last.Failure.Type != "TimeoutError" || !last.Failure.NonRetryable ||
		last.Failure.Cause == nil || last.Failure.Cause.Message != "still down" {
		t.Fatalf("final failure: %+v", last)
	}

	// A workflow failing with the timeout: the client can test it too.
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-fail-with-timeout"}, HBTimeoutWorkflow, "start-to-close", true)
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	if !failure.IsTimeoutError(err) || failure.TimeoutType(err) != failure.TimeoutStartToClose {
		t.Fatalf("client got %v", err)
	}

	// A task delivered after the schedule-to-close deadline fails without
	// running: no worker serves hb-late until the deadline has passed.
	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-late"}, HBTimeoutWorkflow, "schedule-to-close-late", false)
	testsrv.Must(t, err)
	var scheduled time.Time
	testsrv.WaitFor(t, ctx, "the activity to be scheduled", func() bool {
		evs, err := c.History(ctx, "hb-late", "")
		if err != nil || len(evs) < 2 || evs[1].Type != history.ActivityScheduled {
			return false
		}
		scheduled = evs[1].Time
		return true
	})
	testsrv.WaitFor(t, ctx, "the schedule-to-close deadline to pass", func() bool {
		return time.Since(scheduled) > 300*time.Millisecond
	})
	testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"hb-late"}}, reg)
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if want := "true ScheduleToClose TimeoutError attempts=1"; got != want || len(hbNotesOf("hb-late")) != 0 {
		t.Fatalf("late task: the workflow saw %q (want %q); the activity ran %d times", got, want, len(hbNotesOf("hb-late")))
	}
}

// HBWaitCancel heartbeats until its context ends and notes why it ended.
func HBWaitCancel(ctx context.Context) error {
	hbNote(ctx, "started")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		activity.RecordHeartbeat(ctx)
		select {
		case <-ctx.Done():
			hbNote(ctx, "done: canceled=%v", failure.IsCanceledError(context.Cause(ctx)))
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// HBCancelWorkflow starts an activity and cancels it on a signal.
func HBCancelWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{HeartbeatTimeout: 5 * time.Second})
	actx, cancel := workflow.WithCancel(ctx)
	f := workflow.ExecuteActivity(actx, HBWaitCancel)
	workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	cancel()
	err := f.Get(ctx, nil)
	return fmt.Sprintf("canceled=%v", failure.IsCanceledError(err)), nil
}

// Cancelling an activity in the workflow cancels the running attempt's
// context on its worker: the workflow worker publishes the cancellation
// after recording ActivityCancelRequested.
func TestActivityCancelReachesWorker(t *testing.T) {
	hbReset()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(HBCancelWorkflow))
		testsrv.Must(t, w.RegisterActivity(HBWaitCancel))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-cancel"}, HBCancelWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the activity to start", func() bool { return hasNote("hb-cancel", "started") })
	testsrv.Must(t, c.SignalWorkflow(ctx, "hb-cancel", "", "stop", nil))
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if got != "canceled=true" {
		t.Fatalf("workflow: %q", got)
	}
	evs, err := c.History(ctx, "hb-cancel", "")
	testsrv.Must(t, err)
	if ty := types(evs); len(ty) < 4 || ty[3] != history.ActivityCancelRequested {
		t.Fatalf("history: %v", ty)
	}
	testsrv.WaitFor(t, ctx, "the attempt's context to be cancelled", func() bool {
		return hasNote("hb-cancel", "done: canceled=true")
	})

	// One message on <prefix>.actcancel.<run> cancels every activity of the
	// run (as for a terminated run). The test publishes it itself.
	run, err = c.ExecuteWorkflow(ctx, client.StartOptions{ID: "hb-cancel-run"}, HBCancelWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "the activity to start", func() bool { return hasNote("hb-cancel-run", "started") })
	testsrv.Must(t, c.TerminateWorkflow(ctx, "hb-cancel-run", "", "test"))
	testsrv.Must(t, c.Store().NC.Publish("df.actcancel."+run.RunID(), nil))
	testsrv.WaitFor(t, ctx, "the attempt's context to be cancelled", func() bool {
		return hasNote("hb-cancel-run", "done: canceled=true")
	})
}
