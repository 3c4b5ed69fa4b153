// Package chaos holds the workflows of the chaos suite and the cluster
// test: mixed shapes (activities with retries, durable timers, signals,
// child workflows) whose results are pure functions of their inputs, so a
// test can check every run. Every activity attempt is logged to an attempts
// file, synced before the activity body runs, so that a test can compare
// when attempts started with when their outcomes were recorded.
//
// The worker process is ./worker; the tests are chaos_test.go (build tag
// chaos) and cluster_test.go.
package chaos

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

// Input is the argument of every workflow of the mix.
type Input struct {
	// Seed makes the result of each run different.
	Seed int64 `json:"seed"`
	// N is the number of steps, activities or children.
	N int `json:"n"`
	// Fail is how many first attempts of the flaky activities fail.
	Fail int `json:"fail"`
	// WorkMs is how long each activity body works.
	WorkMs int `json:"work_ms"`
	// SleepMs is the length of the workflow's durable timer.
	SleepMs int `json:"sleep_ms"`
	// Signals is the number of distinct "add" signals the workflow waits for.
	Signals int `json:"signals"`
}

// Signal is the value of an "add" signal. The workflow keeps the first
// signal of each index and ignores repeats, so a client may resend a signal
// whose acknowledgement it lost (SignalWorkflow has no idempotency key).
type Signal struct {
	I int   `json:"i"`
	V int64 `json:"v"`
}

// SignalName is the name of the signals the workflows wait for.
const SignalName = "add"

const modulus = 1_000_000_007

// Mix is the pure step every activity computes.
func Mix(x int64, i int) int64 {
	return ((x%modulus)*1_000_003 + int64(i)*7_919 + 17) % modulus
}

// SignalValue is the value of signal i of a run with seed.
func SignalValue(seed int64, i int) int64 { return Mix(seed, 100+i) }

// ChildID is the workflow ID of child i of a parent.
func ChildID(parentID string, i int) string { return fmt.Sprintf("%s-c%d", parentID, i) }

// Kinds of the mix, with their workflow functions.
var Kinds = []string{"chain", "fan", "timer", "signal", "parent", "mixed"}

// Workflows by kind, plus the child.
var Workflows = map[string]any{
	"chain":  ChainWorkflow,
	"fan":    FanWorkflow,
	"timer":  TimerWorkflow,
	"signal": SignalWorkflow,
	"parent": ParentWorkflow,
	"mixed":  MixedWorkflow,
	"child":  ChildWorkflow,
}

// ChildInput is the input of child i of a parent with input in.
func ChildInput(in Input, i int) Input {
	return Input{Seed: in.Seed*10 + int64(i), N: 2, Fail: i % 2, WorkMs: in.WorkMs, SleepMs: 300}
}

// Expected is the result a run of kind with input in must complete with.
func Expected(kind string, in Input) int64 {
	switch kind {
	case "chain":
		x := in.Seed
		for i := range in.N {
			x = Mix(x, i)
		}
		return x
	case "fan":
		var sum int64
		for i := range in.N {
			sum = (sum + Mix(in.Seed, i)) % modulus
		}
		return sum
	case "timer":
		return Mix(Mix(in.Seed, 0), 1)
	case "signal":
		total := in.Seed
		for i := range in.Signals {
			total = (total + SignalValue(in.Seed, i)) % modulus
		}
		return Mix(total, 0)
	case "child":
		return Expected("chain", in)
	case "parent":
		sum := Mix(in.Seed, 0)
		for i := range in.N {
			sum = (sum + Expected("child", ChildInput(in, i))) % modulus
		}
		return sum
	case "mixed":
		a := Mix(in.Seed, 0)
		b := (Mix(a, 1) + Mix(a, 2)) % modulus
		for i := range in.Signals {
			b = (b + SignalValue(in.Seed, i)) % modulus
		}
		return (b + Expected("child", ChildInput(in, 0))) % modulus
	}
	panic("chaos: unknown kind " + kind)
}

