package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func hasEvent(t *testing.T, ctx context.Context, c *client.Client, id string, pred func(history.Event) bool) bool {
	evs, err := c.History(ctx, id, "")
	if err != nil {
		return false
	}
	for _, ev := range evs {
		if pred(ev) {
			return true
		}
	}
	return false
}

func Inc(ctx context.Context, n int) (int, error) { return n + 1, nil }

func FanOut(ctx workflow.Context, n int) (int, error) {
	futs := make([]workflow.Future, n)
	for i := range futs {
		futs[i] = workflow.ExecuteActivity(ctx, Inc, i)
	}
	sum := 0
	for _, f := range futs {
		var v int
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// Invariant 1: two appends expecting the same last sequence cannot both win.
func TestSingleWriterPerRun(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 10*time.Second)
	log := c.Store().Log
	subj, err := log.Subject("w", "r1")
	testsrv.Must(t, err)
	rec := func() *history.Record {
		return &history.Record{Kind: history.KindDecision, Events: []history.Event{{Seq: 1, Type: history.WorkflowTaskFailed}}}
	}
	seq, err := log.Append(ctx, subj, history.Tail{}, rec())
	testsrv.Must(t, err)
	if _, err := log.Append(ctx, subj, history.Tail{}, rec()); !errors.Is(err, history.ErrConflict) {
		t.Fatalf("second writer with a stale expectation: %v, want ErrConflict", err)
	}
	if _, err := log.Append(ctx, subj, history.Tail{Seq: seq}, rec()); err != nil {
		t.Fatalf("writer with the current expectation: %v", err)
	}
}

// Invariant 2: one workflow task's events are one message on the run's subject.
func TestDecisionIsOneRecord(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanOut))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "fan"}, FanOut, 10)
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	subj, _ := c.Store().Log.Subject("fan", run.RunID())
	recs, err := c.Store().Log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	if len(recs) < 2 || len(recs[1].Events) != 10 || recs[1].Kind != history.KindDecision {
		t.Fatalf("the first decision should hold the 10 scheduled activities in one record, got %d records, second has %d events", len(recs), len(recs[1].Events))
	}
	for _, ev := range recs[1].Events {
		if ev.Type != history.ActivityScheduled {
			t.Fatalf("first decision holds %s", ev.Type)
		}
	}
}

// Invariant 3: a worker that dies after committing a decision but before
// publishing its tasks and acking its input loses nothing: the redelivered
// input re-publishes what the decision requires.
func TestNoCrashWindowAfterDecision(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	var crashes atomic.Int32
	defer engine.SetTestHookAfterDecision(func() bool { return crashes.Add(1) <= 2 })()
	testsrv.RunWorker(t, c, worker.Options{WorkflowTaskTimeout: 500 * time.Millisecond}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanOut))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "crashy"}, FanOut, 3)
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	if sum != 6 {
		t.Fatalf("sum %d", sum)
	}
	if crashes.Load() < 2 {
		t.Fatal("hook did not run")
	}
	evs, err := c.History(ctx, "crashy", "")
	testsrv.Must(t, err)
	if n := len(evs); n != 8 {
		t.Fatalf("history has %d events, want 8", n)
	}
}

// Invariant 4: an input delivered twice (a new message id, as after the
// de-duplication window) is applied once.
func TestRedeliveredInputAppliedOnce(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(FanOut)) })
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "dup-input"}, FanOut, 2)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "activities scheduled", func() bool {
		return hasEvent(t, ctx, c, "dup-input", func(ev history.Event) bool { return ev.Type == history.ActivityScheduled })
	})
	done := map[string]any{"type": history.ActivityCompleted, "cause": 2, "result": 1, "attempt": 1}
	for _, msgID := range []string{"a", "b", "c"} {
		testsrv.Must(t, c.Store().PublishWorkflowInput("default", "dup-input", run.RunID(), "act:2:done", msgID, done))
	}
	done3 := map[string]any{"type": history.ActivityCompleted, "cause": 3, "result": 2, "attempt": 1}
	testsrv.Must(t, c.Store().PublishWorkflowInput("default", "dup-input", run.RunID(), "act:3:done", "d", done3))
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
	if sum != 3 {
		t.Fatalf("sum %d, want 3", sum)
	}
	evs, err := c.History(ctx, "dup-input", "")
	testsrv.Must(t, err)
	n := 0
	for _, ev := range evs {
		if ev.InputID == "act:2:done" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("input applied %d times", n)
	}
}

