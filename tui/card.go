package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// The card is the top of a run view, under the run's name and times: why a
// closed run failed (type and message, then its causes), or what an open
// run waits for (activities with their attempts and retries, timers,
// children, why it is blocked). It is what one opens a run for, so it
// comes before the event log and is never cut to one line.

// heartbeatMsg carries the last heartbeats of a run's pending activities
// (by the seq of their ActivityScheduled event).
type heartbeatMsg struct {
	gen   int64
	beats map[int64]time.Time
}

// cardLabelW is the width of the card's labels ("failure  ").
const cardLabelW = 9

// pendingNow folds the log into what the run waits for, again only when
// events were added since the last fold.
func (v *RunView) pendingNow() *history.Pending {
	if v.pendingN != len(v.log.events) || v.pending == nil {
		p := history.PendingOf(v.log.events)
		v.pending, v.pendingN = &p, len(v.log.events)
	}
	return v.pending
}

// cardLines are the card's lines at the view's width, at most limit (the
// last then says how many more there are).
func (v *RunView) cardLines(limit int) []string {
	ri := v.info
	if ri == nil {
		return nil
	}
	st := v.ctx.Styles
	now := v.ctx.Now()
	w := max(v.width, 20)
	var lines []string
	// item adds a labelled text, wrapped under its label.
	item := func(label string, style func(...string) string, text string) {
		wrapped := strings.Split(ansi.Wrap(oneLine(text), max(w-cardLabelW, 10), ""), "\n")
		for i, l := range wrapped {
			lab := strings.Repeat(" ", cardLabelW)
			if i == 0 && label != "" {
				lab = style(fit(label, cardLabelW))
			}
			lines = append(lines, lab+l)
		}
	}
	failed := st.Failed.Bold(true).Render
	closed := ri.Status.IsClosed()
	switch {
	case closed && ri.Status != engine.StatusCompleted:
		f := ri.Failure
		if f == nil {
			f = v.pendingNow().Failure
		}
		if f == nil {
			what := string(ri.Status) + ", no failure recorded"
			if n := len(v.log.events); n > 0 && v.log.events[n-1].Reason != "" {
				what = string(ri.Status) + ": " + v.log.events[n-1].Reason
			}
			item("failure:", failed, what)
			break
		}
		item("failure:", failed, failureLine(f))
		for c := f.Cause; c != nil; c = c.Cause {
			item("cause:", st.Failed.Render, failureLine(c))
		}
	case closed:
		// A result is data, not prose: two lines of it at most, cut
		// anywhere; the closing event in the log has all of it.
		res := wrapLines(history.Truncate(history.CompactJSON(ri.Result), summaryMax), max(w-cardLabelW, 10))
		if len(res) > 2 {
			res = []string{res[0], ansi.Truncate(res[1], max(w-cardLabelW, 10)-1, "") + "…"}
		}
		for i, l := range res {
			lab := strings.Repeat(" ", cardLabelW)
			if i == 0 {
				lab = st.Completed.Render(fit("result:", cardLabelW))
			}
			lines = append(lines, lab+l)
		}
	default:
		v.pendingLines(item, now)
	}
	if len(lines) > limit {
		more := len(lines) - limit + 1
		lines = append(lines[:limit-1], st.Faint.Render(strings.Repeat(" ", cardLabelW)+fmt.Sprintf("… %d more lines: the log has it all (Z zooms the selected event)", more)))
	}
	return lines
}

// failureLine is a failure's type, then its message.
func failureLine(f *history.Failure) string {
	if f.Type == "" {
		return f.Message
	}
	return f.Type + ": " + f.Message
}

// pendingLines say what an open run waits for.
func (v *RunView) pendingLines(collect func(string, func(...string) string, string), now time.Time) {
	st := v.ctx.Styles
	ri := v.info
	p := v.pendingNow()
	blocked := ri.Blocked
	if blocked == "" && p.Blocked != nil {
		blocked = failureLine(p.Blocked)
	}
	if blocked != "" {
		collect("blocked:", st.Blocked.Render, blocked)
	}
	if p.CancelRequested {
		collect("cancel:", st.Closed.Render, "requested: the code is expected to clean up and return")
	}
	label := "pending:"
	next := func() string { l := label; label = ""; return l }
	for _, a := range p.Activities {
		most := "∞"
		if a.MaximumAttempts > 0 {
			most = fmt.Sprint(a.MaximumAttempts)
		}
		s := fmt.Sprintf("activity %s (event %d) attempt %d/%s", a.Name, a.Seq, a.Attempt, most)
		if a.NextAttemptAt != nil && a.NextAttemptAt.After(now) {
			s += ", retry " + clockAt(now, *a.NextAttemptAt)
		}
		if hb, ok := v.heartbeats[a.Seq]; ok {
			s += ", heartbeat " + relTime(now, hb)
		}
		if a.LastFailure != nil {
			s += ", last failure: " + failureLine(a.LastFailure)
		}
		collect(next(), st.Running.Render, s)
	}
	for _, t := range p.Timers {
		s := fmt.Sprintf("timer (event %d)", t.Seq)
		if t.Duration > 0 {
			s += " " + shortDuration(time.Duration(t.Duration))
		}
		if t.FireAt != nil {
			s += ", fires " + clockAt(now, *t.FireAt)
		}
		collect(next(), st.Running.Render, s)
	}
	for _, c := range p.Children {
		s := fmt.Sprintf("child %s %s", c.Type, c.WorkflowID)
		if c.Started {
			s += " (started; o opens it)"
		} else {
			s += " (not started yet)"
		}
		collect(next(), st.Running.Render, s)
	}
	if p.Idle() && blocked == "" {
		s := "nothing scheduled: a signal or a condition in its code (S shows where it waits)"
		if p.SignalsReceived > 0 {
			names := make([]string, 0, len(p.SignalsByName))
			for n := range p.SignalsByName {
				names = append(names, n)
			}
			sort.Strings(names)
			s += "; signals received: " + strings.Join(names, ", ")
		}
		collect("waiting:", st.Running.Render, s)
	}
}

// clockAt is a moment as a time of day with how far it is from now:
// "15:06:35 (in 1m0s)", "15:04:05 (3s ago)".
func clockAt(now, t time.Time) string {
	s := t.UTC().Format("15:04:05")
	if t.After(now) {
		return s + " (in " + shortDuration(t.Sub(now)) + ")"
	}
	return s + " (" + relTime(now, t) + ")"
}

// readHeartbeats asks for the last heartbeats of the run's pending
// activities (nil when it has none or is closed).
func (v *RunView) readHeartbeats() tea.Cmd {
	if v.info == nil || v.info.Status.IsClosed() || v.RunID == "" {
		return nil
	}
	acts := v.pendingNow().Activities
	if len(acts) == 0 {
		return nil
	}
	seqs := make([]int64, len(acts))
	for i, a := range acts {
		seqs[i] = a.Seq
	}
	gen, src, runID := v.gen, v.src, v.RunID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		beats := map[int64]time.Time{}
		for _, seq := range seqs {
			if at, ok, err := src.ActivityHeartbeat(ctx, runID, seq); err == nil && ok {
				beats[seq] = at
			}
		}
		return heartbeatMsg{gen: gen, beats: beats}
	}
}
