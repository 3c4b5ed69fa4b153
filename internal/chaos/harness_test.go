package chaos_test

// The checks of the chaos suite, checked: each finds what it is for, and a
// well-formed history passes.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/chaos"
	"github.com/durablefuture/durablefuture/pkg/history"
)

func wellFormed() []history.Event {
	child := &history.RunRef{WorkflowID: "p-c0", RunID: "r2"}
	return []history.Event{
		{Seq: 1, Type: history.WorkflowStarted, InputID: "start"},
		{Seq: 2, Type: history.ActivityScheduled, Cause: 1},
		{Seq: 3, Type: history.ChildWorkflowScheduled, Cause: 1, Child: child},
		{Seq: 4, Type: history.TimerStarted, Cause: 1},
		{Seq: 5, Type: history.ActivityAttemptFailed, Cause: 2, Attempt: 1, InputID: "act:2:attempt:1"},
		{Seq: 6, Type: history.ChildWorkflowStarted, Cause: 3, Child: child, InputID: "child:3:started"},
		{Seq: 7, Type: history.ActivityCompleted, Cause: 2, Attempt: 2, InputID: "act:2:done"},
		{Seq: 8, Type: history.TimerFired, Cause: 4, InputID: "timer:4"},
		{Seq: 9, Type: history.SignalReceived, SignalSeq: 40, InputID: "sig:40"},
		{Seq: 10, Type: history.ChildWorkflowCompleted, Cause: 3, Child: child, InputID: "child:3:done"},
		{Seq: 11, Type: history.WorkflowCompleted, Cause: 10, Result: json.RawMessage("1")},
	}
}

func TestHistoryChecks(t *testing.T) {
	if p := historyProblems(wellFormed()); len(p) != 0 {
		t.Fatalf("well-formed history: %v", p)
	}
	for _, c := range []struct {
		name   string
		change func(evs []history.Event) []history.Event
		want   string
	}{
		{"gap", func(evs []history.Event) []history.Event { return append(evs[:4:4], evs[5:]...) }, "gap"},
		{"event after close", func(evs []history.Event) []history.Event {
			return append(evs, history.Event{Seq: 12, Type: history.WorkflowTaskFailed})
		}, "followed by"},
		{"no close", func(evs []history.Event) []history.Event { return evs[:10] }, "0 close events"},
		{"attempt after outcome", func(evs []history.Event) []history.Event {
			evs[7] = history.Event{Seq: 8, Type: history.ActivityAttemptFailed, Cause: 2, Attempt: 1, InputID: "act:2:attempt:1b"}
			return evs
		}, "after its outcome"},
		{"attempts out of order", func(evs []history.Event) []history.Event {
			evs[4].Attempt = 3
			return evs
		}, "after attempt"},
		{"two outcomes", func(evs []history.Event) []history.Event {
			evs[7] = history.Event{Seq: 8, Type: history.ActivityCompleted, Cause: 2, Attempt: 3, InputID: "act:2:done2"}
			return evs
		}, "2 outcomes"},
		{"timer never fired", func(evs []history.Event) []history.Event {
			evs[7] = history.Event{Seq: 8, Type: history.SignalReceived, SignalSeq: 41, InputID: "sig:41"}
			return evs
		}, "0 outcomes"},
		{"input applied twice", func(evs []history.Event) []history.Event {
			evs[8].InputID = "timer:4"
			return evs
		}, "applied twice"},
		{"child never started", func(evs []history.Event) []history.Event {
			evs[5] = history.Event{Seq: 6, Type: history.SignalReceived, SignalSeq: 39, InputID: "sig:39"}
			return evs
		}, "0 start events"},
		{"child started after it closed", func(evs []history.Event) []history.Event {
			evs[5], evs[9] = evs[9], evs[5]
			evs[5].Seq, evs[9].Seq = 6, 10
			return evs
		}, "after it closed"},
	} {
		got := strings.Join(historyProblems(c.change(wellFormed())), "; ")
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want one with %q", c.name, got, c.want)
		}
	}
}

func TestAttemptAnalysis(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	evs := wellFormed()
	records := map[string][]storedRecord{"r1": {
		{rec: history.Record{Events: evs[:4]}, at: at(0)},
		{rec: history.Record{Events: evs[4:6]}, at: at(100)},
		{rec: history.Record{Events: evs[6:7]}, at: at(200)}, // the outcome of activity 2
		{rec: history.Record{Events: evs[7:]}, at: at(300)},  // the close
	}}
	line := func(attempt, engineMs, bodyMs int) attemptLine {
		return attemptLine{workflowID: "p", runID: "r1", seq: 2, attempt: attempt, engine: at(engineMs), start: at(bodyMs)}
	}
	st := analyzeAttempts([]attemptLine{
		line(1, 10, 11),   // reported as failed
		line(2, 150, 151), // the outcome
		line(2, 160, 161), // a duplicate before the record
		line(3, 190, 210), // started before the record, body after it
		line(4, 250, 251), // after the record
		line(5, 350, 351), // after the close
		{workflowID: "p", runID: "r1", seq: 9, attempt: 1, start: at(5)},
	}, records)
	if st.total != 7 || st.reported != 2 || st.rerunBefore != 1 || st.raced != 1 || st.rerunAfter != 2 || st.afterClose != 1 || st.unknown != 1 || st.unlogged != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st := analyzeAttempts(nil, records); st.unlogged != 1 {
		t.Fatalf("a completion without a logged attempt: %+v", st)
	}
}

func TestExpectedResults(t *testing.T) {
	// The expected results are pure and differ between kinds and seeds.
	seen := map[int64]string{}
	_, all := plan("x", 12, 7)
	for _, r := range all {
		v := chaos.Expected(r.Kind, r.In)
		if v != chaos.Expected(r.Kind, r.In) || v < 0 {
			t.Fatalf("%s: %d", r.ID, v)
		}
		if prev, dup := seen[v]; dup && r.Kind != "child" {
			t.Fatalf("%s and %s expect the same result %d", r.ID, prev, v)
		}
		seen[v] = r.ID
	}
}