var flakyAttempts atomic.Int32

func FlakyOnce(ctx context.Context) (string, error) {
	if flakyAttempts.Add(1) == 1 {
		return "", errors.New("first attempt fails")
	}
	return "ok", nil
}

func RetryWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: &workflow.RetryPolicy{InitialInterval: 1500 * time.Millisecond}})
	var s string
	err := workflow.ExecuteActivity(ctx, FlakyOnce).Get(ctx, &s)
	return s, err
}

// Invariant 5: the retry back-off lives in JetStream: the worker that saw
// the failure stops, another runs the retry when it falls due.
func TestRetryBackoffSurvivesWorker(t *testing.T) {
	flakyAttempts.Store(0)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(RetryWorkflow)) })
	stopA := testsrv.RunWorker(t, c, worker.Options{Identity: "activity-a"}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(FlakyOnce)) })
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "backoff"}, RetryWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "first attempt failed", func() bool { return flakyAttempts.Load() >= 1 })
	stopA()
	testsrv.RunWorker(t, c, worker.Options{Identity: "activity-b"}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(FlakyOnce)) })
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	evs, err := c.History(ctx, "backoff", "")
	testsrv.Must(t, err)
	var failed, done *history.Event
	for i := range evs {
		switch evs[i].Type {
		case history.ActivityAttemptFailed:
			failed = &evs[i]
		case history.ActivityCompleted:
			done = &evs[i]
		}
	}
	if failed == nil || done == nil || failed.Identity != "activity-a" || done.Identity != "activity-b" || done.Attempt != 2 {
		t.Fatalf("want attempt 1 failed on a, attempt 2 done on b: %+v %+v", failed, done)
	}
	if done.StartedAt.Before(failed.NextAttemptAt.Add(-300 * time.Millisecond)) {
		t.Fatalf("retry started at %v, before its back-off ended at %v", done.StartedAt, failed.NextAttemptAt)
	}
}

var gate = make(chan struct{})

func Gate(ctx context.Context, name string) (string, error) {
	select {
	case <-gate:
		return name, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func GatedV1(ctx workflow.Context) (string, error) {
	var a, b string
	if err := workflow.ExecuteActivity(ctx, Gate, "x").Get(ctx, &a); err != nil {
		return "", err
	}
	if err := workflow.ExecuteActivity(ctx, Inc, 1).Get(ctx, nil); err != nil {
		return "", err
	}
	return a + b, nil
}

// GatedV2 changed the first step: incompatible with V1's histories.
func GatedV2(ctx workflow.Context) (string, error) {
	err := workflow.ExecuteActivity(ctx, Inc, 0).Get(ctx, nil)
	return "", err
}

// Invariant 6: code that no longer matches the history is detected, the
// mismatch is recorded naming the event, and the run waits (blocked) until
// compatible code takes it.
func TestNonDeterminismDetectedAndRecorded(t *testing.T) {
	gate = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Gate))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	stopV1 := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GatedV1, worker.RegisterOptions{Name: "Gated"}))
	})
	ctx := testsrv.Context(t, 40*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "nde"}, "Gated", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "first activity scheduled", func() bool {
		return hasEvent(t, ctx, c, "nde", func(ev history.Event) bool { return ev.Type == history.ActivityScheduled })
	})
	stopV1()
	stopV2 := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GatedV2, worker.RegisterOptions{Name: "Gated"}))
	})
	close(gate) // the activity result makes the V2 worker replay V1's history
	var msg string
	testsrv.WaitFor(t, ctx, "non-determinism recorded", func() bool {
		return hasEvent(t, ctx, c, "nde", func(ev history.Event) bool {
			if ev.Type == history.WorkflowTaskFailed && ev.Failure != nil {
				msg = ev.Failure.Message
				return true
			}
			return false
		})
	})
	for _, want := range []string{"event 2", "ActivityScheduled(Gate)", "ActivityScheduled(Inc)"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("non-determinism error %q does not name %q", msg, want)
		}
	}
	testsrv.WaitFor(t, ctx, "describe to say blocked", func() bool {
		d, err := c.Describe(ctx, "nde", "")
		return err == nil && d.Status == engine.StatusRunning && strings.Contains(d.Blocked, "non-deterministic")
	})
	stopV2()
	// Compatible code comes back: the run continues by itself.
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(GatedV1, worker.RegisterOptions{Name: "Gated"}))
	})
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "x" {
		t.Fatalf("result %q", out)
	}
	d, err := c.Describe(ctx, "nde", "")
	testsrv.Must(t, err)
	if d.Blocked != "" {
		t.Fatalf("still marked blocked: %+v", d)
	}
}

