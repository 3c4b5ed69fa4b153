package history

import (
	"sort"
	"strconv"
	"time"
)

// Pending is what a run waits for, folded from its events alone: the
// activities, timers and children it scheduled and has not seen the end
// of, the signals it received, and why it is stuck if a worker said so.
// dfctl describe shows it; the TUI and a web view can fold a run the same
// way. It knows only what the history records: whether an attempt is
// running right now, or its last heartbeat, is not in the history (the
// caller adds them from the heartbeats bucket).
type Pending struct {
	Activities []PendingActivity `json:"pending_activities"`
	Timers     []PendingTimer    `json:"pending_timers"`
	Children   []PendingChild    `json:"pending_children"`
	// SignalsReceived counts the SignalReceived events, by signal name in
	// SignalsByName. Whether the code has taken a signal from its channel
	// is not recorded (it is the code's state, not an event).
	SignalsReceived int            `json:"signals_received"`
	SignalsByName   map[string]int `json:"signals_by_name,omitempty"`
	// CancelRequested: a WorkflowCancelRequested is recorded and the run
	// has not closed: the code is expected to clean up and return.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Blocked is the failure of the last WorkflowTaskFailed when no event
	// followed it: a worker could not decide (unknown type, non-determinism,
	// a panic) and the run waits for one that can.
	Blocked *Failure `json:"blocked_failure,omitempty"`
	// Close is the type of the event that closed the run ("" while open),
	// Failure its failure (failed, canceled, terminated, timed out).
	Close   EventType `json:"close_event,omitempty"`
	Failure *Failure  `json:"failure,omitempty"`
	// LastEventSeq and LastEventTime are those of the last event.
	LastEventSeq  int64     `json:"last_event_seq"`
	LastEventTime time.Time `json:"last_event_time"`
}

// PendingActivity is an activity scheduled and not yet completed, failed
// for good or cancelled.
type PendingActivity struct {
	Name string `json:"name"`
	// Seq is the seq of its ActivityScheduled event; ActivityID is the
	// same number as a string (the id activity outcomes and heartbeats
	// are keyed by).
	Seq        int64  `json:"seq"`
	ActivityID string `json:"activity_id"`
	TaskQueue  string `json:"task_queue,omitempty"`
	// Attempt is the attempt running or due next: one more than the failed
	// attempts recorded. MaximumAttempts is the retry policy's (0:
	// unlimited).
	Attempt         int        `json:"attempt"`
	MaximumAttempts int        `json:"maximum_attempts"`
	ScheduledAt     time.Time  `json:"scheduled_at"`
	LastFailure     *Failure   `json:"last_failure,omitempty"`
	LastFailedAt    *time.Time `json:"last_failed_at,omitempty"`
	NextAttemptAt   *time.Time `json:"next_attempt_at,omitempty"`
	// LastWorker is the identity of the worker that ran the last failed
	// attempt.
	LastWorker          string   `json:"last_worker,omitempty"`
	StartToCloseTimeout Duration `json:"start_to_close_timeout,omitempty"`
	HeartbeatTimeout    Duration `json:"heartbeat_timeout,omitempty"`
}

// PendingTimer is a timer started and neither fired nor cancelled.
type PendingTimer struct {
	Seq      int64      `json:"seq"`
	FireAt   *time.Time `json:"fire_at,omitempty"`
	Duration Duration   `json:"duration,omitempty"`
}

