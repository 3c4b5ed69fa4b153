// Package runlist is the runs list both front ends show, the TUI and dfctl
// web: what a filter typed by a user selects ("order status:failed"), the
// status filters and their counts, and a run's status and duration as
// people read them. It holds no runs and does no I/O; it never imports the
// TUI, the web server, the CLI or nats.
package runlist

import (
	"net/url"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Status is a status filter: its key (a RunStatus, "blocked" or "" for
// all), its word, glyph and tone.
type Status struct {
	Key, Label, Glyph string
	Tone              history.Tone
}

// Statuses are the status filters in the order the TUI's keys 0-7 select
// them. "blocked" is a running run no worker can advance.
var Statuses = []Status{
	{"", "all", "", history.TonePlain},
	{"running", "running", "●", history.ToneRunning},
	{"completed", "completed", "✓", history.ToneCompleted},
	{"failed", "failed", "✗", history.ToneFailed},
	{"canceled", "canceled", "⊘", history.ToneClosed},
	{"terminated", "terminated", "⊗", history.ToneClosed},
	{"timed_out", "timed out", "◷", history.ToneClosed},
	{"blocked", "blocked", "⚠", history.ToneBlocked},
}

// Filter selects runs: those whose workflow ID or type contains Text
// (lower case; "" any) and whose status is Status ("" any).
type Filter struct {
	Text, Status string
}

// ParseFilter reads what a user typed: "status:failed order" selects the
// failed runs with "order" in their ID or type, in any case. A status in
// the text wins over status (the one picked apart from it: a key, a chip).
func ParseFilter(query, status string) Filter {
	var words []string
	typed := "" // the last status term wins
	for _, w := range strings.Fields(query) {
		if v, ok := strings.CutPrefix(w, "status:"); ok {
			typed = strings.ReplaceAll(strings.ToLower(v), " ", "_")
			if typed == "timedout" || typed == "timed-out" {
				typed = "timed_out"
			}
			continue
		}
		words = append(words, w)
	}
	if typed != "" {
		status = typed
	}
	return Filter{Text: strings.ToLower(strings.Join(words, " ")), Status: status}
}

// Matches reports whether the filter selects ri.
func (f Filter) Matches(ri *engine.RunInfo) bool {
	return f.MatchesText(ri) && StatusMatches(ri, f.Status)
}

// MatchesText reports whether ri passes the filter's text, whatever its
// status.
func (f Filter) MatchesText(ri *engine.RunInfo) bool {
	return f.Text == "" || strings.Contains(strings.ToLower(ri.WorkflowID), f.Text) ||
		strings.Contains(strings.ToLower(ri.Type), f.Text)
}

// StatusMatches reports whether ri has status, a Statuses key: "blocked"
// selects running runs no worker can advance, "" every run.
func StatusMatches(ri *engine.RunInfo, status string) bool {
	switch status {
	case "":
		return true
	case "blocked":
		return blocked(ri)
	}
	return string(ri.Status) == status
}

func blocked(ri *engine.RunInfo) bool { return ri.Blocked != "" && !ri.Status.IsClosed() }

// Counts are how many runs passing the filter's text each status filter
// selects, by Statuses key ("" counts them all).
func (f Filter) Counts(runs []engine.RunInfo) map[string]int {
	counts := map[string]int{}
	for i := range runs {
		ri := &runs[i]
		if !f.MatchesText(ri) {
			continue
		}
		for _, s := range Statuses {
			if StatusMatches(ri, s.Key) {
				counts[s.Key]++
			}
		}
	}
	return counts
}

// StatusOf is a run's status with its glyph ("✓ completed", "⚠ blocked")
// and its tone; "-" when it has none.
func StatusOf(ri *engine.RunInfo) (text string, tone history.Tone) {
	key := string(ri.Status)
	switch {
	case blocked(ri):
		key = "blocked"
	case key == "":
		return "-", history.TonePlain
	}
	for _, s := range Statuses[1:] {
		if s.Key == key {
			return s.Glyph + " " + s.Label, s.Tone
		}
	}
	return key, history.ToneClosed
}

// Duration is how long a run took, or has been running; "-" before it
// started.
func Duration(now time.Time, ri *engine.RunInfo) string {
	if ri.StartTime.IsZero() {
		return "-"
	}
	end := now
	if ri.CloseTime != nil {
		end = *ri.CloseTime
	}
	return history.ShortDuration(end.Sub(ri.StartTime))
}

// RunPath is the stable URL path of a run's page in dfctl web (runID "":
// the latest run), as dfctl describe and the TUI print and copy it.
func RunPath(workflowID, runID string) string {
	p := "/runs/" + url.PathEscape(workflowID)
	if runID != "" {
		p += "/" + url.PathEscape(runID)
	}
	return p
}