func PanicActivity(ctx context.Context) error { panic("activity exploded") }

func PanicActivityWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: &workflow.RetryPolicy{MaximumAttempts: 2, InitialInterval: 10 * time.Millisecond}})
	return workflow.ExecuteActivity(ctx, PanicActivity).Get(ctx, nil)
}

// Invariant 7: an activity panic is a failure with its stack, retried by
// policy, and reaches the client.
func TestActivityPanicIsAFailure(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(PanicActivityWorkflow))
		testsrv.Must(t, w.RegisterActivity(PanicActivity))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "apanic"}, PanicActivityWorkflow)
	testsrv.Must(t, err)
	err = run.Get(ctx, nil)
	var pe *engine.PanicError
	if !errors.As(err, &pe) || !strings.Contains(pe.Stack, "PanicActivity") || !strings.Contains(err.Error(), "activity exploded") {
		t.Fatalf("want a panic error with its stack, got %v", err)
	}
	evs, err := c.History(ctx, "apanic", "")
	testsrv.Must(t, err)
	var types []string
	for _, ev := range evs {
		types = append(types, string(ev.Type))
	}
	if got := strings.Join(types, ","); got != "WorkflowStarted,ActivityScheduled,ActivityAttemptFailed,ActivityFailed,WorkflowFailed" {
		t.Fatalf("history %s", got)
	}
}

func TestTopologyIdempotent(t *testing.T) {
	s := testsrv.Start(t)
	ctx := testsrv.Context(t, 10*time.Second)
	for range 2 {
		c, err := client.Dial(ctx, client.Options{URL: s.ClientURL(), Prefix: "other", Replicas: 1, Storage: "memory"})
		testsrv.Must(t, err)
		c.Close()
	}
	if _, err := client.Dial(ctx, client.Options{URL: s.ClientURL(), Prefix: "bad.prefix"}); err == nil {
		t.Fatal("a prefix with a dot was accepted")
	}
}

var slowStarted = make(chan struct{}, 4)

