package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// runPage is a run's page: the TUI's header, event log, detail pane and
// timeline, and the pending card of dfctl describe.
type runPage struct {
	base
	Info      *engine.RunInfo
	Status    statusView
	Path      string // the run's own URL path (with its run ID)
	Started   string
	Closed    string
	Duration  string
	Events    int
	Truncated bool
	Open      bool
	// After is the stream sequence of the last record read: the live
	// stream starts there.
	After    uint64
	Rows     []logRow
	Selected *selection
	Links    []runLink
	Pending  *pendingCard
	Timeline *timeline
	// ResetSeq is the event a reset from this page goes back to: the
	// selected row's first event.
	ResetSeq int64
}

type logRow struct {
	Seq, Offset, Label, Summary, Class, Href string
	Grouped, Selected                        bool
	Child                                    string // a child run's page
	Events                                   []subRow
}

type subRow struct {
	Seq, Offset, Label, Summary, Class, Href string
	Selected                                 bool
}

type selection struct {
	Title string
	JSON  string
}

type runLink struct{ Label, ID, Href string }

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	id, runID := r.PathValue("id"), r.PathValue("run")
	ctx := r.Context()
	ri, err := s.o.Source.Describe(ctx, id, runID)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	var evs []history.Event
	var after uint64
	truncated := false
	for {
		recs, err := s.o.Source.ReadPage(ctx, ri.WorkflowID, ri.RunID, after, 500)
		if err != nil {
			s.fail(w, r, http.StatusBadGateway, err)
			return
		}
		for _, rec := range recs {
			evs = append(evs, rec.Events...)
			after = max(after, rec.StreamSeq)
		}
		if len(recs) < 500 {
			break
		}
		if len(evs) >= maxEvents {
			truncated = true
			break
		}
	}
	selected := int64(-1)
	if v := r.URL.Query().Get("event"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			selected = n
		}
	}
	p := s.buildRun(r, ri, evs, selected)
	p.After, p.Truncated = after, truncated
	s.render(w, r, "run", p)
}