// ChildCount is the number of children a run of kind starts.
func ChildCount(kind string, in Input) int {
	switch kind {
	case "parent":
		return in.N
	case "mixed":
		return 1
	}
	return 0
}

func withOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy: &workflow.RetryPolicy{
			InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Second,
		},
	})
}

func step(ctx workflow.Context, x int64, i, fail, workMs int) workflow.Future {
	return workflow.ExecuteActivity(ctx, Step, x, i, fail, workMs)
}

// ChainWorkflow runs N steps one after the other; the first fails its
// first Fail attempts.
func ChainWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	x := in.Seed
	for i := range in.N {
		fail := 0
		if i == 0 {
			fail = in.Fail
		}
		if err := step(ctx, x, i, fail, in.WorkMs).Get(ctx, &x); err != nil {
			return 0, err
		}
	}
	return x, nil
}

// FanWorkflow runs N steps in parallel and sums them; every other one is
// flaky.
func FanWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	futs := make([]workflow.Future, in.N)
	for i := range futs {
		futs[i] = step(ctx, in.Seed, i, (i%2)*in.Fail, in.WorkMs)
	}
	var sum int64
	for _, f := range futs {
		var v int64
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		sum = (sum + v) % modulus
	}
	return sum, nil
}

// TimerWorkflow runs a step, sleeps on a durable timer, runs another.
func TimerWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	var a, b int64
	if err := step(ctx, in.Seed, 0, in.Fail, in.WorkMs).Get(ctx, &a); err != nil {
		return 0, err
	}
	if err := workflow.Sleep(ctx, time.Duration(in.SleepMs)*time.Millisecond); err != nil {
		return 0, err
	}
	if err := step(ctx, a, 1, 0, in.WorkMs).Get(ctx, &b); err != nil {
		return 0, err
	}
	return b, nil
}

// receiveSignals waits for n distinct "add" signals and returns the sum of
// their values.
func receiveSignals(ctx workflow.Context, n int) int64 {
	ch := workflow.GetSignalChannel(ctx, SignalName)
	seen := map[int]bool{}
	var sum int64
	for len(seen) < n {
		var s Signal
		ch.Receive(ctx, &s)
		if seen[s.I] || s.I < 0 || s.I >= n {
			continue // a resent signal
		}
		seen[s.I] = true
		sum = (sum + s.V) % modulus
	}
	return sum
}

// SignalWorkflow waits for its signals, then runs a step on their sum.
func SignalWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	total := (in.Seed + receiveSignals(ctx, in.Signals)) % modulus
	var out int64
	err := step(ctx, total, 0, in.Fail, in.WorkMs).Get(ctx, &out)
	return out, err
}

// ChildWorkflow is a chain with a durable timer before it.
func ChildWorkflow(ctx workflow.Context, in Input) (int64, error) {
	if err := workflow.Sleep(ctx, time.Duration(in.SleepMs)*time.Millisecond); err != nil {
		return 0, err
	}
	return ChainWorkflow(ctx, in)
}

func child(ctx workflow.Context, in Input, i int) workflow.ChildWorkflowFuture {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: ChildID(workflow.GetInfo(ctx).WorkflowID, i)})
	return workflow.ExecuteChildWorkflow(ctx, ChildWorkflow, ChildInput(in, i))
}

// ParentWorkflow starts N children and a step in parallel and sums them.
// Once the children closed it asks each for its execution (the started
// future must be ready by then, whatever order the engine heard in).
func ParentWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	futs := make([]workflow.ChildWorkflowFuture, in.N)
	for i := range futs {
		futs[i] = child(ctx, in, i)
	}
	var sum int64
	if err := step(ctx, in.Seed, 0, in.Fail, in.WorkMs).Get(ctx, &sum); err != nil {
		return 0, err
	}
	for _, f := range futs {
		var v int64
		if err := f.Get(ctx, &v); err != nil {
			return 0, err
		}
		sum = (sum + v) % modulus
	}
	for i, f := range futs {
		var exec workflow.WorkflowExecution
		if err := f.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
			return 0, err
		}
		if want := ChildID(workflow.GetInfo(ctx).WorkflowID, i); exec.ID != want || exec.RunID == "" {
			return 0, fmt.Errorf("child %d started as %+v, want workflow ID %s", i, exec, want)
		}
	}
	return sum, nil
}

