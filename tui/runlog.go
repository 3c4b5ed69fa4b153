package tui

import (
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// runLog is a run's events as the inspector shows them: an activity's
// scheduled event, failed attempts, cancel request and outcome make one item
// (a group), so do a timer's start and its firing or cancellation; every
// other event is an item of its own.
type runLog struct {
	events []history.Event
	items  []logItem
	// groups maps the seq of an ActivityScheduled or TimerStarted event to
	// its item, so that the events answering it (whose Cause is that seq)
	// join it.
	groups        map[int64]int
	lastStreamSeq uint64
	records       int
}

type logItem struct {
	events   []int // indices into runLog.events, in order
	kind     itemKind
	expanded bool
}

type itemKind int

const (
	itemEvent itemKind = iota
	itemActivity
	itemTimer
	itemChild
)

func (it *logItem) grouped() bool { return it.kind != itemEvent }

// logRow is one line of the log: an item, or (child >= 0) one raw event of
// an expanded group.
type logRow struct{ item, child int }

// add appends records, skipping any already seen (a refresh or a follow may
// overlap what a page read). It reports whether anything was added.
func (l *runLog) add(recs []history.Record) bool {
	if l.groups == nil {
		l.groups = map[int64]int{}
	}
	added := false
	for _, rec := range recs {
		if rec.StreamSeq != 0 && rec.StreamSeq <= l.lastStreamSeq {
			continue
		}
		if rec.StreamSeq != 0 {
			l.lastStreamSeq = rec.StreamSeq
		}
		l.records++
		for _, ev := range rec.Events {
			added = true
			idx := len(l.events)
			l.events = append(l.events, ev)
			switch ev.Type {
			case history.ActivityScheduled, history.TimerStarted, history.ChildWorkflowScheduled:
				kind := itemActivity
				switch ev.Type {
				case history.TimerStarted:
					kind = itemTimer
				case history.ChildWorkflowScheduled:
					kind = itemChild
				}
				l.groups[ev.Seq] = len(l.items)
				l.items = append(l.items, logItem{events: []int{idx}, kind: kind})
				continue
			case history.ActivityAttemptFailed, history.ActivityCompleted, history.ActivityFailed,
				history.ActivityCancelRequested, history.TimerFired, history.TimerCanceled,
				history.ChildWorkflowStarted, history.ChildWorkflowStartFailed, history.ChildWorkflowCompleted,
				history.ChildWorkflowFailed, history.ChildWorkflowCancelRequested:
				if g, ok := l.groups[ev.Cause]; ok {
					l.items[g].events = append(l.items[g].events, idx)
					continue
				}
			}
			l.items = append(l.items, logItem{events: []int{idx}})
		}
	}
	return added
}

// rows lists the log's lines, expanded groups with their raw events.
func (l *runLog) rows(buf []logRow) []logRow {
	buf = buf[:0]
	for i := range l.items {
		buf = append(buf, logRow{item: i, child: -1})
		if it := &l.items[i]; it.grouped() && it.expanded {
			for c := range it.events {
				buf = append(buf, logRow{item: i, child: c})
			}
		}
	}
	return buf
}

func (l *runLog) start() time.Time {
	if len(l.events) == 0 {
		return time.Time{}
	}
	return l.events[0].Time
}

// groupState says where an activity or a timer stands.
type groupState int

const (
	groupOpen      groupState = iota // scheduled or started, no outcome yet
	groupRetrying                    // the last attempt failed, another is due
	groupCanceling                   // cancellation requested
	groupCompleted                   // an activity completed, a timer fired
	groupFailed
	groupCanceled // a timer canceled
)

// group is an activity or timer item read back: its events and what they
// add up to.
type group struct {
	kind     itemKind
	evs      []*history.Event
	state    groupState
	attempts int
}

func (l *runLog) group(it *logItem) group {
	g := group{kind: it.kind, evs: make([]*history.Event, len(it.events)), attempts: 1}
	for i, idx := range it.events {
		ev := &l.events[idx]
		g.evs[i] = ev
		if ev.Attempt > g.attempts {
			g.attempts = ev.Attempt
		}
		switch ev.Type {
		case history.ActivityAttemptFailed:
			g.state = groupRetrying
			g.attempts = max(g.attempts, ev.Attempt+1)
		case history.ActivityCancelRequested, history.ChildWorkflowCancelRequested:
			g.state = groupCanceling
		case history.ActivityCompleted, history.TimerFired, history.ChildWorkflowCompleted:
			g.state = groupCompleted
		case history.ActivityFailed, history.ChildWorkflowFailed, history.ChildWorkflowStartFailed:
			g.state = groupFailed
		case history.TimerCanceled:
			g.state = groupCanceled
		}
	}
	if g.kind == itemActivity && (g.state == groupCompleted || g.state == groupFailed) {
		g.attempts = max(g.evs[len(g.evs)-1].Attempt, 1)
	}
	return g
}

func (g group) scheduled() *history.Event { return g.evs[0] }
func (g group) last() *history.Event      { return g.evs[len(g.evs)-1] }
func (g group) closed() bool {
	return g.state == groupCompleted || g.state == groupFailed || g.state == groupCanceled
}

// duration is from scheduling to the outcome, or to now while open.
func (g group) duration(now time.Time) time.Duration {
	end := now
	if g.closed() {
		end = g.last().Time
	}
	return end.Sub(g.scheduled().Time)
}

// summary is the group's line: name, attempts, duration and outcome.
func (g group) summary(now time.Time) string {
	if g.kind == itemTimer {
		s := history.Summary(*g.scheduled())
		switch g.state {
		case groupCompleted:
			s += ", fired after " + shortDuration(g.duration(now))
		case groupCanceled:
			s += ", canceled after " + shortDuration(g.duration(now))
		}
		return s
	}
	s := g.scheduled().Name
	if c := g.child(); c != nil {
		s += " " + c.WorkflowID
	}
	if g.attempts > 1 {
		s += fmt.Sprintf(" ×%d attempts", g.attempts)
	}
	s += " (" + shortDuration(g.duration(now)) + ")"
	last := g.last()
	switch g.state {
	case groupCompleted:
		s += " → " + history.Truncate(history.CompactJSON(last.Result), 60)
	case groupFailed, groupRetrying:
		s += ": " + oneLine(history.FailureText(last.Failure))
	case groupCanceling:
		s += ": cancel requested"
	default:
		s += " " + history.Truncate(history.Args(g.scheduled().Input), 60)
	}
	return s
}

func (g group) label() string {
	if g.kind == itemTimer {
		switch g.state {
		case groupCompleted:
			return "timer ✓ fired"
		case groupCanceled:
			return "timer ⊘ canceled"
		}
		return "timer … pending"
	}
	if g.kind == itemChild {
		switch g.state {
		case groupCompleted:
			return "child workflow ✓"
		case groupFailed:
			return "child workflow ✗"
		case groupCanceling:
			return "child workflow ⊘ cancel"
		}
		return "child workflow … running"
	}
	switch g.state {
	case groupCompleted:
		return "activity ✓"
	case groupFailed:
		return "activity ✗"
	case groupRetrying:
		return "activity ↻ retrying"
	case groupCanceling:
		return "activity ⊘ canceling"
	}
	return "activity … running"
}

// child is the run a child workflow group started, if any.
func (g group) child() *history.RunRef {
	if g.kind != itemChild {
		return nil
	}
	for _, ev := range g.evs {
		if ev.Child != nil {
			return ev.Child
		}
	}
	return nil
}
