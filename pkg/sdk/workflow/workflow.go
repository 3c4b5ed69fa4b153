// Package workflow is what workflow code imports: the deterministic
// counterparts of goroutines, channels, select and time, and the call that
// runs an activity.
//
// # Determinism
//
// A workflow function is re-run from its recorded history whenever a worker
// needs its state (after a crash, on another worker, after eviction from the
// cache). Every re-run must issue the same commands in the same order. So
// workflow code must not:
//   - start goroutines with the go statement (use workflow.Go),
//   - use Go channels or select (use workflow.NewChannel, workflow.NewSelector),
//   - read the clock or sleep (use workflow.Now),
//   - iterate over a map when the order decides what is called next,
//   - do I/O or read random numbers (do it in an activity).
//
// A run whose code no longer matches its history is not silently continued:
// the mismatch is recorded as a WorkflowTaskFailed event naming the event,
// and the run waits until a worker with compatible code takes it.
//
// The worker blocks a run the same way, and goes on with its other runs,
// when the code breaks the scheduler's rules: a goroutine started with the
// go statement that calls this package is ended there (DF1007, naming the
// call and its file:line), and code that does not yield (return, or block
// on a Future, Channel, Selector or timer) within the worker's
// DeadlockTimeout, 1s by default, is a deadlock (DF1006, naming where it is
// stuck). Go cannot stop that goroutine: it ends when it comes back.
//
// Each such error has a stable code, the workflow type, ID and run, and
// one line of hint; a non-determinism also names the recorded event and
// the decision it belongs to, and what was recorded and what the code
// produced (name and short input): DF1001 command mismatch, DF1002 missing
// command, DF1003 extra command, DF1004 input mismatch (the same activity,
// child workflow or continue-as-new with other arguments, or a timer with
// another duration: guard the change with GetVersion, or list the name in
// worker.Options.LenientInputs when you knowingly change an argument).
//
// # Panics
//
// A panic in workflow code, or a recorded value that does not decode into
// the code's types (the workflow's arguments, an activity's or child's
// result read with Future.Get), is taken as a bug in the code deployed
// now, not as the run's outcome: the run is blocked (DF1005), with a
// WorkflowTaskFailed event holding the panic and its stack (dfctl describe,
// dfctl execute and the TUI show them), and its task is retried, so once
// fixed code is registered under the same workflow type, a worker rebuilds
// the run from its history and continues it. Set
// worker.Options.WorkflowPanicPolicy to worker.FailWorkflow to fail such
// runs instead (WorkflowFailed with the panic). A workflow that returns an
// error fails its run either way: only a panic blocks it.
//
// # Signals
//
// GetSignalChannel returns the channel of the signals called name; a client
// sends them with SignalWorkflow. A signal's value is JSON until the code
// receives it into a Go value, so a client can send a value of the wrong
// shape (a string where the code reads an int). That never fails the run:
//
//   - Receive and ReceiveAsync skip such a value, with a warning in the
//     workflow's log (GetLogger) naming the signal, its event and the
//     decode error, and go on with the next value (as Temporal's SDK does);
//   - ReceiveWithError and ReceiveAsyncWithError hand it to the code as a
//     *ReceiveError instead, so the code decides.
//
// For example:
//
//	ch := workflow.GetSignalChannel(ctx, "approve")
//	for {
//		var d Decision
//		_, err := ch.ReceiveWithError(ctx, &d)
//		var re *workflow.ReceiveError
//		if errors.As(err, &re) {
//			workflow.GetLogger(ctx).Warn("ignored a malformed approval", "err", err)
//			continue
//		}
//		return d, nil
//	}
//
// Either way the value is consumed. The SignalReceived event in the history
// keeps the value as it was sent (dfctl show prints it), and a replay of the
// same history takes the same path, so a mistyped signal is never a
// non-determinism. In a selector's AddReceive callback, use
// ReceiveAsyncWithError to see the value that made the case ready (Receive
// would skip it and wait for the next one).
//
// # Example
//
//	func OrderWorkflow(ctx workflow.Context, customerID string, amount float64) (string, error) {
//		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
//			StartToCloseTimeout: 10 * time.Second,
//			RetryPolicy:         &workflow.RetryPolicy{MaximumAttempts: 5},
//		})
//		var chargeID string
//		if err := workflow.ExecuteActivity(ctx, Charge, customerID, amount).Get(ctx, &chargeID); err != nil {
//			return "", fmt.Errorf("charge: %w", err)
//		}
//		return chargeID, nil
//	}
package workflow

