package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// statusText is a run's status with its symbol, coloured.
func statusText(st Styles, ri *engine.RunInfo) string {
	text, tone := runlist.StatusOf(ri)
	if tone == history.TonePlain {
		return text
	}
	return toneStyle(st, tone).Render(text)
}

// toneStyle is the style of what a status, event or group means.
func toneStyle(st Styles, t history.Tone) lipgloss.Style {
	switch t {
	case history.ToneBold:
		return st.Bold
	case history.ToneRunning:
		return st.Running
	case history.ToneCompleted:
		return st.Completed
	case history.ToneFailed:
		return st.Failed
	case history.ToneClosed:
		return st.Closed
	case history.ToneBlocked:
		return st.Blocked
	}
	return st.Info
}

// relTime is a time relative to now: "12s ago", "3h ago".
func relTime(now, t time.Time) string { return history.RelativeTime(now, t) }

// shortDuration writes d with a precision that suits its size.
func shortDuration(d time.Duration) string { return history.ShortDuration(d) }

// fit cuts s (which may hold colour codes) to w cells, ending it with "…"
// when cut, and pads it with spaces to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - lipgloss.Width(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// oneLine flattens a multi-line text for a table cell.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// padLines makes text exactly h lines of exactly w cells.
func padLines(lines []string, w, h int) string {
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", max(w, 0))
		}
	}
	return strings.Join(out, "\n")
}

// prettyEvents is the indented JSON of events, coloured, with any failure
// stack written out as lines after it (in JSON it is one escaped string).
func prettyEvents(st Styles, evs []history.Event) string {
	var v any = evs
	if len(evs) == 1 {
		v = evs[0]
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	for i, line := range strings.Split(string(b), "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		out.WriteString(colourJSONLine(st, line))
	}
	for _, ev := range evs {
		for f := ev.Failure; f != nil; f = f.Cause {
			if f.Stack != "" {
				out.WriteString("\n\n" + st.Bold.Render(fmt.Sprintf("stack (event %d):", ev.Seq)) + "\n" + strings.ReplaceAll(strings.TrimRight(f.Stack, "\n"), "\t", "    "))
			}
		}
	}
	return out.String()
}

// colourJSONLine colours one line of indented JSON: keys, strings, numbers
// and literals.
func colourJSONLine(st Styles, line string) string {
	var b strings.Builder
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			tok := line[i:j]
			rest := strings.TrimLeft(line[j:], " ")
			if strings.HasPrefix(rest, ":") {
				b.WriteString(st.JSONKey.Render(tok))
			} else {
				b.WriteString(st.JSONString.Render(tok))
			}
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(line) && strings.IndexByte("+-.eE0123456789", line[j]) >= 0 {
				j++
			}
			b.WriteString(st.JSONNumber.Render(line[i:j]))
			i = j
		case strings.HasPrefix(line[i:], "true"), strings.HasPrefix(line[i:], "null"):
			b.WriteString(st.JSONLiteral.Render(line[i : i+4]))
			i += 4
		case strings.HasPrefix(line[i:], "false"):
			b.WriteString(st.JSONLiteral.Render(line[i : i+5]))
			i += 5
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// wrapLines hard-wraps text (colour codes kept) to w cells and splits it
// into lines.
func wrapLines(text string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.Hardwrap(text, w, true), "\n")
}

// highlight draws a whole line in style (the selection bar), its coloured
// parts included: each reset inside the line would otherwise end the bar
// where the first coloured cell ends.
func highlight(style lipgloss.Style, line string) string {
	on, _, ok := strings.Cut(style.Render("\x00"), "\x00")
	if !ok || on == "" {
		return line
	}
	line = strings.ReplaceAll(line, "\x1b[0m", "\x1b[m")
	return on + strings.ReplaceAll(line, "\x1b[m", "\x1b[m"+on) + "\x1b[m"
}
