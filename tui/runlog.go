package tui

import (
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// runLog is a run's events as the inspector shows them: one item per
// history.Group (an activity's scheduled event, failed attempts, cancel
// request and outcome make one item, so do a timer's start and its firing or
// cancellation, and a child workflow and what its run reported; every other
// event is an item of its own), built as records arrive.
type runLog struct {
	events []history.Event
	items  []logItem
	// grouper places each event in its item.
	grouper       history.Grouper
	lastStreamSeq uint64
	records       int
	// resetSeq and resetAt: in a reset run, the last event kept from the
	// old run and the time of the first one after it (the new run's first
	// work).
	resetSeq int64
	resetAt  time.Time
}

type logItem struct {
	events   []int // indices into runLog.events, in order
	kind     history.GroupKind
	expanded bool
}

func (it *logItem) grouped() bool { return it.kind != history.GroupEvent }

// logRow is one line of the log: an item, or (child >= 0) one raw event of
// an expanded group.
type logRow struct{ item, child int }

// add appends records, skipping any already seen (a refresh or a follow may
// overlap what a page read). It reports whether anything was added.
func (l *runLog) add(recs []history.Record) bool {
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
			if ev.Type == history.WorkflowStarted && ev.ResetFrom != nil && idx == 0 {
				l.resetSeq = ev.ResetFrom.Seq
			}
			if l.resetSeq > 0 && ev.Seq > l.resetSeq && l.resetAt.IsZero() {
				l.resetAt = ev.Time
			}
			if g, opened := l.grouper.Add(&l.events[idx]); !opened {
				l.items[g].events = append(l.items[g].events, idx)
				continue
			}
			l.items = append(l.items, logItem{events: []int{idx}, kind: history.GroupKindOf(ev.Type)})
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

// group is an activity, timer or child item read back: its events and
// what they add up to (history.Group).
type group struct {
	history.Group
	// since is when it started in this run: its scheduling, or for what a
	// reset run kept from the old run and went on with, the reset.
	since time.Time
}

func (l *runLog) group(it *logItem) group {
	evs := make([]*history.Event, len(it.events))
	for i, idx := range it.events {
		evs[i] = &l.events[idx]
	}
	g := group{Group: history.NewGroup(it.kind, evs), since: evs[0].Time}
	// Kept from the old run and still open at the reset: this run took it
	// up at the reset, not when the old run scheduled it.
	if first := g.First(); l.resetSeq > 0 && first.Seq <= l.resetSeq && l.resetAt.After(first.Time) &&
		(g.Last().Seq > l.resetSeq || !g.Closed()) {
		g.since = l.resetAt
	}
	return g
}

// duration is from scheduling (or the reset) to the outcome, or to now
// while open.
func (g group) duration(now time.Time) time.Duration { return g.End(now).Sub(g.since) }

// summaryMax bounds a result or argument list in a row's summary: the log's
// column cuts it to what the terminal gives; this only bounds the work.
const summaryMax = 500

// summary is the group's line: name, attempts, duration and outcome.
func (g group) summary(now time.Time) string { return g.Summary(g.duration(now), summaryMax, 0) }
