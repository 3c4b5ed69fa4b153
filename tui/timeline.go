package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Timeline draws a run's activities, timers and child workflows as bars on
// a time axis: each activity attempt a segment, the back-off between attempts
// dotted, and the current moment marked while the run is open.
type Timeline struct {
	ctx *Context
	run *RunView

	cursor, top   int
	width, height int
}

// NewTimeline returns the timeline of a run view's log.
func NewTimeline(ctx *Context, run *RunView) *Timeline { return &Timeline{ctx: ctx, run: run} }

// SetSize sets the timeline's area.
func (t *Timeline) SetSize(w, h int) { t.width, t.height = w, h }

// activities are the log's activity and timer items, in order.
func (t *Timeline) activities() []int {
	var out []int
	for i := range t.run.log.items {
		if t.run.log.items[i].grouped() {
			out = append(out, i)
		}
	}
	return out
}

// rows is how many activities fit: the axis, the workflow's own bar and the
// legend take three lines.
func (t *Timeline) rows() int { return max(t.height-3, 1) }

// Update moves the cursor; Enter shows the activity in the log.
func (t *Timeline) Update(km tea.KeyPressMsg) {
	keys := t.ctx.Keys
	acts := t.activities()
	if c, moved := keys.Move(km, t.cursor, len(acts), t.rows()); moved {
		t.cursor = c
	} else if key.Matches(km, keys.Open) && t.cursor < len(acts) {
		t.run.selectItem(acts[t.cursor])
		t.run.showTimeline = false
	}
	t.clamp(len(acts))
}

func (t *Timeline) clamp(n int) {
	t.cursor = max(min(t.cursor, n-1), 0)
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+t.rows() {
		t.top = t.cursor - t.rows() + 1
	}
	t.top = max(min(t.top, n-t.rows()), 0)
}

// Cell kinds, by drawing priority.
const (
	cellEmpty = iota
	cellWait
	cellRunning
	cellAttemptFailed
	cellFailed
	cellCompleted
	cellTimer
)