import (
	"log/slog"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

type (
	// Context is the context of workflow code.
	Context = engine.Context
	// Future is the result of an asynchronous operation.
	Future = engine.Future
	// Channel is a deterministic channel, and the receiving end of a
	// run's signals (see Signals above).
	Channel = engine.Channel
	// ReceiveError is a received value that does not decode into the
	// receiver's type. Its fields: Channel (the signal's name), EventSeq
	// (the SignalReceived event), Value (the JSON as sent), Target (the Go
	// type asked for) and Err (the decoder's error). The run goes on.
	ReceiveError = engine.ReceiveError
	// Selector waits on several futures and channels.
	Selector = engine.Selector
	// ActivityOptions say where and how an activity runs; set them with
	// WithActivityOptions. Zero fields take the defaults. The fields:
	//
	//	type ActivityOptions struct {
	//		// TaskQueue of the activity worker (default: the workflow's).
	//		TaskQueue string
	//		// StartToCloseTimeout bounds one attempt (default 10 minutes).
	//		StartToCloseTimeout time.Duration
	//		// ScheduleToCloseTimeout bounds the whole activity, all attempts
	//		// and back-offs, from when it was scheduled (0: no bound).
	//		ScheduleToCloseTimeout time.Duration
	//		// HeartbeatTimeout fails an attempt that does not call
	//		// activity.RecordHeartbeat for this long (0: none needed).
	//		HeartbeatTimeout time.Duration
	//		// RetryPolicy of failed attempts (nil: the defaults, unlimited
	//		// attempts).
	//		RetryPolicy *RetryPolicy
	//	}
	ActivityOptions = engine.ActivityOptions
	// RetryPolicy says how a failed activity is retried. Zero fields take
	// Temporal's defaults. The fields:
	//
	//	type RetryPolicy struct {
	//		// InitialInterval is the wait before the second attempt
	//		// (default 1s).
	//		InitialInterval time.Duration
	//		// BackoffCoefficient multiplies the wait after each attempt
	//		// (default 2).
	//		BackoffCoefficient float64
	//		// MaximumInterval caps the wait (default 100x InitialInterval).
	//		MaximumInterval time.Duration
	//		// MaximumAttempts, the first included (0: unlimited).
	//		MaximumAttempts int
	//		// NonRetryableErrorTypes: an error whose type (failure.Type) is
	//		// one of these fails the activity at once.
	//		NonRetryableErrorTypes []string
	//	}
	RetryPolicy = engine.RetryPolicy
	// Info describes the run a workflow executes in (GetInfo). The fields:
	//
	//	type Info struct {
	//		WorkflowID   string
	//		RunID        string
	//		WorkflowType string    // the registered name
	//		TaskQueue    string    // of the workflow worker
	//		StartTime    time.Time // when the run started
	//	}
	Info = engine.Info
	// CancelFunc cancels a context.
	CancelFunc = engine.CancelFunc
)

// ErrCanceled is the error of a cancelled context, timer or activity.
var ErrCanceled = engine.ErrCanceled

// NewTimer returns a future that is ready after d of workflow time. Timers
// are durable: they live in JetStream and fire even if every worker was down
// at the due time. Cancelling ctx cancels the timer (its Get returns
// ErrCanceled).
func NewTimer(ctx Context, d time.Duration) Future { return engine.NewTimer(ctx, d) }

// Sleep blocks the workflow for d of workflow time on a durable timer.
func Sleep(ctx Context, d time.Duration) error { return engine.Sleep(ctx, d) }

// WithCancel returns a child context and the function that cancels it (and
// the timers and activities started with it).
func WithCancel(parent Context) (Context, CancelFunc) { return engine.WithCancel(parent) }

// NewDisconnectedContext returns a context with parent's values that is not
// cancelled with parent: run cleanup (compensation) with it.
func NewDisconnectedContext(parent Context) (Context, CancelFunc) {
	return engine.NewDisconnectedContext(parent)
}

// ExecuteActivity schedules activity (a function or a registered name) with
// args and returns a future for its result. Start several before awaiting
// any to run them in parallel.
func ExecuteActivity(ctx Context, activity any, args ...any) Future {
	return engine.ExecuteActivity(ctx, activity, args...)
}

// WithActivityOptions returns a context whose activities use opts.
func WithActivityOptions(ctx Context, opts ActivityOptions) Context {
	return engine.WithActivityOptions(ctx, opts)
}

// GetActivityOptions returns the activity options set on ctx.
func GetActivityOptions(ctx Context) ActivityOptions { return engine.GetActivityOptions(ctx) }

// WithValue returns a child context carrying val under key.
func WithValue(ctx Context, key, val any) Context { return engine.WithValue(ctx, key, val) }

// Go runs fn as a workflow goroutine on the deterministic scheduler.
func Go(ctx Context, fn func(ctx Context)) { engine.Go(ctx, fn) }

// NewChannel returns an unbuffered deterministic channel.
func NewChannel(ctx Context) Channel { return engine.NewChannel(ctx) }

// NewBufferedChannel returns a deterministic channel holding up to size values.
func NewBufferedChannel(ctx Context, size int) Channel { return engine.NewBufferedChannel(ctx, size) }

// NewSelector returns a deterministic select.
func NewSelector(ctx Context) Selector { return engine.NewSelector(ctx) }

// Now is the workflow's clock: the time of the event being processed,
// identical on every replay.
func Now(ctx Context) time.Time { return engine.Now(ctx) }

// GetInfo returns the run's info.
func GetInfo(ctx Context) Info { return engine.GetInfo(ctx) }

// GetLogger returns a logger that is silent while the code replays history.
func GetLogger(ctx Context) *slog.Logger { return engine.GetLogger(ctx) }

// IsReplaying reports whether the code is re-running recorded history.
func IsReplaying(ctx Context) bool { return engine.IsReplaying(ctx) }

// GetSignalChannel returns the channel of the signals called name. Signals
// arrive in the order they were accepted, each once; those sent before the
// code asks are kept. Receive them with Receive, ReceiveAsync or a selector;
// a value of the wrong shape is skipped by those, or returned by
// ReceiveWithError and ReceiveAsyncWithError (see Signals in the package doc).
func GetSignalChannel(ctx Context, name string) Channel { return engine.GetSignalChannel(ctx, name) }

// DefaultVersion is what GetVersion returns for a run that passed the change
// point before the change existed.
const DefaultVersion = engine.DefaultVersion

// EncodedValue is a recorded value (SideEffect's result).
type EncodedValue = engine.EncodedValue

// GetVersion guards a change of workflow code while runs are open:
//
//	v := workflow.GetVersion(ctx, "charge-before-reserve", workflow.DefaultVersion, 1)
//	if v == workflow.DefaultVersion { /* the old steps */ } else { /* the new ones */ }
//
// Runs that passed this point before the change replay the old branch; new
// runs record version 1 and take the new one.
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int {
	return engine.GetVersion(ctx, changeID, minSupported, maxSupported)
}

// SideEffect runs f once, records its result, and returns the recorded
// result on every replay.
func SideEffect(ctx Context, f func(ctx Context) any) EncodedValue { return engine.SideEffect(ctx, f) }

// SetQueryHandler makes the run answer the query name with handler, a
// func(args...) (T, error) that reads the workflow's state; it must not
// block or change the state. dfctl query and client.QueryWorkflow call it
// on a live worker of the run's task queue.
func SetQueryHandler(ctx Context, name string, handler any) error {
	return engine.SetQueryHandler(ctx, name, handler)
}

type (
	// ChildWorkflowOptions say how a child workflow starts; set them with
	// WithChildOptions. The fields:
	//
	//	type ChildWorkflowOptions struct {
	//		// WorkflowID of the child (default: the parent's ID +
	//		// "_child_" + a counter).
	//		WorkflowID string
	//		// TaskQueue of the child's workflow worker (default: the
	//		// parent's).
	//		TaskQueue string
	//		// ParentClosePolicy: what happens to the child, still running,
	//		// when the parent closes: ParentCloseTerminate (the default),
	//		// ParentCloseRequestCancel or ParentCloseAbandon.
	//		ParentClosePolicy ParentClosePolicy
	//	}
	ChildWorkflowOptions = engine.ChildWorkflowOptions
	// ParentClosePolicy says what happens to a running child when its
	// parent closes.
	ParentClosePolicy = engine.ParentClosePolicy
	// ChildWorkflowFuture gives a child's result; GetChildWorkflowExecution
	// is ready once it started.
	ChildWorkflowFuture = engine.ChildWorkflowFuture
	// WorkflowExecution identifies a run. The fields:
	//
	//	type WorkflowExecution struct {
	//		ID    string // the workflow ID
	//		RunID string
	//	}
	WorkflowExecution = engine.WorkflowExecution
)

// Parent close policies.
const (
	ParentCloseTerminate     = engine.ParentCloseTerminate
	ParentCloseRequestCancel = engine.ParentCloseRequestCancel
	ParentCloseAbandon       = engine.ParentCloseAbandon
)

// WithChildOptions returns a context whose child workflows use opts.
func WithChildOptions(ctx Context, opts ChildWorkflowOptions) Context {
	return engine.WithChildOptions(ctx, opts)
}

// ExecuteChildWorkflow starts a child workflow (a function or a registered
// type) with args. Each history links to the other; the child's failure
// arrives as a *failure.ChildWorkflowError wrapping its cause.
func ExecuteChildWorkflow(ctx Context, childWorkflow any, args ...any) ChildWorkflowFuture {
	return engine.ExecuteChildWorkflow(ctx, childWorkflow, args...)
}

// NewContinueAsNewError returns the error that, returned by a workflow,
// ends its run and continues the workflow ID in a fresh run of workflow (a
// function or type name) with args and an empty history. Clients waiting
// for the first run follow the chain to its end.
func NewContinueAsNewError(ctx Context, workflow any, args ...any) error {
	return engine.NewContinueAsNewError(ctx, workflow, args...)
}
