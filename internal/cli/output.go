package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONL writes v as one line of JSON.
func writeJSONL(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// prettyJSON indents a JSON value for people; it returns raw as is when it
// is not valid JSON.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// writeTable writes aligned columns for a terminal. Widths are measured
// without colour codes, so styled cells line up. On a terminal of known
// width (st.width) the widest columns (the free text: IDs, types,
// summaries) are cut with an ellipsis until a line fits.
func writeTable(w io.Writer, st styles, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			widths[i] = max(widths[i], ansi.StringWidth(cell))
		}
	}
	if st.width > 0 {
		fitColumns(widths, header, st.width)
	}
	line := func(cells []string, style func(string) string) {
		var b strings.Builder
		for i, cell := range cells {
			cw := ansi.StringWidth(cell)
			if cw > widths[i] {
				cell = ansi.Truncate(cell, widths[i], "…")
				cw = ansi.StringWidth(cell)
			}
			b.WriteString(style(cell))
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-cw+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header, func(s string) string { return st.faint.Render(s) })
	for _, r := range rows {
		line(r, func(s string) string { return s })
	}
}

// minColumn is the narrowest a table column is cut to: shorter columns
// (statuses, times, durations) are never cut, only free text (IDs, types,
// summaries) is.
const minColumn = 12

// fitColumns narrows the widest columns, one cell at a time, until a line
// of the table (columns two spaces apart) fits in width cells, or no column
// can give more (none is cut below its header or minColumn).
func fitColumns(widths []int, header []string, width int) {
	total := 2 * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	for total > width {
		widest := -1
		for i, w := range widths {
			if w > max(ansi.StringWidth(header[i]), minColumn) && (widest < 0 || w > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		widths[widest]--
		total--
	}
}

// statusText is a run's status, with a symbol on terminals; coloured when
// the stream is (on terminals, or everywhere with --color always).
func statusText(st styles, s engine.Status, tty bool) string {
	if s == "" {
		return "-"
	}
	sym, style := "✗ ", st.bad
	switch s {
	case engine.StatusCompleted:
		sym, style = "✓ ", st.ok
	case engine.StatusRunning:
		sym, style = "● ", st.info
	case engine.StatusCanceled, engine.StatusTerminated, engine.StatusTimedOut:
		sym, style = "⊘ ", st.warn
	}
	if !tty {
		return style.Render(string(s))
	}
	return style.Render(sym + string(s))
}

// eventStyle colours an event type by what it means.
func eventStyle(st styles, t history.EventType, s string) string {
	switch t {
	case history.WorkflowCompleted, history.ActivityCompleted:
		return st.ok.Render(s)
	case history.WorkflowFailed, history.ActivityFailed:
		return st.bad.Render(s)
	case history.ActivityAttemptFailed, history.WorkflowTaskFailed, history.WorkflowCancelRequested,
		history.WorkflowCanceled, history.WorkflowTerminated, history.ActivityCancelRequested, history.TimerCanceled:
		return st.warn.Render(s)
	case history.WorkflowStarted:
		return st.bold.Render(s)
	default:
		return st.info.Render(s)
	}
}

// eventTable writes a run's events as they come. Aligned tables (terminals,
// the demo) show the time as an offset from the run's start; plain ones are
// tab-separated with ISO times and no header, for scripts.
type eventTable struct {
	w       io.Writer
	st      styles
	aligned bool
	start   time.Time
	header  bool
}

const eventRowFormat = "%5s  %-9s  %-26s  %s\n"

// eventDetailsAt is the column of an aligned row's details.
const eventDetailsAt = 5 + 2 + 9 + 2 + 26 + 2

func (t *eventTable) row(ev history.Event) {
	if t.start.IsZero() {
		t.start = ev.Time
	}
	if !t.aligned {
		fmt.Fprintf(t.w, "%d\t%s\t%s\t%s\n", ev.Seq, ev.Time.UTC().Format(time.RFC3339Nano), eventStyle(t.st, ev.Type, string(ev.Type)), history.Summary(ev))
		return
	}
	if !t.header {
		t.header = true
		fmt.Fprint(t.w, t.st.faint.Render(fmt.Sprintf(strings.TrimSuffix(eventRowFormat, "\n"), "SEQ", "TIME", "EVENT", "DETAILS"))+"\n")
	}
	label := eventStyle(t.st, ev.Type, fmt.Sprintf("%-26s", history.Label(ev.Type)))
	details := history.Summary(ev)
	if t.st.width > 0 {
		// The details give way to the terminal's width.
		details = ansi.Truncate(details, max(t.st.width-eventDetailsAt, minColumn), "…")
	}
	fmt.Fprintf(t.w, "%5d  %-9s  %s  %s\n", ev.Seq, history.Offset(t.start, ev.Time), label, details)
}

// timeText is an ISO time, or a relative one on terminals.
func timeText(ios *IOStreams, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if !ios.OutTTY {
		return t.UTC().Format(time.RFC3339)
	}
	return history.RelativeTime(ios.now(), t)
}

// runDuration is how long a run took, or has been running.
func runDuration(ios *IOStreams, ri *engine.RunInfo) string {
	end := ios.now()
	if ri.CloseTime != nil {
		end = *ri.CloseTime
	}
	if ri.StartTime.IsZero() {
		return "-"
	}
	return shortDuration(end.Sub(ri.StartTime))
}

func shortDuration(d time.Duration) string { return history.ShortDuration(d) }
