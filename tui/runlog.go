package tui

import (
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// runLog is a run's events as the inspector shows them: an activity's
// scheduled event, failed attempts and outcome make one item (a group),
// every other event an item of its own.
type runLog struct {
	events []history.Event
	items  []logItem
	// groups maps an ActivityScheduled seq to its item, so that outcomes
	// (whose Cause is that seq) join it.
	groups        map[int64]int
	lastStreamSeq uint64
	records       int
}

type logItem struct {
	events   []int // indices into runLog.events, in order
	activity bool
	expanded bool
}

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
			case history.ActivityScheduled:
				l.groups[ev.Seq] = len(l.items)
				l.items = append(l.items, logItem{events: []int{idx}, activity: true})
				continue
			case history.ActivityAttemptFailed, history.ActivityCompleted, history.ActivityFailed:
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
		if it := &l.items[i]; it.activity && it.expanded {
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

// activityState says where an activity group stands.
type activityState int

const (
	activityScheduled activityState = iota // no outcome yet
	activityRetrying                       // last attempt failed, another is due
	activityCompleted
	activityFailed
)

// group is an activity item read back: its events and what they add up to.
type group struct {
	evs      []*history.Event
	state    activityState
	attempts int
}

func (l *runLog) group(it *logItem) group {
	g := group{evs: make([]*history.Event, len(it.events)), attempts: 1}
	for i, idx := range it.events {
		ev := &l.events[idx]
		g.evs[i] = ev
		if ev.Attempt > g.attempts {
			g.attempts = ev.Attempt
		}
		switch ev.Type {
		case history.ActivityAttemptFailed:
			g.state = activityRetrying
			g.attempts = max(g.attempts, ev.Attempt+1)
		case history.ActivityCompleted:
			g.state = activityCompleted
		case history.ActivityFailed:
			g.state = activityFailed
		}
	}
	if g.state == activityCompleted || g.state == activityFailed {
		g.attempts = max(g.evs[len(g.evs)-1].Attempt, 1)
	}
	return g
}

func (g group) scheduled() *history.Event { return g.evs[0] }
func (g group) last() *history.Event      { return g.evs[len(g.evs)-1] }
func (g group) closed() bool              { return g.state == activityCompleted || g.state == activityFailed }

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
	s := g.scheduled().Name
	if g.attempts > 1 {
		s += fmt.Sprintf(" ×%d attempts", g.attempts)
	}
	s += " (" + shortDuration(g.duration(now)) + ")"
	last := g.last()
	switch g.state {
	case activityCompleted:
		s += " → " + history.Truncate(history.CompactJSON(last.Result), 60)
	case activityFailed, activityRetrying:
		s += ": " + oneLine(history.FailureText(last.Failure))
	default:
		s += " " + history.Truncate(history.Args(g.scheduled().Input), 60)
	}
	return s
}

func (g group) label() string {
	switch g.state {
	case activityCompleted:
		return "activity ✓"
	case activityFailed:
		return "activity ✗"
	case activityRetrying:
		return "activity ↻ retrying"
	}
	return "activity … running"
}
