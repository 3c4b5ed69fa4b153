// Package failure holds the error types that cross between workflows,
// activities and clients, and the predicates to test them.
package failure

import (
	"errors"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

type (
	// ApplicationError is an error raised by workflow or activity code with
	// a type name callers can test (Type) and a flag that stops retries
	// (NewNonRetryableError). The fields:
	//
	//	type ApplicationError struct {
	//		Message      string
	//		Type         string // what failure.Type returns
	//		NonRetryable bool   // no retry, whatever the policy
	//		Details      json.RawMessage
	//		Stack        string
	//		Cause        error
	//	}
	ApplicationError = engine.ApplicationError
	// PanicError is a panic in workflow or activity code. The fields:
	//
	//	type PanicError struct {
	//		Value string // the panic's value, as text
	//		Stack string
	//	}
	PanicError = engine.PanicError
	// ActivityError is an activity's failure as seen by workflow code;
	// errors.As reaches its Cause. The fields:
	//
	//	type ActivityError struct {
	//		ActivityName string
	//		ScheduledSeq int64 // the ActivityScheduled event
	//		Attempt      int   // the last attempt
	//		Cause        error // an *ApplicationError, a timeout, a cancel
	//	}
	ActivityError = engine.ActivityError
	// WorkflowExecutionError is a run's failure as seen by a client
	// (WorkflowRun.Get). The fields:
	//
	//	type WorkflowExecutionError struct {
	//		WorkflowID string
	//		RunID      string
	//		Type       string        // the workflow type
	//		Status     client.Status // failed, canceled, terminated, timed_out
	//		Cause      error
	//	}
	WorkflowExecutionError = engine.WorkflowExecutionError
	// ChildWorkflowError is a child's failure as its parent sees it. The
	// fields:
	//
	//	type ChildWorkflowError struct {
	//		WorkflowID, RunID, Type string // the child's
	//		Cause                   error
	//	}
	ChildWorkflowError = engine.ChildWorkflowError
	// NonDeterminismError says workflow code did something other than what
	// the history records at a position; the run is blocked until a worker
	// with compatible code takes it. The fields:
	//
	//	type NonDeterminismError struct {
	//		// Code: CodeCommandMismatch, CodeMissingCommand,
	//		// CodeExtraCommand or CodeInputMismatch.
	//		Code         string
	//		WorkflowType string
	//		WorkflowID   string
	//		RunID        string
	//		// Seq is the event of the recorded side; DecisionFirst and
	//		// DecisionLast bound the decision it belongs to (0: unknown).
	//		Seq                         int64
	//		DecisionFirst, DecisionLast int64
	//		// Recorded and Produced: what the history records and what the
	//		// code produced (name and short input).
	//		Recorded string
	//		Produced string
	//		// ResetTo is the event to reset the run to (dfctl reset
	//		// --to-event) so the code deployed now decides again from there
	//		// (0: unknown).
	//		ResetTo int64
	//	}
	NonDeterminismError = engine.NonDeterminismError
	// WorkflowCodeError says workflow code panicked (DF1005) or broke a
	// rule of the workflow scheduler (DF1006, DF1007): the run is blocked.
	// The fields:
	//
	//	type WorkflowCodeError struct {
	//		Code         string // CodePanic, CodeDeadlock, CodeForeignGoroutine
	//		WorkflowType string
	//		RunID        string
	//		Message      string // what happened and where (one line)
	//		Hint         string // how to fix the code
	//		Stack        string // the workflow goroutine's stack
	//	}
	WorkflowCodeError = engine.WorkflowCodeError
)

// Codes of a blocked run (NonDeterminismError.Code, WorkflowCodeError.Code).
const (
	CodeCommandMismatch  = engine.CodeCommandMismatch  // DF1001
	CodeMissingCommand   = engine.CodeMissingCommand   // DF1002
	CodeExtraCommand     = engine.CodeExtraCommand     // DF1003
	CodeInputMismatch    = engine.CodeInputMismatch    // DF1004
	CodePanic            = engine.CodePanic            // DF1005
	CodeDeadlock         = engine.CodeDeadlock         // DF1006
	CodeForeignGoroutine = engine.CodeForeignGoroutine // DF1007
)

// NewApplicationError returns a retryable error of type errType.
func NewApplicationError(message, errType string, details ...any) error {
	return engine.NewApplicationError(message, errType, details...)
}

// NewNonRetryableError returns an error of type errType that is never retried.
func NewNonRetryableError(message, errType string, details ...any) error {
	return engine.NewNonRetryableApplicationError(message, errType, details...)
}

// IsApplicationError reports whether err wraps an ApplicationError.
func IsApplicationError(err error) bool {
	var e *ApplicationError
	return errors.As(err, &e)
}

// IsPanicError reports whether err wraps a PanicError.
func IsPanicError(err error) bool {
	var e *PanicError
	return errors.As(err, &e)
}

// IsCanceledError reports whether err is (or wraps) a cancellation.
func IsCanceledError(err error) bool { return errors.Is(err, engine.ErrCanceled) }

// Timeout types, what TimeoutType returns: which limit an activity
// exceeded.
const (
	TimeoutStartToClose    = engine.TimeoutStartToClose
	TimeoutScheduleToClose = engine.TimeoutScheduleToClose
	TimeoutHeartbeat       = engine.TimeoutHeartbeat
)

// IsTimeoutError reports whether err is (or wraps) an activity timeout, as
// the workflow sees it from an activity's Future.Get (and a client from a
// run that failed with it). Its Type is "TimeoutError".
func IsTimeoutError(err error) bool { return engine.IsTimeout(err) }

// TimeoutType returns the type of the outermost timeout err is or wraps
// ("" if none): a ScheduleToClose timeout that ended the retries wraps the
// last attempt's failure, which may itself be a StartToClose timeout.
func TimeoutType(err error) engine.TimeoutType {
	tt, _ := engine.TimeoutOf(err)
	return tt
}

// Type returns the type name of the application error err wraps ("" if none).
func Type(err error) string {
	var e *ApplicationError
	if errors.As(err, &e) {
		return e.Type
	}
	if IsPanicError(err) {
		return "PanicError"
	}
	return ""
}

// Sentinels for errors.Is.
var (
	ErrWorkflowAlreadyRunning = engine.ErrWorkflowAlreadyRunning
	ErrWorkflowNotFound       = engine.ErrWorkflowNotFound
	ErrWorkflowClosed         = engine.ErrWorkflowClosed
	ErrPayloadTooLarge        = engine.ErrPayloadTooLarge
	ErrInvalidArgument        = engine.ErrInvalidArgument
)
