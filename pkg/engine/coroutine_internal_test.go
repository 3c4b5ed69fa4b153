package engine

import (
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startedRun is a run whose main coroutine waits for the signal "go".
func startedRun(t *testing.T, deadlock time.Duration) (*run, Context) {
	t.Helper()
	r := newRun(slog.New(slog.DiscardHandler))
	r.disp.deadlock = deadlock
	r.info = Info{WorkflowType: "Test", RunID: "run-1"}
	ctx := Context(r.root)
	r.started = true
	r.disp.spawn("main", func() { GetSignalChannel(ctx, "go").Receive(ctx, nil) })
	r.runCode()
	t.Cleanup(r.dispose)
	return r, ctx
}

// A workflow call from a goroutine started with the go statement used to
// panic on that goroutine (nothing recovers it: the process died). Now the
// goroutine ends without going on, and the breach is recorded for the
// worker to block the run.
func TestForeignGoroutineEndedAndRecorded(t *testing.T) {
	r, ctx := startedRun(t, time.Second)
	ended := make(chan struct{})
	var after atomic.Bool
	go func() {
		defer close(ended)
		_ = Sleep(ctx, time.Second)
		after.Store(true)
	}()
	<-ended
	if after.Load() {
		t.Fatal("the foreign goroutine went on after its workflow call")
	}
	if len(r.pending) != 0 {
		t.Fatalf("the foreign goroutine's call reached the run: %+v", r.pending)
	}
	err := r.stopped()
	wce, ok := err.(*WorkflowCodeError)
	if !ok || wce.Code != CodeForeignGoroutine || wce.WorkflowType != "Test" || wce.RunID != "run-1" {
		t.Fatalf("stopped() = %v, want a %s WorkflowCodeError of the run", err, CodeForeignGoroutine)
	}
	t.Log(wce)
	for _, want := range []string{"engine.Sleep", "coroutine_internal_test.go:", "TestForeignGoroutineEndedAndRecorded.func1", "workflow.Go"} {
		if !strings.Contains(wce.Error(), want) {
			t.Errorf("%q does not say %q", wce.Error(), want)
		}
	}
	// No coroutine runs after a breach.
	r.signalChannel("go").buf = append(r.signalChannel("go").buf, chanValue{})
	r.runCode()
	if r.closeCmd {
		t.Fatal("the main coroutine ran after the breach")
	}
}

// A blocking call from a goroutine that is not the current coroutine while
// another coroutine runs: the goroutine ends, the coroutine goes on.
func TestForeignGoroutineWhileACoroutineRuns(t *testing.T) {
	r := newRun(slog.New(slog.DiscardHandler))
	t.Cleanup(r.dispose)
	ctx := Context(r.root)
	r.started = true
	inside, ended := make(chan struct{}), make(chan struct{})
	r.disp.spawn("main", func() {
		go func() {
			defer close(ended)
			<-inside
			GetSignalChannel(ctx, "x").Receive(ctx, nil)
		}()
		close(inside)
		<-ended // the foreign goroutine calls while main is current
		_ = NewTimer(ctx, time.Second)
		GetSignalChannel(ctx, "go").Receive(ctx, nil)
	})
	r.runCode()
	if f := r.disp.failed(); f == nil || f.Code != CodeForeignGoroutine {
		t.Fatalf("failure %v, want %s", f, CodeForeignGoroutine)
	}
	if len(r.pending) != 1 || r.pending[0].event.Type != "TimerStarted" {
		t.Fatalf("main's own call: pending %+v", r.pending)
	}
}

// Code that does not yield within the deadlock timeout is abandoned: the
// dispatcher returns, names the coroutine and where it is stuck, and runs
// nothing more; the abandoned goroutine, when it comes back, ends without
// touching the run (a yield, a return, a panic).
func TestDeadlockAbandonsCoroutine(t *testing.T) {
	for _, tc := range []struct {
		name string
		back func(ctx Context)
	}{
		{"yields", func(ctx Context) { _ = Sleep(ctx, time.Second) }},
		{"returns", func(ctx Context) {}},
		{"panics", func(ctx Context) { panic("late") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(slog.New(slog.DiscardHandler))
			r.disp.deadlock = 50 * time.Millisecond
			ctx := Context(r.root)
			r.started = true
			release, ended := make(chan struct{}), make(chan struct{})
			var after atomic.Bool
			r.disp.spawn("main", func() {
				defer close(ended)
				<-release // blocks without yielding
				tc.back(ctx)
				after.Store(true)
			})
			r.disp.spawn("", func() { t.Error("a coroutine ran after the deadlock") })
			if p := r.disp.runUntilBlocked(); p != nil {
				t.Fatal(p)
			}
			f := r.disp.failed()
			if f == nil || f.Code != CodeDeadlock {
				t.Fatalf("failure %v, want %s", f, CodeDeadlock)
			}
			t.Log(f.Message)
			for _, want := range []string{`"main"`, "50ms", "TestDeadlockAbandonsCoroutine.func", "coroutine_internal_test.go:", "workflow.Sleep"} {
				if !strings.Contains(f.Message+f.Hint, want) {
					t.Errorf("%q does not say %q", f.Message+" "+f.Hint, want)
				}
			}
			r.dispose() // does not wait for the abandoned coroutine
			close(release)
			<-ended
			if tc.name == "yields" && after.Load() {
				t.Fatal("the abandoned coroutine went on after its workflow call")
			}
			if len(r.pending) != 0 {
				t.Fatalf("the abandoned coroutine reached the run: %+v", r.pending)
			}
		})
	}
}

// Deferred workflow code that blocks when a run is disposed of must not
// hang the worker either.
func TestDeadlockInDeferredCodeDoesNotHangClose(t *testing.T) {
	r := newRun(slog.New(slog.DiscardHandler))
	r.disp.deadlock = 50 * time.Millisecond
	ctx := Context(r.root)
	r.started = true
	release, ended := make(chan struct{}), make(chan struct{})
	r.disp.spawn("main", func() {
		defer close(ended)
		defer func() { <-release }()
		GetSignalChannel(ctx, "go").Receive(ctx, nil)
	})
	r.runCode()
	r.dispose()
	close(release)
	<-ended
}

// Code that yields in time is never taken for a deadlock, and a negative
// timeout turns the check off.
func TestNoDeadlockWithinTimeoutOrWhenOff(t *testing.T) {
	for _, deadlock := range []time.Duration{time.Minute, -1} {
		d := &dispatcher{deadlock: deadlock}
		d.spawn("main", func() { time.Sleep(60 * time.Millisecond) })
		if p := d.runUntilBlocked(); p != nil || d.failed() != nil {
			t.Fatalf("deadlock %v: panic %v, failure %v", deadlock, p, d.failed())
		}
	}
}

// A query handler reads the run's state with the workflow API; a blocking
// call panics (the query fails), and the run is not blocked for it.
func TestQueryHandlerReadsButDoesNotBlock(t *testing.T) {
	r, ctx := startedRun(t, time.Second)
	var info Info
	r.disp.runQuery(func() { info = GetInfo(ctx) })
	if info.RunID != "run-1" {
		t.Fatalf("GetInfo in a query handler: %+v", info)
	}
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(p.(string), "query handler must not block") {
				t.Fatalf("recovered %v", p)
			}
		}()
		r.disp.runQuery(func() { GetSignalChannel(ctx, "go").Receive(ctx, nil) })
	}()
	if err := r.stopped(); err != nil {
		t.Fatalf("a query handler blocked the run: %v", err)
	}
}