func (s *Server) buildRun(r *http.Request, ri *engine.RunInfo, evs []history.Event, selected int64) *runPage {
	now := s.o.Now()
	path := RunPath(ri.WorkflowID, ri.RunID)
	p := &runPage{
		base: s.base(r), Info: ri, Status: statusOf(ri), Path: path,
		Started:  ri.StartTime.UTC().Format("2006-01-02 15:04:05") + " (" + history.RelativeTime(now, ri.StartTime) + ")",
		Duration: runlist.Duration(now, ri), Events: len(evs), Open: !ri.Status.IsClosed(),
	}
	if ri.CloseTime != nil {
		p.Closed = ri.CloseTime.UTC().Format("15:04:05")
	}
	p.Crumbs = []crumb{{"runs", "/runs"}, {ri.WorkflowID, ""}}
	var start time.Time
	if len(evs) > 0 {
		start = evs[0].Time
	}
	href := func(seq int64) string { return path + "?event=" + strconv.FormatInt(seq, 10) + "#detail" }
	groups := history.GroupEvents(evs)
	if selected < 0 && len(groups) > 0 {
		selected = -1 // nothing selected: the detail pane shows the last row
	}
	var sel *history.Group
	var selEvent *history.Event
	for i := range groups {
		g := &groups[i]
		f := g.First()
		row := logRow{
			Seq: strconv.FormatInt(f.Seq, 10), Offset: history.Offset(start, f.Time), Label: g.Label(),
			Summary: groupSummary(*g, now), Class: toneClass(g.Tone()), Href: href(f.Seq), Grouped: g.Grouped(),
		}
		if c := g.Child(); c != nil {
			row.Child = RunPath(c.WorkflowID, c.RunID)
		}
		if f.Seq == selected {
			row.Selected, sel = true, g
		}
		if g.Grouped() {
			for j, ev := range g.Events {
				sr := subRow{Seq: strconv.FormatInt(ev.Seq, 10), Offset: history.Offset(start, ev.Time),
					Label: "└ " + subLabel(ev.Type), Summary: history.Summary(*ev), Class: toneClass(history.EventTone(ev.Type)), Href: href(ev.Seq)}
				if ev.Seq == selected && j > 0 {
					sr.Selected, selEvent, sel = true, ev, g
				}
				row.Events = append(row.Events, sr)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	if sel == nil && len(groups) > 0 && selected < 0 {
		sel = &groups[len(groups)-1]
		// Unselected, a reset goes back to before the close, not to it.
		p.ResetSeq = sel.First().Seq
		if sel.First().Type.IsClosing() && len(groups) > 1 {
			p.ResetSeq = groups[len(groups)-2].First().Seq
		}
	} else if sel != nil {
		p.ResetSeq = sel.First().Seq
	}
	if sel != nil {
		show := make([]history.Event, len(sel.Events))
		for i, ev := range sel.Events {
			show[i] = *ev
		}
		title := fmt.Sprintf("event %d · %s", sel.First().Seq, history.Label(sel.First().Type))
		if selEvent != nil {
			show = []history.Event{*selEvent}
			title = fmt.Sprintf("event %d · %s", selEvent.Seq, history.Label(selEvent.Type))
		} else if sel.Grouped() {
			title = fmt.Sprintf("%s %d · %s", sel.Kind, sel.First().Seq, plural(len(sel.Events), "event"))
		}
		var b []byte
		if len(show) == 1 {
			b, _ = json.MarshalIndent(show[0], "", "  ")
		} else {
			b, _ = json.MarshalIndent(show, "", "  ")
		}
		p.Selected = &selection{Title: title, JSON: string(b)}
	}
	p.Links = runLinks(ri, evs)
	p.Pending = pendingOf(ri, evs, now)
	p.Timeline = timelineOf(groups, start, now, ri, path)
	return p
}

// subLabel is a raw event's label inside its group, as the TUI writes it.
func subLabel(t history.EventType) string {
	switch t {
	case history.ActivityScheduled, history.ChildWorkflowScheduled:
		return "scheduled"
	case history.TimerStarted:
		return "started"
	case history.ActivityAttemptFailed:
		return "attempt failed"
	case history.ActivityCompleted, history.ChildWorkflowCompleted:
		return "completed"
	case history.ActivityFailed, history.ChildWorkflowFailed:
		return "failed"
	case history.TimerFired:
		return "fired"
	case history.TimerCanceled:
		return "canceled"
	case history.ChildWorkflowStarted:
		return "started"
	case history.ChildWorkflowStartFailed:
		return "start failed"
	case history.ActivityCancelRequested, history.ChildWorkflowCancelRequested:
		return "cancel requested"
	}
	return history.Label(t)
}

// runLinks are the runs this one is related to: its parent, the run it
// continues or was reset from, the run it continued in.
func runLinks(ri *engine.RunInfo, evs []history.Event) []runLink {
	var out []runLink
	add := func(label string, ref history.RunRef) {
		out = append(out, runLink{Label: label, ID: ref.WorkflowID, Href: RunPath(ref.WorkflowID, ref.RunID)})
	}
	parent := ri.Parent
	if parent == nil && len(evs) > 0 {
		parent = evs[0].Parent
	}
	if parent != nil {
		add("parent", *parent)
	}
	if ri.ContinuedFrom != "" {
		add("continued from", history.RunRef{WorkflowID: ri.WorkflowID, RunID: ri.ContinuedFrom})
	}
	if len(evs) > 0 && evs[0].ResetFrom != nil {
		add("reset from", *evs[0].ResetFrom)
	}
	if ri.Next != "" {
		add("continued as new in", history.RunRef{WorkflowID: ri.WorkflowID, RunID: ri.Next})
	}
	return out
}

// pendingCard is what an open run waits for, or why a closed one ended:
// history.PendingOf, as dfctl describe shows it.
type pendingCard struct {
	Failure    string
	FailureDet string
	Result     string
	Blocked    string
	Activities []pendingLine
	Timers     []pendingLine
	Children   []pendingLine
	Signals    string
	Cancel     bool
	Idle       bool
}

type pendingLine struct{ Text, Detail, Href string }

func pendingOf(ri *engine.RunInfo, evs []history.Event, now time.Time) *pendingCard {
	pend := history.PendingOf(evs)
	c := &pendingCard{Cancel: pend.CancelRequested}
	switch {
	case ri.Failure != nil:
		c.Failure = history.FailureText(ri.Failure)
		c.FailureDet = ri.Failure.Stack
	case pend.Failure != nil:
		c.Failure = history.FailureText(pend.Failure)
		c.FailureDet = pend.Failure.Stack
	case ri.Status == engine.StatusCompleted:
		c.Result = history.CompactJSON(ri.Result)
	}
	if ri.Blocked != "" && !ri.Status.IsClosed() {
		c.Blocked = ri.Blocked
	} else if pend.Blocked != nil && pend.Close == "" {
		c.Blocked = history.FailureText(pend.Blocked)
	}
	for _, a := range pend.Activities {
		att := fmt.Sprintf("attempt %d", a.Attempt)
		if a.MaximumAttempts > 0 {
			att += fmt.Sprintf(" of %d", a.MaximumAttempts)
		}
		l := pendingLine{Text: fmt.Sprintf("%s (event %d) · %s · scheduled %s", a.Name, a.Seq, att, history.RelativeTime(now, a.ScheduledAt))}
		if a.LastFailure != nil {
			l.Detail = "last failure: " + history.FailureText(a.LastFailure)
			if a.NextAttemptAt != nil {
				l.Detail += " · next attempt " + a.NextAttemptAt.UTC().Format("15:04:05") + "Z"
			}
		}
		c.Activities = append(c.Activities, l)
	}
	for _, t := range pend.Timers {
		l := pendingLine{Text: fmt.Sprintf("timer (event %d) · %s", t.Seq, history.ShortDuration(time.Duration(t.Duration)))}
		if t.FireAt != nil {
			l.Text += " · due " + t.FireAt.UTC().Format("2006-01-02 15:04:05") + "Z"
		}
		c.Timers = append(c.Timers, l)
	}
	for _, ch := range pend.Children {
		l := pendingLine{Text: fmt.Sprintf("%s %s (event %d)", ch.Type, ch.WorkflowID, ch.Seq)}
		if ch.WorkflowID != "" {
			l.Href = RunPath(ch.WorkflowID, ch.RunID)
		}
		if !ch.Started {
			l.Detail = "not started yet"
		}
		c.Children = append(c.Children, l)
	}
	if pend.SignalsReceived > 0 {
		c.Signals = fmt.Sprintf("%d received", pend.SignalsReceived)
	}
	c.Idle = !ri.Status.IsClosed() && pend.Idle()
	return c
}

// timeline is the TUI's timeline: a bar per activity, timer and child
// workflow on the run's time axis, each attempt a segment.
type timeline struct {
	Start, Mid, End string
	Workflow        []segment
	Rows            []timelineRow
	NowPct          float64
	Open            bool
}

type timelineRow struct {
	Label, Href, Title string
	Segments           []segment
}

type segment struct {
	Left, Width float64
	Class       string
	Title       string
}

func timelineOf(groups []history.Group, start, now time.Time, ri *engine.RunInfo, path string) *timeline {
	if start.IsZero() {
		return nil
	}
	end := now
	if ri.CloseTime != nil {
		end = *ri.CloseTime
	}
	for _, g := range groups {
		if t := g.Last().Time; t.After(end) {
			end = t
		}
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	pos := func(t time.Time) float64 {
		return min(max(float64(t.Sub(start))/float64(span)*100, 0), 100)
	}
	seg := func(a, b time.Time, class, title string) segment {
		l, r := pos(a), pos(b)
		return segment{Left: l, Width: max(r-l, 0.6), Class: class, Title: title}
	}
	tl := &timeline{Start: "+0s", Mid: "+" + history.ShortDuration(span/2), End: "+" + history.ShortDuration(span), Open: ri.CloseTime == nil}
	wfClass := statusOf(ri).Class
	tl.Workflow = []segment{seg(start, end, "bar "+wfClass, "workflow "+statusOf(ri).Text)}
	tl.NowPct = pos(now)
	for _, g := range groups {
		if !g.Grouped() {
			continue
		}
		f := g.First()
		row := timelineRow{Label: f.Name, Href: path + "?event=" + strconv.FormatInt(f.Seq, 10) + "#detail", Title: g.Label() + " " + groupSummary(g, now)}
		switch g.Kind {
		case history.GroupTimer:
			row.Label = "timer " + history.ShortDuration(time.Duration(f.Duration))
			row.Segments = []segment{seg(f.Time, g.End(now), "timer", g.Label())}
		case history.GroupChild:
			if c := g.Child(); c != nil {
				row.Label = f.Name + " " + c.WorkflowID
			}
			row.Segments = []segment{seg(f.Time, g.End(now), "bar "+toneClass(g.Tone()), g.Label())}
		default:
			if g.Attempts > 1 {
				row.Label += fmt.Sprintf(" ×%d", g.Attempts)
			}
			cursor := f.Time
			for _, ev := range g.Events[1:] {
				var class string
				switch ev.Type {
				case history.ActivityAttemptFailed:
					class = "bar attempt-failed"
				case history.ActivityCompleted:
					class = "bar completed"
				case history.ActivityFailed:
					class = "bar failed"
				default:
					continue
				}
				from := cursor
				if ev.StartedAt != nil && ev.StartedAt.After(cursor) {
					row.Segments = append(row.Segments, seg(cursor, *ev.StartedAt, "waiting", "waiting"))
					from = *ev.StartedAt
				}
				row.Segments = append(row.Segments, seg(from, ev.Time, class, history.Label(ev.Type)+" "+fmt.Sprintf("#%d", max(ev.Attempt, 1))))
				cursor = ev.Time
			}
			if !g.Closed() && ri.CloseTime == nil {
				row.Segments = append(row.Segments, seg(cursor, now, "bar running-seg", "running"))
			}
		}
		tl.Rows = append(tl.Rows, row)
	}
	return tl
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