// MixedWorkflow does everything: a flaky step; two parallel steps racing a
// timer; signals; a child.
func MixedWorkflow(ctx workflow.Context, in Input) (int64, error) {
	ctx = withOptions(ctx)
	c := child(ctx, in, 0)
	var a int64
	if err := step(ctx, in.Seed, 0, in.Fail, in.WorkMs).Get(ctx, &a); err != nil {
		return 0, err
	}
	f1, f2 := step(ctx, a, 1, 0, in.WorkMs), step(ctx, a, 2, 1, in.WorkMs)
	timer := workflow.NewTimer(ctx, time.Duration(in.SleepMs)*time.Millisecond)
	var b1, b2 int64
	if err := f1.Get(ctx, &b1); err != nil {
		return 0, err
	}
	if err := f2.Get(ctx, &b2); err != nil {
		return 0, err
	}
	if err := timer.Get(ctx, nil); err != nil {
		return 0, err
	}
	b := (b1 + b2 + receiveSignals(ctx, in.Signals)) % modulus
	var cv int64
	if err := c.Get(ctx, &cv); err != nil {
		return 0, err
	}
	return (b + cv) % modulus, nil
}

// AttemptsLog appends one line per activity attempt, synced to disk before
// the activity body runs:
//
//	<body start> <engine start> <workflow id> <run id> <scheduled seq> <attempt> <pid>
//
// Times are Unix nanoseconds: the body's start (when the line is written)
// and the attempt's start as the engine reports it (ActivityInfo.StartedTime,
// the started_at of the attempt's outcome event).
type AttemptsLog struct {
	mu sync.Mutex
	f  *os.File
}

// OpenAttemptsLog opens (appending) the attempts log at path.
func OpenAttemptsLog(path string) (*AttemptsLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &AttemptsLog{f: f}, nil
}

// Record logs the attempt of the activity running with ctx.
func (l *AttemptsLog) Record(ctx context.Context) error {
	info := activity.GetInfo(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	var engineStart int64
	if !info.StartedTime.IsZero() {
		engineStart = info.StartedTime.UnixNano()
	}
	line := fmt.Sprintf("%d %d %s %s %d %d %d\n", time.Now().UnixNano(), engineStart, info.WorkflowID, info.RunID, info.ScheduledSeq, info.Attempt, os.Getpid())
	if _, err := l.f.WriteString(line); err != nil {
		return err
	}
	return l.f.Sync()
}

// Close closes the file.
func (l *AttemptsLog) Close() error { return l.f.Close() }

var attempts struct {
	mu  sync.Mutex
	log *AttemptsLog
}

// Step is the one activity: it logs its attempt, works WorkMs, fails while
// its attempt number is at most fail, then returns Mix(x, i).
func Step(ctx context.Context, x int64, i, fail, workMs int) (int64, error) {
	attempts.mu.Lock()
	l := attempts.log
	attempts.mu.Unlock()
	if l == nil {
		return 0, fmt.Errorf("chaos: no attempts log")
	}
	if err := l.Record(ctx); err != nil {
		return 0, fmt.Errorf("chaos: attempts log: %w", err)
	}
	select {
	case <-time.After(time.Duration(workMs) * time.Millisecond):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n := activity.GetInfo(ctx).Attempt; n <= fail {
		return 0, fmt.Errorf("step %d: deterministic failure of attempt %d (fails up to %d)", i, n, fail)
	}
	return Mix(x, i), nil
}

// Register registers the mix on w; attempts of Step are logged to l.
func Register(w *worker.Worker, l *AttemptsLog) error {
	attempts.mu.Lock()
	attempts.log = l
	attempts.mu.Unlock()
	for _, kind := range append(append([]string{}, Kinds...), "child") {
		if err := w.RegisterWorkflow(Workflows[kind]); err != nil {
			return err
		}
	}
	return w.RegisterActivity(Step)
}