// View draws the timeline in exactly width x height cells.
func (t *Timeline) View() string {
	st := t.ctx.Styles
	now := t.ctx.Now()
	lg := &t.run.log
	if len(lg.events) == 0 {
		return padLines([]string{st.Faint.Render("  no events yet")}, t.width, t.height)
	}
	acts := t.activities()
	t.clamp(len(acts))
	start := lg.start()
	// A reset run's axis starts at the reset: the kept events are the old
	// run's, and a gap to them would squeeze this run's work to a sliver.
	reset := false
	if at, ok := t.run.startTime(); ok && t.run.resetFrom() != nil && at.After(start) {
		start, reset = at, true
	}
	open := t.run.info == nil || !t.run.info.Status.IsClosed()
	end := lg.events[len(lg.events)-1].Time
	if !open && t.run.info.CloseTime != nil {
		end = *t.run.info.CloseTime
	}
	if open && now.After(end) {
		end = now
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	if open {
		span += span / 20 // room to show the "now" mark
	}
	nameW := min(26, max(t.width/4, 10))
	barW := max(t.width-nameW-3, 10)
	col := func(at time.Time) int {
		c := int(float64(at.Sub(start)) / float64(span) * float64(barW))
		return max(min(c, barW-1), 0)
	}
	nowCol := -1
	if open {
		nowCol = col(now)
	}

	var lines []string
	// Axis: the start, the middle and the end as offsets from the start.
	axis := []rune(strings.Repeat(" ", barW))
	put := func(at int, s string) {
		for i, r := range []rune(s) {
			if at+i >= 0 && at+i < barW {
				axis[at+i] = r
			}
		}
	}
	put(0, "+0s")
	mid := history.Offset(start, start.Add(span/2))
	put(barW/2-len(mid)/2, mid)
	last := history.Offset(start, start.Add(span))
	put(barW-len(last), last)
	title := "  TIMELINE"
	if reset {
		title = "  SINCE THE RESET"
	}
	lines = append(lines, st.Header.Render(fit(title, nameW+1)+" "+string(axis)))

	// The workflow's own bar.
	wf := make([]int, barW)
	for c := 0; c <= col(end) && c < barW; c++ {
		wf[c] = cellCompleted
		if open {
			wf[c] = cellRunning
		} else if t.run.info.Status != "completed" {
			wf[c] = cellFailed
		}
	}
	if open {
		for c := col(now); c < barW; c++ {
			wf[c] = cellEmpty
		}
	}
	lines = append(lines, "  "+fit(st.Bold.Render("workflow"), nameW)+" "+t.drawBar(wf, nowCol))

	endRow := min(t.top+t.rows(), len(acts))
	if len(acts) == 0 {
		lines = append(lines, st.Faint.Render("  no activities or timers"))
	}
	for i := t.top; i < endRow; i++ {
		it := &lg.items[acts[i]]
		g := lg.group(it)
		cells := make([]int, barW)
		fill := func(from, to time.Time, kind int) {
			a, b := col(from), col(to)
			for c := a; c <= b; c++ {
				if kind >= cells[c] {
					cells[c] = kind
				}
			}
		}
		prev := g.First().Time
		if g.Kind == history.GroupTimer {
			switch {
			case g.Closed():
				fill(prev, g.Last().Time, cellTimer)
			case open:
				fill(prev, now, cellTimer)
				if fa := g.First().FireAt; fa != nil && fa.After(now) {
					fill(now, *fa, cellWait)
				}
			}
		}
		if g.Kind == history.GroupChild {
			kind := cellRunning
			end := now
			switch g.State {
			case history.GroupCompleted:
				kind, end = cellCompleted, g.Last().Time
			case history.GroupFailed:
				kind, end = cellFailed, g.Last().Time
			}
			if g.Closed() || open {
				fill(prev, end, kind)
			}
		}
		for _, ev := range g.Events[1:] {
			if g.Kind != history.GroupActivity {
				break
			}
			from := prev
			if ev.StartedAt != nil && ev.StartedAt.After(prev) {
				fill(prev, *ev.StartedAt, cellWait)
				from = *ev.StartedAt
			}
			kind := cellCompleted
			switch ev.Type {
			case history.ActivityAttemptFailed:
				kind = cellAttemptFailed
			case history.ActivityFailed:
				kind = cellFailed
			}
			fill(from, ev.Time, kind)
			prev = ev.Time
			if ev.NextAttemptAt != nil {
				fill(prev, *ev.NextAttemptAt, cellWait)
			}
		}
		if !g.Closed() && g.Kind == history.GroupActivity {
			last := g.Last()
			from := last.Time
			if last.NextAttemptAt != nil {
				from = *last.NextAttemptAt
			}
			if open {
				fill(from, now, cellRunning)
			}
		}
		name := g.First().Name
		if g.Kind == history.GroupTimer {
			name = "timer " + shortDuration(time.Duration(g.First().Duration))
		} else if c := g.Child(); c != nil {
			name = "↳ " + c.WorkflowID
		} else if g.Attempts > 1 {
			name += fmt.Sprintf(" ×%d", g.Attempts)
		}
		cur := " "
		if i == t.cursor {
			cur = st.Cursor.Render("›")
		}
		nameCell := toneStyle(st, g.Tone()).Render(fit(name, nameW))
		line := cur + " " + nameCell + " " + t.drawBar(cells, nowCol)
		if i == t.cursor {
			line = highlight(st.Selected, line)
		}
		lines = append(lines, line)
	}
	for len(lines) < t.height-1 {
		lines = append(lines, "")
	}
	legend := st.Completed.Render("█") + " completed  " + st.Closed.Render("▒") + " failed attempt  " +
		st.Failed.Render("▓") + " failed  " + st.Running.Render("░") + " running  " + st.Info.Render("━") + " timer  " + st.Faint.Render("·") + " waiting"
	if open {
		legend += "  " + st.Info.Render("│") + " now"
	}
	if len(acts) > t.rows() {
		legend += st.Faint.Render(fmt.Sprintf("  %d-%d of %d activities", t.top+1, endRow, len(acts)))
	}
	lines = append(lines[:t.height-1], "  "+legend)
	return padLines(lines, t.width, t.height)
}

// drawBar renders cells, with the "now" mark where nothing else is drawn.
func (t *Timeline) drawBar(cells []int, nowCol int) string {
	st := t.ctx.Styles
	var b strings.Builder
	run := func(kind int, n int) {
		if n == 0 {
			return
		}
		var ch string
		var s lipgloss.Style
		switch kind {
		case cellEmpty:
			b.WriteString(strings.Repeat(" ", n))
			return
		case cellWait:
			ch, s = "·", st.Faint
		case cellRunning:
			ch, s = "░", st.Running
		case cellAttemptFailed:
			ch, s = "▒", st.Closed
		case cellFailed:
			ch, s = "▓", st.Failed
		case cellTimer:
			ch, s = "━", st.Info
		default:
			ch, s = "█", st.Completed
		}
		b.WriteString(s.Render(strings.Repeat(ch, n)))
	}
	i := 0
	for i < len(cells) {
		if i == nowCol && (cells[i] == cellEmpty || cells[i] == cellWait) {
			b.WriteString(st.Info.Render("│"))
			i++
			continue
		}
		j := i
		for j < len(cells) && cells[j] == cells[i] && (j == i || j != nowCol) {
			j++
		}
		run(cells[i], j-i)
		i = j
	}
	return b.String()
}
