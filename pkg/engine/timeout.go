package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// TimeoutType says which limit an activity exceeded.
type TimeoutType string

// Timeout types, as Temporal names them.
const (
	// TimeoutStartToClose: one attempt ran longer than its
	// StartToCloseTimeout. Retried per the retry policy.
	TimeoutStartToClose TimeoutType = "StartToClose"
	// TimeoutScheduleToClose: the activity, all attempts and back-offs
	// included, outlived its ScheduleToCloseTimeout. Never retried.
	TimeoutScheduleToClose TimeoutType = "ScheduleToClose"
	// TimeoutHeartbeat: an attempt did not heartbeat within its
	// HeartbeatTimeout. Retried per the retry policy.
	TimeoutHeartbeat TimeoutType = "Heartbeat"
	// TimeoutWorkflowExecution: a run outlived its workflow execution
	// timeout; it ends as timed_out.
	TimeoutWorkflowExecution TimeoutType = "WorkflowExecution"
)

// TimeoutErrorType is the type name of a timeout failure on the wire
// (history.Failure.Type) and of the ApplicationError FromFailure makes of it.
const TimeoutErrorType = "TimeoutError"

// NewTimeoutError returns the error of an exceeded timeout: an
// ApplicationError of type TimeoutError whose details are [timeoutType],
// non-retryable for a schedule-to-close timeout. It crosses the wire as
// history.Failure{Type: "TimeoutError", Details: ["<timeout type>"]}.
func NewTimeoutError(tt TimeoutType, message string, cause error) *ApplicationError {
	// Every activity attempt makes one (its deadline's cause): no
	// reflection for the common case.
	details, ok := history.AppendJSONString([]byte{'['}, string(tt))
	if details = append(details, ']'); !ok {
		details, _ = json.Marshal([]TimeoutType{tt})
	}
	return &ApplicationError{Message: message, Type: TimeoutErrorType, Details: details,
		NonRetryable: tt == TimeoutScheduleToClose, Cause: cause}
}

// activityTimeoutError is the error of an activity that exceeded limit.
func activityTimeoutError(tt TimeoutType, name string, limit time.Duration) *ApplicationError {
	var what string
	switch tt {
	case TimeoutStartToClose:
		what = "start-to-close"
	case TimeoutScheduleToClose:
		what = "schedule-to-close"
	case TimeoutHeartbeat:
		what = "heartbeat"
	}
	return NewTimeoutError(tt, fmt.Sprintf("activity %s exceeded its %s timeout of %s", name, what, limit), nil)
}

// timeoutFailure is the wire form of an activity's timeout; cause is the
// failure of the last attempt, if the timeout ended the retries.
func timeoutFailure(tt TimeoutType, name string, limit time.Duration, cause *history.Failure) *history.Failure {
	f := ToFailure(activityTimeoutError(tt, name, limit))
	f.Cause = cause
	return f
}

// TimeoutOf returns the type of the outermost timeout err is or wraps
// (through ActivityError, WorkflowExecutionError and error wrapping), and
// whether there is one.
func TimeoutOf(err error) (TimeoutType, bool) {
	var found TimeoutType
	ok := walkErrors(err, func(e error) bool {
		app, isApp := e.(*ApplicationError)
		if !isApp || app.Type != TimeoutErrorType {
			return false
		}
		var details []TimeoutType
		if json.Unmarshal(app.Details, &details) == nil && len(details) > 0 {
			found = details[0]
		}
		return true
	})
	return found, ok
}

// walkErrors calls visit on err and everything it wraps, depth first,
// until visit returns true; it reports whether one did.
func walkErrors(err error, visit func(error) bool) bool {
	for depth := 0; err != nil && depth < 100; depth++ {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkErrors(e, visit) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// IsTimeout reports whether err is or wraps an activity timeout.
func IsTimeout(err error) bool {
	_, ok := TimeoutOf(err)
	return ok
}