// Slow runs until its context ends, unless it is the second attempt.
func Slow(ctx context.Context) (int, error) {
	slowStarted <- struct{}{}
	if info := engine.GetActivityInfo(ctx); info.Attempt > 1 {
		return info.Attempt, nil
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

func SlowWorkflow(ctx workflow.Context) (int, error) {
	var n int
	err := workflow.ExecuteActivity(ctx, Slow).Get(ctx, &n)
	return n, err
}

// A worker shut down while an activity runs past the shutdown timeout
// cancels it and gives the task back at once, to the next worker, without
// waiting for the task timeout and without recording a failure.
func TestShutdownReleasesRunningActivity(t *testing.T) {
	slowStarted = make(chan struct{}, 4)
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(SlowWorkflow)) })
	stopA := testsrv.RunWorker(t, c, worker.Options{ShutdownTimeout: 100 * time.Millisecond, ActivityTaskTimeout: time.Minute}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Slow))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "release"}, SlowWorkflow)
	testsrv.Must(t, err)
	select {
	case <-slowStarted:
	case <-ctx.Done():
		t.Fatal("activity did not start")
	}
	stopA()
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: time.Minute}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(Slow)) })
	var n int
	testsrv.Must(t, run.Get(ctx, &n))
	if n != 2 {
		t.Fatalf("completed on attempt %d, want 2", n)
	}
	if hasEvent(t, ctx, c, "release", func(ev history.Event) bool { return ev.Type == history.ActivityAttemptFailed }) {
		t.Fatal("the released attempt was recorded as a failure")
	}
}

// On a 3-node cluster with replicated streams (R3 answers a stale expected
// sequence with 10164, not 10071) runs complete and racing writers still
// lose cleanly.
func TestReplicatedCluster(t *testing.T) {
	urls := testsrv.StartCluster(t)
	ctx := testsrv.Context(t, 60*time.Second)
	dial := func(u string) *client.Client {
		c, err := client.Dial(ctx, client.Options{URL: u, Replicas: 3})
		testsrv.Must(t, err)
		t.Cleanup(c.Close)
		return c
	}
	c := dial(urls[0])
	log := c.Store().Log
	subj, _ := log.Subject("r3", "run")
	rec := &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: 1, Type: history.WorkflowTaskFailed}}}
	_, err := log.Append(ctx, subj, history.Tail{}, rec)
	testsrv.Must(t, err)
	if _, err := log.Append(ctx, subj, history.Tail{}, rec); !errors.Is(err, history.ErrConflict) {
		t.Fatalf("stale writer on R3: %v, want ErrConflict", err)
	}
	// Two workflow workers on different nodes.
	testsrv.RunWorker(t, dial(urls[1]), worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(FanOut)) })
	testsrv.RunWorker(t, dial(urls[2]), worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(FanOut))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	var runs []client.WorkflowRun
	for i := range 10 {
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: fmt.Sprintf("r3-%d", i)}, FanOut, 5)
		testsrv.Must(t, err)
		runs = append(runs, r)
	}
	for _, r := range runs {
		var sum int
		if err := r.Get(ctx, &sum); err != nil {
			d, derr := c.Describe(context.Background(), r.ID(), "")
			evs, herr := c.History(context.Background(), r.ID(), "")
			t.Logf("stuck run: describe %+v (err %v)", d, derr)
			for _, ev := range evs {
				t.Logf("  event %d %s cause=%d input=%s", ev.Seq, ev.Type, ev.Cause, ev.InputID)
			}
			t.Fatalf("%v %v", err, herr)
		}
		if sum != 15 {
			t.Fatalf("%s: sum %d", r.ID(), sum)
		}
	}
}

// VersionedV1 is the old code: a side effect, Inc(1), then the gate.
func VersionedV1(ctx workflow.Context) (string, error) {
	var id string
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return fmt.Sprint(time.Now().UnixNano()) }).Get(&id)
	var n int
	if err := workflow.ExecuteActivity(ctx, Inc, 1).Get(ctx, &n); err != nil {
		return "", err
	}
	err := workflow.ExecuteActivity(ctx, Gate, "v").Get(ctx, nil)
	return fmt.Sprintf("v1:%d:%s", n, id), err
}

// VersionedV2 changed the step before the gate, guarded by GetVersion.
func VersionedV2(ctx workflow.Context) (string, error) {
	var id string
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return "never used on replay" }).Get(&id)
	var n int
	v := workflow.GetVersion(ctx, "bigger-inc", workflow.DefaultVersion, 1)
	step := 1
	if v == 1 {
		step = 10
	}
	if err := workflow.ExecuteActivity(ctx, Inc, step).Get(ctx, &n); err != nil {
		return "", err
	}
	err := workflow.ExecuteActivity(ctx, Gate, "v").Get(ctx, nil)
	if v == workflow.DefaultVersion {
		return fmt.Sprintf("v1:%d:%s", n, id), err
	}
	return fmt.Sprintf("v2:%d", n), err
}

