package history

import (
	"fmt"
	"time"
)

// A run's log as people read it folds the events that answer an activity, a
// timer or a child workflow into one group with the event that started it:
// an activity's scheduled event, failed attempts, cancel request and
// outcome; a timer and its firing or cancellation; a child workflow and
// what its run reported. Every other event is a group of its own. The TUI
// and dfctl web both show the log this way; this file is the one place
// that decides what goes together and what it adds up to.

// GroupKind says what a group holds.
type GroupKind int

const (
	GroupEvent    GroupKind = iota // one event on its own
	GroupActivity                  // an ActivityScheduled and the events answering it
	GroupTimer                     // a TimerStarted and its firing or cancellation
	GroupChild                     // a ChildWorkflowScheduled and what its run reported
)

// String is the kind for people: "event", "activity", "timer", "child
// workflow".
func (k GroupKind) String() string {
	switch k {
	case GroupActivity:
		return "activity"
	case GroupTimer:
		return "timer"
	case GroupChild:
		return "child workflow"
	}
	return "event"
}

// GroupKindOf is the kind of group an event of type t opens: GroupEvent
// when it opens none.
func GroupKindOf(t EventType) GroupKind {
	switch t {
	case ActivityScheduled:
		return GroupActivity
	case TimerStarted:
		return GroupTimer
	case ChildWorkflowScheduled:
		return GroupChild
	}
	return GroupEvent
}

// answersGroup reports whether an event of type t joins the group of the
// event its Cause names (when there is one).
func answersGroup(t EventType) bool {
	switch t {
	case ActivityAttemptFailed, ActivityCompleted, ActivityFailed,
		ActivityCancelRequested, TimerFired, TimerCanceled,
		ChildWorkflowStarted, ChildWorkflowStartFailed, ChildWorkflowCompleted,
		ChildWorkflowFailed, ChildWorkflowCancelRequested:
		return true
	}
	return false
}

// Grouper places a run's events in groups one at a time, for a log that
// grows while a run is followed. The zero value is ready to use.
type Grouper struct {
	open map[int64]int // the seq of a group's first event → the group
	n    int           // groups so far
}

// Add places the next event of the run: it returns the index of its group
// (0, 1, … in the order groups open) and whether the event opened it. A
// new group is of kind GroupKindOf(ev.Type).
func (g *Grouper) Add(ev *Event) (group int, opened bool) {
	if answersGroup(ev.Type) {
		if i, ok := g.open[ev.Cause]; ok {
			return i, false
		}
	}
	i := g.n
	g.n++
	if GroupKindOf(ev.Type) != GroupEvent {
		if g.open == nil {
			g.open = map[int64]int{}
		}
		g.open[ev.Seq] = i
	}
	return i, true
}

// GroupState says where an activity, a timer or a child workflow stands.
type GroupState int

const (
	GroupOpen      GroupState = iota // scheduled or started, no outcome yet
	GroupRetrying                    // the last attempt failed, another is due
	GroupCanceling                   // cancellation requested
	GroupCompleted                   // an activity or child completed, a timer fired
	GroupFailed
	GroupCanceled // a timer canceled
)

// Group is one item of a run's log: one event, or an activity, timer or
// child workflow with the events that answer it, and what they add up to.
type Group struct {
	Kind GroupKind
	// Events are the group's events in order; the first opened it.
	Events []*Event
	// State and Attempts are read from the events; they mean something
	// for an activity, timer or child workflow, not for one event.
	State GroupState
	// Attempts is how many attempts an activity has made, or is making
	// (at least 1).
	Attempts int
}

// GroupEvents folds a run's events into its log's groups. The groups point
// into events.
func GroupEvents(events []Event) []Group {
	var gr Grouper
	var kinds []GroupKind
	var evs [][]*Event
	for i := range events {
		ev := &events[i]
		g, opened := gr.Add(ev)
		if opened {
			kinds = append(kinds, GroupKindOf(ev.Type))
			evs = append(evs, []*Event{ev})
			continue
		}
		evs[g] = append(evs[g], ev)
	}
	out := make([]Group, len(evs))
	for i := range evs {
		out[i] = NewGroup(kinds[i], evs[i])
	}
	return out
}

