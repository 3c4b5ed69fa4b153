package history

// Tone is what an event, a group or a run's status means, for the colour
// a front end gives it: the TUI maps it to a style, dfctl web to a CSS
// class, so that both colour the same things the same way.
type Tone int

const (
	TonePlain     Tone = iota // nothing to say (an unknown status)
	ToneInfo                  // an event that records, not changes, the run's course
	ToneBold                  // the run's start
	ToneRunning               // open, work going on
	ToneCompleted             // succeeded
	ToneFailed                // failed
	ToneClosed                // ended otherwise, or interrupted: canceled, terminated, timed out, retrying
	ToneBlocked               // a running run no worker can advance
)

// EventTone is the tone of an event of type t.
func EventTone(t EventType) Tone {
	switch t {
	case WorkflowCompleted, ActivityCompleted, ChildWorkflowCompleted:
		return ToneCompleted
	case WorkflowFailed, ActivityFailed, ChildWorkflowFailed, ChildWorkflowStartFailed:
		return ToneFailed
	case ActivityAttemptFailed, WorkflowTaskFailed, WorkflowCancelRequested,
		WorkflowCanceled, WorkflowTerminated, ActivityCancelRequested, TimerCanceled,
		ChildWorkflowCancelRequested, WorkflowTimedOut:
		return ToneClosed
	case WorkflowStarted:
		return ToneBold
	}
	return ToneInfo
}

// Tone is the group's tone: its state's for an activity, timer or child
// workflow, its event's for one event.
func (g Group) Tone() Tone {
	if !g.Grouped() {
		return EventTone(g.First().Type)
	}
	switch g.State {
	case GroupCompleted:
		return ToneCompleted
	case GroupFailed:
		return ToneFailed
	case GroupRetrying, GroupCanceling, GroupCanceled:
		return ToneClosed
	}
	return ToneRunning
}
