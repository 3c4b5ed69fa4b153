package web

import (
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// The event log is grouped as the TUI groups it, by history.GroupEvents:
// an activity's scheduled event, failed attempts, cancel request and
// outcome make one row, so do a timer and its firing, and a child workflow
// and its close; every other event is a row of its own. The labels, glyphs
// and summaries are history.Group's; what is the web's own is the CSS class
// of a tone (history.Tone: the TUI colours the same things the same way).

// groupSummary is the SUMMARY column: the duration runs from the group's
// first event.
func groupSummary(g history.Group, now time.Time) string {
	return g.Summary(g.End(now).Sub(g.First().Time), 60, 200)
}

// toneClasses are the CSS classes of the tones: the TUI's colours
// (style.css); TonePlain has none.
var toneClasses = map[history.Tone]string{
	history.ToneInfo:      "info",
	history.ToneBold:      "bold",
	history.ToneRunning:   "running",
	history.ToneCompleted: "completed",
	history.ToneFailed:    "failed",
	history.ToneClosed:    "closed",
	history.ToneBlocked:   "blocked",
}

func toneClass(t history.Tone) string { return toneClasses[t] }
