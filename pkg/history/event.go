// Package history owns the event model of a workflow run: the typed,
// versioned JSON events, the records that group them on JetStream, the
// history file format and the rendering helpers shared by dfctl and the TUI.
//
// It is a leaf package: it must never import pkg/engine, pkg/sdk or the CLI.
package history

import (
	"bytes"
	"encoding/json"
	"time"
)

// Version is the newest version of the event and record JSON written by
// this code. Readers accept every version up to and including it. Records
// are written as version 1 unless they hold a blob reference (VersionBlobs,
// see payload.go), so older readers refuse only the records they would
// misread.
const Version = VersionBlobs

// EventType names what an event records.
type EventType string

// Event types. Input events are facts from outside the workflow code (a start,
// an activity outcome); command events record what the workflow code decided.
const (
	WorkflowStarted       EventType = "WorkflowStarted"
	ActivityScheduled     EventType = "ActivityScheduled"
	ActivityAttemptFailed EventType = "ActivityAttemptFailed"
	ActivityCompleted     EventType = "ActivityCompleted"
	ActivityFailed        EventType = "ActivityFailed"
	WorkflowCompleted     EventType = "WorkflowCompleted"
	WorkflowFailed        EventType = "WorkflowFailed"
	WorkflowTaskFailed    EventType = "WorkflowTaskFailed"
	TimerStarted          EventType = "TimerStarted"
	TimerFired            EventType = "TimerFired"
	TimerCanceled         EventType = "TimerCanceled"
	SignalReceived        EventType = "SignalReceived"
	// WorkflowCancelRequested asks the code to stop: its context is
	// cancelled; WorkflowCanceled is the code giving up because of it.
	WorkflowCancelRequested EventType = "WorkflowCancelRequested"
	WorkflowCanceled        EventType = "WorkflowCanceled"
	// WorkflowTerminated ends a run at once, no code runs; written by the
	// client that terminates.
	WorkflowTerminated      EventType = "WorkflowTerminated"
	ActivityCancelRequested EventType = "ActivityCancelRequested"
	// MarkerRecorded keeps a value the code must see again on replay: a
	// version chosen by GetVersion (name "Version:<change id>") or the
	// result of a SideEffect (name "SideEffect").
	MarkerRecorded EventType = "MarkerRecorded"
	// Child workflows: the parent schedules one (command), hears that it
	// started or could not start, and how it closed (inputs).
	ChildWorkflowScheduled       EventType = "ChildWorkflowScheduled"
	ChildWorkflowStarted         EventType = "ChildWorkflowStarted"
	ChildWorkflowStartFailed     EventType = "ChildWorkflowStartFailed"
	ChildWorkflowCompleted       EventType = "ChildWorkflowCompleted"
	ChildWorkflowFailed          EventType = "ChildWorkflowFailed"
	ChildWorkflowCancelRequested EventType = "ChildWorkflowCancelRequested"
	// WorkflowContinuedAsNew ends a run and names the fresh run of the same
	// workflow ID that goes on with new input and an empty history.
	WorkflowContinuedAsNew EventType = "WorkflowContinuedAsNew"
	// WorkflowTimedOut ends a run that outlived its execution timeout.
	WorkflowTimedOut EventType = "WorkflowTimedOut"
)

// IsCommand reports whether events of this type are produced by workflow code
// (and so are matched against the code on replay).
func (t EventType) IsCommand() bool {
	switch t {
	case ActivityScheduled, WorkflowCompleted, WorkflowFailed, TimerStarted, TimerCanceled,
		WorkflowCanceled, ActivityCancelRequested, MarkerRecorded, ChildWorkflowScheduled, ChildWorkflowCancelRequested,
		WorkflowContinuedAsNew:
		return true
	}
	return false
}

// IsClosing reports whether an event of this type ends the run.
func (t EventType) IsClosing() bool {
	switch t {
	case WorkflowCompleted, WorkflowFailed, WorkflowCanceled, WorkflowTerminated, WorkflowContinuedAsNew, WorkflowTimedOut:
		return true
	}
	return false
}