// runtime.Goexit in workflow code ends that coroutine as a return would,
// and nothing else: not the goroutine that steps the coroutines (with the
// deadlock timeout on or off), which an iter.Pull coroutine's Goexit would
// end too.
func TestWorkflowGoexitEndsOnlyItsCoroutine(t *testing.T) {
	for _, deadlock := range []time.Duration{time.Minute, -1} {
		r := newRun(slog.New(slog.DiscardHandler))
		r.disp.deadlock = deadlock
		ctx := Context(r.root)
		r.started = true
		r.disp.spawn("main", func() {
			Go(ctx, func(ctx Context) { runtime.Goexit() })
			GetSignalChannel(ctx, "go").Receive(ctx, nil)
		})
		var wentOn bool
		stepped := make(chan struct{})
		go func() {
			defer close(stepped)
			r.runCode()
			r.signalChannel("go").buf = append(r.signalChannel("go").buf, chanValue{})
			r.runCode()
			wentOn = true
		}()
		<-stepped
		if !wentOn {
			t.Fatalf("deadlock %v: the goroutine that stepped the coroutines ended with the one that called runtime.Goexit", deadlock)
		}
		if c := r.disp.coroutines; !c[0].done || !c[1].done {
			t.Fatalf("deadlock %v: main done %v, the Goexit one done %v: want both ended", deadlock, c[0].done, c[1].done)
		}
		if err := r.stopped(); err != nil {
			t.Fatalf("deadlock %v: %v", deadlock, err)
		}
		r.dispose()
	}
}

// A whole replay runs as one exec: code that stops yielding in the middle
// of a long history is still reported as a deadlock, naming where it is
// stuck, and the replay ends at once.
func TestReplayDeadlockMidHistory(t *testing.T) {
	release, ended := make(chan struct{}), make(chan struct{})
	stuck := func(ctx Context, n int) error {
		ctx = WithActivityOptions(ctx, ActivityOptions{StartToCloseTimeout: time.Minute})
		for i := 0; i < n; i++ {
			if i == 3 {
				defer close(ended)
				<-release // blocks without yielding
			}
			if err := ExecuteActivity(ctx, benchStep, i).Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	reg := NewRegistry()
	if err := reg.RegisterWorkflow(stuck, FunctionName(benchLoop)); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterActivity(benchStep, ""); err != nil {
		t.Fatal(err)
	}
	err := ReplayRecordsDeadlock(reg, benchHistory(10), 50*time.Millisecond)
	var wce *WorkflowCodeError
	if !errors.As(err, &wce) || wce.Code != CodeDeadlock {
		t.Fatalf("replay: %v, want a %s", err, CodeDeadlock)
	}
	if !strings.Contains(wce.Message, "coroutine_internal_test.go:") {
		t.Errorf("%q does not say where the code is stuck", wce.Message)
	}
	close(release)
	<-ended // the abandoned code ends by itself
}