// PendingChild is a child workflow scheduled whose close the parent has not
// heard of.
type PendingChild struct {
	Seq        int64  `json:"seq"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Type       string `json:"type"`
	TaskQueue  string `json:"task_queue,omitempty"`
	// Started: the parent heard that the child started.
	Started bool `json:"started"`
}

// PendingOf folds a run's events, in seq order, into what the run waits
// for. Outcomes that answer nothing (an older writer's leftovers) are
// ignored, as replay ignores them; events after a close change nothing.
func PendingOf(evs []Event) Pending {
	var p Pending
	acts := map[int64]*PendingActivity{}
	timers := map[int64]*PendingTimer{}
	children := map[int64]*PendingChild{}
	for _, ev := range evs {
		if p.Close != "" {
			break // nothing after close
		}
		p.LastEventSeq, p.LastEventTime = ev.Seq, ev.Time
		if ev.Type != WorkflowTaskFailed {
			p.Blocked = nil
		}
		switch ev.Type {
		case ActivityScheduled:
			a := &PendingActivity{Name: ev.Name, Seq: ev.Seq, ActivityID: strconv.FormatInt(ev.Seq, 10), Attempt: 1, ScheduledAt: ev.Time}
			if o := ev.ActivityOptions; o != nil {
				a.TaskQueue, a.StartToCloseTimeout, a.HeartbeatTimeout = o.TaskQueue, o.StartToCloseTimeout, o.HeartbeatTimeout
				if o.RetryPolicy != nil {
					a.MaximumAttempts = o.RetryPolicy.MaximumAttempts
				}
			}
			acts[ev.Seq] = a
		case ActivityAttemptFailed:
			if a := acts[ev.Cause]; a != nil {
				t := ev.Time
				a.Attempt = max(a.Attempt, ev.Attempt+1)
				a.LastFailure, a.LastFailedAt, a.NextAttemptAt, a.LastWorker = ev.Failure, &t, ev.NextAttemptAt, ev.Identity
			}
		case ActivityCompleted, ActivityFailed, ActivityCancelRequested:
			delete(acts, ev.Cause)
		case TimerStarted:
			timers[ev.Seq] = &PendingTimer{Seq: ev.Seq, FireAt: ev.FireAt, Duration: ev.Duration}
		case TimerFired, TimerCanceled:
			delete(timers, ev.Cause)
		case ChildWorkflowScheduled:
			c := &PendingChild{Seq: ev.Seq, Type: ev.Name}
			if ev.Child != nil {
				c.WorkflowID, c.RunID, c.TaskQueue = ev.Child.WorkflowID, ev.Child.RunID, ev.Child.TaskQueue
			}
			children[ev.Seq] = c
		case ChildWorkflowStarted:
			if c := children[ev.Cause]; c != nil {
				c.Started = true
				if ev.Child != nil && ev.Child.RunID != "" {
					c.RunID = ev.Child.RunID
				}
			}
		case ChildWorkflowCompleted, ChildWorkflowFailed, ChildWorkflowStartFailed:
			delete(children, ev.Cause)
		case SignalReceived:
			p.SignalsReceived++
			if p.SignalsByName == nil {
				p.SignalsByName = map[string]int{}
			}
			p.SignalsByName[ev.Name]++
		case WorkflowCancelRequested:
			p.CancelRequested = true
		case WorkflowTaskFailed:
			p.Blocked = ev.Failure
			if p.Blocked == nil {
				p.Blocked = &Failure{Message: "a workflow task failed"}
			}
		}
		if ev.Type.IsClosing() {
			p.Close, p.Failure, p.CancelRequested = ev.Type, ev.Failure, false
			if ev.Type == WorkflowTimedOut && p.Failure == nil {
				p.Failure = &Failure{Message: "the run outlived its execution timeout", Type: "TimeoutError"}
			}
		}
	}
	if p.Close != "" {
		// A closed run waits for nothing: what it left open was abandoned
		// (activities, timers) or closed by its parent close policy.
		p.Blocked = nil
		p.Activities, p.Timers, p.Children = []PendingActivity{}, []PendingTimer{}, []PendingChild{}
		return p
	}
	p.Activities = make([]PendingActivity, 0, len(acts))
	for _, a := range acts {
		p.Activities = append(p.Activities, *a)
	}
	sort.Slice(p.Activities, func(i, j int) bool { return p.Activities[i].Seq < p.Activities[j].Seq })
	p.Timers = make([]PendingTimer, 0, len(timers))
	for _, t := range timers {
		p.Timers = append(p.Timers, *t)
	}
	sort.Slice(p.Timers, func(i, j int) bool { return p.Timers[i].Seq < p.Timers[j].Seq })
	p.Children = make([]PendingChild, 0, len(children))
	for _, c := range children {
		p.Children = append(p.Children, *c)
	}
	sort.Slice(p.Children, func(i, j int) bool { return p.Children[i].Seq < p.Children[j].Seq })
	return p
}

// Idle reports whether an open run waits for nothing the history names:
// no activity, timer or child. It then waits for a signal, a condition in
// its code, or a worker (Blocked).
func (p Pending) Idle() bool {
	return p.Close == "" && len(p.Activities) == 0 && len(p.Timers) == 0 && len(p.Children) == 0
}
