package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ApplicationError is an error raised by workflow or activity code with a
// type that callers can test and a flag that stops retries.
type ApplicationError struct {
	Message      string
	Type         string
	NonRetryable bool
	Details      json.RawMessage
	Stack        string
	Cause        error
}

func (e *ApplicationError) Error() string {
	msg := e.Message
	if e.Type != "" && e.Type != "Error" {
		msg = e.Message + " (type: " + e.Type + ")"
	}
	return msg
}

func (e *ApplicationError) Unwrap() error { return e.Cause }

// NewApplicationError returns a retryable error of the given type.
func NewApplicationError(message, errType string, details ...any) *ApplicationError {
	e := &ApplicationError{Message: message, Type: errType}
	if len(details) > 0 {
		e.Details, _ = json.Marshal(details)
	}
	return e
}

// NewNonRetryableApplicationError returns an error that is never retried.
func NewNonRetryableApplicationError(message, errType string, details ...any) *ApplicationError {
	e := NewApplicationError(message, errType, details...)
	e.NonRetryable = true
	return e
}

// PanicError is a panic in workflow or activity code, with its stack.
type PanicError struct {
	Value string
	Stack string
}

func (e *PanicError) Error() string { return "panic: " + e.Value }

// ActivityError wraps the failure of an activity as seen by workflow code.
type ActivityError struct {
	ActivityName string
	ScheduledSeq int64
	Attempt      int
	Cause        error
}

func (e *ActivityError) Error() string {
	return fmt.Sprintf("activity %s (event %d) failed after %d attempt(s): %v", e.ActivityName, e.ScheduledSeq, e.Attempt, e.Cause)
}

func (e *ActivityError) Unwrap() error { return e.Cause }

// WorkflowExecutionError is what a client's Get returns for a run that did
// not complete.
type WorkflowExecutionError struct {
	WorkflowID string
	RunID      string
	Type       string
	Status     Status
	Cause      error
}

func (e *WorkflowExecutionError) Error() string {
	return fmt.Sprintf("workflow %s (%s, run %s) %s: %v", e.WorkflowID, e.Type, e.RunID, e.Status, e.Cause)
}

func (e *WorkflowExecutionError) Unwrap() error { return e.Cause }

// Codes of non-determinism (NonDeterminismError.Code).
const (
	// CodeCommandMismatch: the history records one command, the code
	// produced another (or a version of a change the code does not
	// support).
	CodeCommandMismatch = "DF1001"
	// CodeMissingCommand: the history records a command the code did not
	// produce.
	CodeMissingCommand = "DF1002"
	// CodeExtraCommand: the code produced a command at the end of a
	// decision where the history records none.
	CodeExtraCommand = "DF1003"
	// CodeInputMismatch: the same command, with other input.
	CodeInputMismatch = "DF1004"
)

var ndeKinds = map[string]string{
	CodeCommandMismatch: "command mismatch",
	CodeMissingCommand:  "missing command",
	CodeExtraCommand:    "extra command",
	CodeInputMismatch:   "input mismatch",
}

// NonDeterminismError says that workflow code did something other than what
// the history records at a position. Its text (one line) is what the
// WorkflowTaskFailed event, describe, the worker log, dfctl replay and the
// TUI show.
type NonDeterminismError struct {
	// Code is CodeCommandMismatch, CodeMissingCommand, CodeExtraCommand or
	// CodeInputMismatch ("" reads as CodeCommandMismatch).
	Code         string
	WorkflowType string
	WorkflowID   string
	RunID        string
	// Seq is the event of the recorded side (for an extra command: the
	// last event of the decision); DecisionFirst and DecisionLast are the
	// first and last events of the decision record it belongs to (0: not
	// known).
	Seq                         int64
	DecisionFirst, DecisionLast int64
	// Recorded and Produced are what the history records and what the
	// code produced (name and short input).
	Recorded string
	Produced string
	// ResetTo is the event to reset the run to so that the code deployed
	// now decides again from there (0: not known).
	ResetTo int64
}

