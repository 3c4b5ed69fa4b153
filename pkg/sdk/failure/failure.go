// Package failure holds the error types that cross between workflows,
// activities and clients, and the predicates to test them.
package failure

import (
	"errors"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

type (
	// ApplicationError is an error with a type name and a non-retryable flag.
	ApplicationError = engine.ApplicationError
	// PanicError is a panic in workflow or activity code, with its stack.
	PanicError = engine.PanicError
	// ActivityError is an activity's failure as seen by workflow code.
	ActivityError = engine.ActivityError
	// WorkflowExecutionError is a run's failure as seen by a client.
	WorkflowExecutionError = engine.WorkflowExecutionError
	// ChildWorkflowError is a child's failure as its parent sees it.
	ChildWorkflowError = engine.ChildWorkflowError
	// NonDeterminismError says workflow code diverged from its history;
	// its Code is one of the DF100x codes below.
	NonDeterminismError = engine.NonDeterminismError
	// WorkflowCodeError says workflow code panicked (DF1005) or broke a
	// rule of the workflow scheduler (DF1006, DF1007): the run is blocked.
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
