package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SummaryWidth bounds the length of Summary's line, in runes.
const SummaryWidth = 100

// partWidth bounds an argument list, result or failure message within a
// summary, so that the name and attempt before it always show.
const partWidth = 60

// Label is an event type for people: "ActivityAttemptFailed" becomes
// "activity attempt failed".
func Label(t EventType) string {
	var b strings.Builder
	for i, r := range string(t) {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Summary says in one line what an event recorded: the workflow type and its
// arguments, the activity name and attempt, a short result or failure.
func Summary(ev Event) string {
	var s string
	switch ev.Type {
	case WorkflowStarted, ActivityScheduled:
		s = ev.Name + "(" + Truncate(Args(ev.Input), partWidth) + ")"
	case ActivityCompleted:
		s = ev.Name + attempt(ev) + " → " + Truncate(CompactJSON(ev.Result), partWidth)
	case ActivityAttemptFailed:
		// The retry delay goes first so that cutting a long message keeps it.
		s = ev.Name + attempt(ev)
		if ev.NextAttemptAt != nil {
			s += " (retry in " + ShortDuration(ev.NextAttemptAt.Sub(ev.Time)) + ")"
		}
		s += ": " + Truncate(oneLine(FailureText(ev.Failure)), partWidth)
	case ActivityFailed:
		s = ev.Name + attempt(ev) + ": " + Truncate(oneLine(FailureText(ev.Failure)), partWidth)
	case WorkflowCompleted:
		s = CompactJSON(ev.Result)
	case WorkflowFailed, WorkflowTaskFailed, WorkflowTimedOut:
		s = FailureText(ev.Failure)
	case TimerStarted:
		s = ShortDuration(time.Duration(ev.Duration))
		if ev.FireAt != nil {
			s += ", due " + ev.FireAt.UTC().Format("15:04:05.000Z")
		}
	case WorkflowCancelRequested, WorkflowTerminated:
		s = ev.Reason
	case WorkflowCanceled:
		s = FailureText(ev.Failure)
	case ActivityCancelRequested:
		s = fmt.Sprintf("%s of event %d", ev.Name, ev.Cause)
	case ChildWorkflowScheduled:
		s = ev.Name + "(" + Truncate(Args(ev.Input), partWidth) + ")"
		if ev.Child != nil {
			s += " as " + ev.Child.WorkflowID
		}
	case ChildWorkflowStarted, ChildWorkflowCancelRequested:
		if ev.Child != nil {
			s = ev.Child.WorkflowID + " run " + ev.Child.RunID
		} else {
			s = fmt.Sprintf("child of event %d", ev.Cause)
		}
	case ChildWorkflowCompleted:
		s = Truncate(CompactJSON(ev.Result), partWidth)
	case ChildWorkflowFailed, ChildWorkflowStartFailed:
		s = FailureText(ev.Failure)
	case WorkflowContinuedAsNew:
		s = ev.Name + "(" + Truncate(Args(ev.Input), partWidth) + ")"
		if ev.Next != nil {
			s += " in run " + ev.Next.RunID
		}
	case SignalReceived:
		s = ev.Name + "(" + Truncate(CompactJSON(ev.Input), partWidth) + ")"
	case TimerFired, TimerCanceled:
		s = fmt.Sprintf("timer of event %d", ev.Cause)
	default:
		switch {
		case ev.Failure != nil:
			s = FailureText(ev.Failure)
		case ev.Name != "":
			s = ev.Name
		}
	}
	return Truncate(oneLine(s), SummaryWidth)
}

func attempt(ev Event) string {
	if ev.Attempt <= 0 {
		return ""
	}
	return fmt.Sprintf(" #%d", ev.Attempt)
}

// FailureText is "Type: message" of a failure, without the stack.
func FailureText(f *Failure) string {
	if f == nil {
		return "failed"
	}
	if f.Type == "" || f.Type == "Error" || f.Type == "ApplicationError" {
		return f.Message
	}
	return f.Type + ": " + f.Message
}

// CompactJSON is a JSON value without insignificant spaces ("null" when
// empty).
func CompactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// Args is a JSON array of arguments written as a Go-like argument list:
// `"c-1", 9.5, {"k":1}`.
func Args(input json.RawMessage) string {
	var args []json.RawMessage
	if len(input) == 0 || json.Unmarshal(input, &args) != nil {
		return CompactJSON(input)
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = CompactJSON(a)
	}
	return strings.Join(parts, ", ")
}

// Truncate shortens s to at most n runes, ending it with "…" when cut.
func Truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Offset is the time of an event after the run's start, for event tables:
// "+0ms", "+1.204s", "+2m03s".
func Offset(start, t time.Time) string {
	d := t.Sub(start)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("+%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("+%.3fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("+%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return "+" + d.Round(time.Second).String()
	}
}

// RelativeTime is t relative to now for people: "12s ago", "3h ago"; a
// time in the future is written out (UTC); the zero time is "-".
func RelativeTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return t.UTC().Format(time.DateTime)
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// ShortDuration writes d with a precision that suits its size: 14ms,
// 1.59s, 3m12s, 2h5m0s.
func ShortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}