func (e *NonDeterminismError) Error() string {
	code := e.Code
	if code == "" {
		code = CodeCommandMismatch
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s non-deterministic workflow, %s", code, ndeKinds[code])
	if e.WorkflowType != "" {
		fmt.Fprintf(&b, ": workflow %s %q (run %s)", e.WorkflowType, e.WorkflowID, e.RunID)
	}
	b.WriteString(": ")
	switch {
	case code == CodeExtraCommand && e.DecisionFirst > 0:
		fmt.Fprintf(&b, "the decision of events %d-%d records %s but the code produced %s", e.DecisionFirst, e.DecisionLast, e.Recorded, e.Produced)
	case e.DecisionFirst > 0:
		fmt.Fprintf(&b, "event %d (decision of events %d-%d) records %s but the code produced %s", e.Seq, e.DecisionFirst, e.DecisionLast, e.Recorded, e.Produced)
	default:
		fmt.Fprintf(&b, "at event %d the history records %s but the code produced %s", e.Seq, e.Recorded, e.Produced)
	}
	id, to := e.WorkflowID, e.ResetTo
	if id == "" {
		id = "ID"
	}
	if to <= 0 {
		to = max(e.DecisionFirst-1, 1)
	}
	fmt.Fprintf(&b, `. Hint: guard the change with workflow.GetVersion(ctx, "change-id", workflow.DefaultVersion, 1), or reset the run: dfctl reset %s --to-event %d`, shellQuote(id), to)
	return b.String()
}

// shellQuote quotes a workflow ID for a command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == ':' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Codes of the rules of workflow code whose breach blocks a run.
const (
	// CodePanic: workflow code panicked, or a value it was given (its
	// arguments, an activity or child result) does not decode into the
	// code's types. The run is blocked unless the worker's
	// WorkflowPanicPolicy is FailWorkflow.
	CodePanic = "DF1005"
	// CodeDeadlock: workflow code did not yield for longer than the
	// worker's DeadlockTimeout (time.Sleep, blocking I/O, a busy loop).
	CodeDeadlock = "DF1006"
	// CodeForeignGoroutine: the workflow API was called from a goroutine
	// the workflow's scheduler does not run (a go statement in workflow
	// code).
	CodeForeignGoroutine = "DF1007"
)

// WorkflowCodeError says that workflow code broke a rule of the workflow
// scheduler. Like a non-determinism, it blocks the run (a WorkflowTaskFailed
// event, "blocked" in the runs index) until a worker whose code does not
// break it takes the run, which it rebuilds from the history.
type WorkflowCodeError struct {
	Code         string // CodePanic, CodeDeadlock, CodeForeignGoroutine
	WorkflowType string
	RunID        string
	Message      string // what happened and where (one line)
	Hint         string // how to fix the code
	// Stack is the workflow goroutine's stack (a panic, a decode error):
	// recorded in the WorkflowTaskFailed event, not in Error().
	Stack string
}

func (e *WorkflowCodeError) Error() string {
	return fmt.Sprintf("%s workflow %s (run %s): %s. Hint: %s", e.Code, e.WorkflowType, e.RunID, e.Message, e.Hint)
}

// Sentinel errors.
var (
	ErrWorkflowAlreadyRunning = errors.New("workflow is already running")
	ErrWorkflowNotFound       = errors.New("workflow not found")
	// errObsoleteInput: an input that arrives after what it reports was
	// superseded (a late attempt report): skipped, not recorded.
	errObsoleteInput = errors.New("obsolete input")
	// ErrUnavailable: the server did not answer (in time), so the engine
	// cannot know; it never means "not found".
	ErrUnavailable         = errors.New("server unavailable")
	ErrWorkflowClosed      = errors.New("workflow is closed")
	ErrUnknownWorkflowType = errors.New("unknown workflow type")
	ErrPayloadTooLarge     = errors.New("payload too large")
	// ErrCanceled is the error of a cancelled context, timer or activity;
	// test with errors.Is (IsCanceledError in the SDK).
	ErrCanceled = errors.New("canceled")
	// ErrInvalidArgument wraps every refusal of malformed input: a workflow
	// ID, a task queue, an empty type, input that is not a JSON array.
	ErrInvalidArgument = errors.New("invalid argument")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// MaxPayloadBytes bounds a workflow's input, an activity's input and any
// result, so that every record stays well under the server's max payload.
const MaxPayloadBytes = 256 * 1024

func checkPayload(what string, b []byte) error {
	if len(b) > MaxPayloadBytes {
		return fmt.Errorf("%s is %d bytes, over the %d-byte limit: pass a reference (an object store key, a URL) instead of the data: %w", what, len(b), MaxPayloadBytes, ErrPayloadTooLarge)
	}
	return nil
}

// ToFailure converts any error to its wire form.
func ToFailure(err error) *history.Failure {
	if err == nil {
		return nil
	}
	var app *ApplicationError
	var pe *PanicError
	var ae *ActivityError
	var f *history.Failure
	switch {
	case errors.Is(err, ErrCanceled) && !errors.As(err, &app):
		return &history.Failure{Message: err.Error(), Type: "CanceledError"}
	case errors.As(err, &pe) && pe == err:
		return &history.Failure{Message: err.Error(), Type: "PanicError", Stack: pe.Stack}
	case errors.As(err, &app):
		out := &history.Failure{Message: err.Error(), Type: app.Type, NonRetryable: app.NonRetryable, Details: app.Details, Stack: app.Stack}
		if out.Type == "" {
			out.Type = "ApplicationError"
		}
		out.Message = app.Message
		if err != app {
			out.Message = err.Error()
		}
		if app.Cause != nil {
			out.Cause = ToFailure(app.Cause)
		}
		return out
	case errors.As(err, &ae):
		return &history.Failure{Message: err.Error(), Type: "ActivityError", Cause: ToFailure(ae.Cause)}
	case errors.As(err, &pe):
		return &history.Failure{Message: err.Error(), Type: "PanicError", Stack: pe.Stack}
	case errors.As(err, &f):
		return f
	}
	return &history.Failure{Message: err.Error(), Type: errorTypeName(err)}
}

// FromFailure converts a wire failure back to an error that keeps its type
// and message (an *ApplicationError, or a *PanicError).
func FromFailure(f *history.Failure) error {
	if f == nil {
		return nil
	}
	switch f.Type {
	case "PanicError":
		return &PanicError{Value: trimPrefix(f.Message, "panic: "), Stack: f.Stack}
	case "CanceledError":
		return &ApplicationError{Message: f.Message, Type: f.Type, Cause: ErrCanceled}
	}
	e := &ApplicationError{Message: f.Message, Type: f.Type, NonRetryable: f.NonRetryable, Details: f.Details, Stack: f.Stack}
	if f.Cause != nil {
		e.Cause = FromFailure(f.Cause)
	}
	return e
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// errorTypeName is the Go type name of an error, as Temporal reports it
// ("*errors.errorString" becomes "errorString").
func errorTypeName(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Name() {
	case "", "errorString", "wrapError", "wrapErrors", "joinError":
		return "Error"
	}
	return t.Name()
}

// unavailable wraps err with ErrUnavailable when it says the server did
// not answer: a timeout, no responders, a read cut short, a lost
// connection.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, history.ErrIncompleteRead) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) {
		return fmt.Errorf("%w (the server did not answer; try again): %w", ErrUnavailable, err)
	}
	return err
}