// NewGroup reads a group's events back (events[0] opened it): its state
// and attempts.
func NewGroup(kind GroupKind, events []*Event) Group {
	g := Group{Kind: kind, Events: events, Attempts: 1}
	for _, ev := range events {
		if ev.Attempt > g.Attempts {
			g.Attempts = ev.Attempt
		}
		switch ev.Type {
		case ActivityAttemptFailed:
			g.State = GroupRetrying
			g.Attempts = max(g.Attempts, ev.Attempt+1)
		case ActivityCancelRequested, ChildWorkflowCancelRequested:
			g.State = GroupCanceling
		case ActivityCompleted, TimerFired, ChildWorkflowCompleted:
			g.State = GroupCompleted
		case ActivityFailed, ChildWorkflowFailed, ChildWorkflowStartFailed:
			g.State = GroupFailed
		case TimerCanceled:
			g.State = GroupCanceled
		}
	}
	// A closed activity made exactly the attempts its outcome names.
	if kind == GroupActivity && (g.State == GroupCompleted || g.State == GroupFailed) {
		g.Attempts = max(g.Last().Attempt, 1)
	}
	return g
}

// First is the event that opened the group.
func (g Group) First() *Event { return g.Events[0] }

// Last is the group's latest event.
func (g Group) Last() *Event { return g.Events[len(g.Events)-1] }

// Grouped reports whether the group is an activity, timer or child
// workflow rather than one event.
func (g Group) Grouped() bool { return g.Kind != GroupEvent }

// Closed reports whether the group has its outcome.
func (g Group) Closed() bool {
	return g.State == GroupCompleted || g.State == GroupFailed || g.State == GroupCanceled
}

// End is when the group closed, or now while it is open.
func (g Group) End(now time.Time) time.Time {
	if g.Closed() {
		return g.Last().Time
	}
	return now
}

// Child is the run a child workflow group started, if any.
func (g Group) Child() *RunRef {
	if g.Kind != GroupChild {
		return nil
	}
	for _, ev := range g.Events {
		if ev.Child != nil {
			return ev.Child
		}
	}
	return nil
}

// Label is the group's kind and state with its glyph: "activity ✓",
// "timer … pending"; a single event's is its Label.
func (g Group) Label() string {
	switch g.Kind {
	case GroupEvent:
		return Label(g.First().Type)
	case GroupTimer:
		switch g.State {
		case GroupCompleted:
			return "timer ✓ fired"
		case GroupCanceled:
			return "timer ⊘ canceled"
		}
		return "timer … pending"
	case GroupChild:
		switch g.State {
		case GroupCompleted:
			return "child workflow ✓"
		case GroupFailed:
			return "child workflow ✗"
		case GroupCanceling:
			return "child workflow ⊘ cancel"
		}
		return "child workflow … running"
	}
	switch g.State {
	case GroupCompleted:
		return "activity ✓"
	case GroupFailed:
		return "activity ✗"
	case GroupRetrying:
		return "activity ↻ retrying"
	case GroupCanceling:
		return "activity ⊘ canceling"
	}
	return "activity … running"
}

// Summary is the group's line: name, child workflow ID, attempts, how long
// it took (took: the caller knows from when to count) and the outcome. A
// result or argument list is cut to valueWidth runes and a failure message
// to failureWidth (0: not cut). A single event's is its Summary.
func (g Group) Summary(took time.Duration, valueWidth, failureWidth int) string {
	switch g.Kind {
	case GroupEvent:
		return Summary(*g.First())
	case GroupTimer:
		s := Summary(*g.First())
		switch g.State {
		case GroupCompleted:
			s += ", fired after " + ShortDuration(took)
		case GroupCanceled:
			s += ", canceled after " + ShortDuration(took)
		}
		return s
	}
	s := g.First().Name
	if c := g.Child(); c != nil {
		s += " " + c.WorkflowID
	}
	if g.Attempts > 1 {
		s += fmt.Sprintf(" ×%d attempts", g.Attempts)
	}
	s += " (" + ShortDuration(took) + ")"
	last := g.Last()
	switch g.State {
	case GroupCompleted:
		s += " → " + Truncate(CompactJSON(last.Result), valueWidth)
	case GroupFailed, GroupRetrying:
		s += ": " + Truncate(oneLine(FailureText(last.Failure)), failureWidth)
	case GroupCanceling:
		s += ": cancel requested"
	default:
		s += " " + Truncate(Args(g.First().Input), valueWidth)
	}
	return s
}