// A change guarded by GetVersion replays the runs that started with the old
// code (they keep the old branch), new runs take the new branch, and a
// SideEffect's recorded value comes back on replay.
func TestVersioningAndSideEffect(t *testing.T) {
	gate = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterActivity(Gate))
		testsrv.Must(t, w.RegisterActivity(Inc))
	})
	stopV1 := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(VersionedV1, worker.RegisterOptions{Name: "Versioned"}))
	})
	ctx := testsrv.Context(t, 30*time.Second)
	old, err := c.StartJSON(ctx, client.StartOptions{ID: "old"}, "Versioned", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "old run waiting at the gate", func() bool {
		return hasEvent(t, ctx, c, "old", func(ev history.Event) bool { return ev.Type == history.ActivityScheduled && ev.Name == "Gate" })
	})
	stopV1()
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(VersionedV2, worker.RegisterOptions{Name: "Versioned"}))
	})
	close(gate)
	var out string
	testsrv.Must(t, old.Get(ctx, &out))
	if !strings.HasPrefix(out, "v1:2:") || len(out) < 10 || strings.Contains(out, "never used") {
		t.Fatalf("old run on new code: %q", out)
	}
	fresh, err := c.StartJSON(ctx, client.StartOptions{ID: "new"}, "Versioned", nil)
	testsrv.Must(t, err)
	testsrv.Must(t, fresh.Get(ctx, &out))
	if out != "v2:11" {
		t.Fatalf("new run: %q", out)
	}
	evs, err := c.History(ctx, "new", "")
	testsrv.Must(t, err)
	found := false
	for _, ev := range evs {
		if ev.Type == history.MarkerRecorded && ev.Name == "Version:bigger-inc" && string(ev.Result) == "1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no version marker in %v", evs)
	}
}

// RangeV1 records version 1 of change "c", then waits at the gate.
func RangeV1(ctx workflow.Context) error {
	workflow.GetVersion(ctx, "c", workflow.DefaultVersion, 1)
	return workflow.ExecuteActivity(ctx, Gate, "v").Get(ctx, nil)
}

// RangeV2 dropped support for version 1, but only asks after the gate: the
// run meets the unsupported version while deciding, not while replaying.
func RangeV2(ctx workflow.Context) error {
	workflow.GetVersion(ctx, "c", workflow.DefaultVersion, 1)
	if err := workflow.ExecuteActivity(ctx, Gate, "v").Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetVersion(ctx, "c", 2, 2)
	return nil
}

// A recorded version the code no longer supports blocks the run (recorded
// as a WorkflowTaskFailed), also when it is met in a live decision.
func TestUnsupportedVersionBlocksLive(t *testing.T) {
	gate = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(Gate)) })
	stop := testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(RangeV1, worker.RegisterOptions{Name: "Range"}))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	_, err := c.StartJSON(ctx, client.StartOptions{ID: "range"}, "Range", nil)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "at the gate", func() bool {
		return hasEvent(t, ctx, c, "range", func(ev history.Event) bool { return ev.Type == history.ActivityScheduled })
	})
	stop()
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(RangeV2, worker.RegisterOptions{Name: "Range"}))
	})
	close(gate)
	testsrv.WaitFor(t, ctx, "the unsupported version recorded", func() bool {
		return hasEvent(t, ctx, c, "range", func(ev history.Event) bool {
			return ev.Type == history.WorkflowTaskFailed && ev.Failure != nil && strings.Contains(ev.Failure.Message, `version 1 of change "c"`)
		})
	})
	d, err := c.Describe(ctx, "range", "")
	testsrv.Must(t, err)
	if d.Status != engine.StatusRunning {
		t.Fatalf("blocked run: %+v", d)
	}
}