// Event is one entry in a run's log. Common fields come first; the rest are
// set according to Type and omitted from the JSON otherwise.
type Event struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	Type EventType `json:"type"`
	// InputID is the stable id of the input (activity result, start, ...) that
	// this event applied; a redelivered input with a recorded id is ignored.
	InputID string `json:"input_id,omitempty"`
	// Cause is the seq of the event that led to this one: an activity
	// outcome points at its ActivityScheduled event; a command points at the
	// input event after which the workflow code produced it.
	Cause int64 `json:"cause,omitempty"`

	// Name is the workflow type (WorkflowStarted) or the activity name.
	Name       string `json:"name,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	TaskQueue  string `json:"task_queue,omitempty"`
	// Input is the JSON array of arguments (a signal's is one JSON value).
	Input json.RawMessage `json:"input,omitempty"`
	// InputDigest, on a scheduling command (ActivityScheduled,
	// ChildWorkflowScheduled, WorkflowContinuedAsNew), is the first 16 hex
	// digits of the sha256 of its input as compact JSON: replay compares
	// it with the input the code produces. Histories written before it
	// have none, and are not compared.
	InputDigest string `json:"input_digest,omitempty"`
	// Result is the JSON value returned.
	Result json.RawMessage `json:"result,omitempty"`
	// InputRef and ResultRef replace Input and Result in a stored record
	// when the payload is stored out of line; reads through Log resolve
	// them, so they are never set in events a caller sees.
	InputRef  *BlobRef `json:"input_ref,omitempty"`
	ResultRef *BlobRef `json:"result_ref,omitempty"`
	Failure   *Failure `json:"failure,omitempty"`
	Attempt   int      `json:"attempt,omitempty"`
	// ActivityOptions are the options an activity was scheduled with.
	ActivityOptions *ActivityOptions `json:"activity_options,omitempty"`
	// StartedAt is when the attempt that produced an activity outcome began.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// NextAttemptAt is when a failed activity attempt will be retried.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// Identity names the worker that ran an activity attempt or a decision.
	Identity string `json:"identity,omitempty"`
	// Child names the child run of a ChildWorkflowScheduled (and the
	// child events answering it); Parent, on WorkflowStarted, the parent.
	Child  *RunRef `json:"child,omitempty"`
	Parent *RunRef `json:"parent,omitempty"`
	// Next is the run a WorkflowContinuedAsNew continues in; ContinuedFrom,
	// on WorkflowStarted, the run it continues.
	Next          *RunRef `json:"next,omitempty"`
	ContinuedFrom string  `json:"continued_from,omitempty"`
	// ResetFrom, on WorkflowStarted, names the run (and its event, Seq) a
	// reset copied this run's history from.
	ResetFrom *RunRef `json:"reset_from,omitempty"`
	// ParentClosePolicy of a child: terminate (default), request_cancel or
	// abandon.
	ParentClosePolicy string `json:"parent_close_policy,omitempty"`
	// Reason says why a run was cancelled or terminated.
	Reason string `json:"reason,omitempty"`
	// FireAt is when a timer falls due; Duration what it was started with.
	FireAt   *time.Time `json:"fire_at,omitempty"`
	Duration Duration   `json:"duration,omitempty"`
	// SignalSeq is the stream sequence at which a signal was accepted; the
	// signals of a run are applied in this order, each once.
	SignalSeq uint64 `json:"signal_seq,omitempty"`
	// WorkflowTimeout is the run's execution timeout, if any.
	WorkflowTimeout Duration `json:"workflow_timeout,omitempty"`
}

// RunRef points at another run: a child from its parent, a parent from its
// child (Seq: the parent's ChildWorkflowScheduled event).
type RunRef struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	TaskQueue  string `json:"task_queue,omitempty"`
	Seq        int64  `json:"seq,omitempty"`
}

// ActivityOptions as recorded on ActivityScheduled.
type ActivityOptions struct {
	TaskQueue           string       `json:"task_queue"`
	StartToCloseTimeout Duration     `json:"start_to_close_timeout,omitempty"`
	RetryPolicy         *RetryPolicy `json:"retry_policy,omitempty"`
	// ScheduleToCloseTimeout bounds all attempts from ActivityScheduled.
	ScheduleToCloseTimeout Duration `json:"schedule_to_close_timeout,omitempty"`
	// HeartbeatTimeout fails an attempt silent for this long.
	HeartbeatTimeout Duration `json:"heartbeat_timeout,omitempty"`
}

// RetryPolicy says how a failed activity is retried. Zero values mean the
// defaults (see Normalize): 1s initial interval, coefficient 2, maximum
// interval 100x the initial one, unlimited attempts.
type RetryPolicy struct {
	InitialInterval        Duration `json:"initial_interval,omitempty"`
	BackoffCoefficient     float64  `json:"backoff_coefficient,omitempty"`
	MaximumInterval        Duration `json:"maximum_interval,omitempty"`
	MaximumAttempts        int      `json:"maximum_attempts,omitempty"`
	NonRetryableErrorTypes []string `json:"non_retryable_error_types,omitempty"`
}

// Normalize returns the policy with Temporal's defaults filled in.
func (p *RetryPolicy) Normalize() RetryPolicy {
	var r RetryPolicy
	if p != nil {
		r = *p
	}
	if r.InitialInterval <= 0 {
		r.InitialInterval = Duration(time.Second)
	}
	if r.BackoffCoefficient < 1 {
		r.BackoffCoefficient = 2
	}
	if r.MaximumInterval <= 0 {
		r.MaximumInterval = 100 * r.InitialInterval
	}
	return r
}

// Backoff is the wait before attempt+1 after attempt failed (attempt >= 1).
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	d := float64(p.InitialInterval)
	for i := 1; i < attempt; i++ {
		d *= p.BackoffCoefficient
		if d >= float64(p.MaximumInterval) {
			return time.Duration(p.MaximumInterval)
		}
	}
	if d > float64(p.MaximumInterval) {
		d = float64(p.MaximumInterval)
	}
	return time.Duration(d)
}

// Retryable reports whether a failure may be retried after attempt failed.
func (p RetryPolicy) Retryable(f *Failure, attempt int) bool {
	if f == nil || f.NonRetryable {
		return false
	}
	if p.MaximumAttempts > 0 && attempt >= p.MaximumAttempts {
		return false
	}
	for _, t := range p.NonRetryableErrorTypes {
		if t == f.Type {
			return false
		}
	}
	return true
}

// Failure is an error as a value: what crosses the wire for every error.
type Failure struct {
	Message      string `json:"message"`
	Type         string `json:"type,omitempty"`
	Stack        string `json:"stack,omitempty"`
	NonRetryable bool   `json:"non_retryable,omitempty"`
	Details      []byte `json:"details,omitempty"`
	// DetailsRef replaces Details when they are stored out of line.
	DetailsRef *BlobRef `json:"details_ref,omitempty"`
	Cause      *Failure `json:"cause,omitempty"`
}

func (f *Failure) Error() string {
	if f == nil {
		return "<nil>"
	}
	if f.Type != "" {
		return f.Type + ": " + f.Message
	}
	return f.Message
}

// Duration is a time.Duration written as a Go duration string in JSON
// ("1.5s"); it reads both strings and integer nanoseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	// A duration's text is plain ASCII: no escaping to do.
	s := time.Duration(d).String()
	b := make([]byte, 0, len(s)+2)
	return append(append(append(b, '"'), s...), '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if n := len(b); n >= 2 && b[n-1] == '"' && !bytes.ContainsAny(b[1:n-1], "\\\"") {
			s = string(b[1 : n-1]) // no escapes: the text as it stands
		} else if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*d = Duration(n)
	return nil
}

// RecordKind says who wrote a record.
type RecordKind string

const (
	// KindInput is a record of input events written outside a decision
	// (the client's WorkflowStarted).
	KindInput RecordKind = "input"
	// KindDecision is the outcome of one workflow task: the input events it
	// applied and the commands the code produced, committed as one message.
	KindDecision RecordKind = "decision"
)

// Record is one message on a run's history subject.
type Record struct {
	V      int        `json:"v"`
	Kind   RecordKind `json:"kind"`
	Events []Event    `json:"events"`
	// StreamSeq is the JetStream sequence the record was stored at (not in JSON).
	StreamSeq uint64 `json:"-"`
}
