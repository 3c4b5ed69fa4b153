package history_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

func TestLabel(t *testing.T) {
	for in, want := range map[history.EventType]string{
		history.WorkflowStarted:       "workflow started",
		history.ActivityAttemptFailed: "activity attempt failed",
		history.WorkflowTaskFailed:    "workflow task failed",
	} {
		if got := history.Label(in); got != want {
			t.Errorf("Label(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := t0.Add(2 * time.Second)
	long := strings.Repeat("very long message ", 20)
	for _, tc := range []struct {
		ev   history.Event
		want string
	}{
		{history.Event{Type: history.WorkflowStarted, Name: "OrderWorkflow", Input: json.RawMessage(`["c-1", 9.5, 2]`)}, `OrderWorkflow("c-1", 9.5, 2)`},
		{history.Event{Type: history.ActivityScheduled, Name: "Charge", Input: json.RawMessage(`[{"a": 1}]`)}, `Charge({"a":1})`},
		{history.Event{Type: history.ActivityCompleted, Name: "Charge", Attempt: 3, Result: json.RawMessage(`{"charge_id": "ch_1"}`)}, `Charge #3 → {"charge_id":"ch_1"}`},
		{history.Event{Type: history.ActivityAttemptFailed, Name: "Ship", Attempt: 1, Time: t0, NextAttemptAt: &next,
			Failure: &history.Failure{Message: "carrier down", Type: "CarrierUnavailable"}}, `Ship #1 (retry in 2s): CarrierUnavailable: carrier down`},
		{history.Event{Type: history.ActivityFailed, Name: "Ship", Attempt: 5, Failure: &history.Failure{Message: "line one\nline two", Type: "Error"}}, `Ship #5: line one line two`},
		{history.Event{Type: history.WorkflowCompleted, Result: json.RawMessage(`"done"`)}, `"done"`},
		{history.Event{Type: history.WorkflowCompleted}, `null`},
		{history.Event{Type: history.WorkflowFailed, Failure: &history.Failure{Message: "boom", Type: "PanicError", Stack: "goroutine 1"}}, `PanicError: boom`},
		{history.Event{Type: history.ActivityFailed, Name: "X", Attempt: 1, Failure: &history.Failure{Message: long}}, "X #1: " + long[:59] + "…"},
	} {
		if got := history.Summary(tc.ev); got != tc.want {
			t.Errorf("Summary(%s) = %q, want %q", tc.ev.Type, got, tc.want)
		}
	}
	huge := history.Event{Type: history.WorkflowCompleted, Result: json.RawMessage(`"` + strings.Repeat("x", 500) + `"`)}
	if n := len([]rune(history.Summary(huge))); n != history.SummaryWidth {
		t.Errorf("summary of a huge result is %d runes, want %d", n, history.SummaryWidth)
	}
}

func TestOffset(t *testing.T) {
	t0 := time.Now()
	for d, want := range map[time.Duration]string{
		0: "+0ms", 15 * time.Millisecond: "+15ms", 1204 * time.Millisecond: "+1.204s", 123 * time.Second: "+2m03s", -time.Second: "+0ms",
	} {
		if got := history.Offset(t0, t0.Add(d)); got != want {
			t.Errorf("Offset(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	evs := []history.Event{
		{Seq: 1, Time: t0, Type: history.WorkflowStarted, Name: "W", WorkflowID: "w-1", RunID: "r-1", TaskQueue: "q", Input: json.RawMessage(`[1]`)},
		{Seq: 2, Time: t0, Type: history.WorkflowCompleted, Result: json.RawMessage(`2`)},
	}
	recs := []history.Record{
		{Kind: history.KindInput, Events: evs[:1]},
		{Kind: history.KindDecision, Events: evs[1:]},
	}
	var b bytes.Buffer
	if err := history.NewFile(recs).Encode(&b); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "workflow_id", "run_id", "type", "task_queue", "records"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("history file has no %q: %s", k, b.String())
		}
	}
	if _, ok := raw["events"]; ok {
		t.Errorf("a version 2 file writes records, not events: %s", b.String())
	}
	f, err := history.DecodeFile(&b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 2 || f.WorkflowID != "w-1" || f.RunID != "r-1" || f.Type != "W" || f.TaskQueue != "q" || len(f.Events) != 2 || string(f.Events[1].Result) != "2" || f.Warning() != "" {
		t.Fatalf("round trip: %+v", f)
	}
	hr := f.HistoryRecords()
	if len(hr) != 2 || hr[0].Kind != history.KindInput || hr[1].Kind != history.KindDecision || hr[1].StreamSeq != 2 || hr[1].Events[0].Type != history.WorkflowCompleted {
		t.Fatalf("records: %+v", hr)
	}

	// Version 1 (a flat list) still reads, with its limit stated.
	v1, err := history.DecodeFile(strings.NewReader(`{"version":1,"workflow_id":"w-1","events":[{"seq":1,"type":"WorkflowStarted"},{"seq":2,"type":"WorkflowCompleted"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || len(v1.Events) != 2 || v1.HistoryRecords() != nil || v1.Warning() != history.Version1Warning {
		t.Fatalf("version 1: %+v", v1)
	}

	for _, tc := range []struct{ name, doc, want string }{
		{"future version", `{"version":3,"records":[{"kind":"input","events":[{"seq":1}]}]}`, "version 3"},
		{"no events", `{"version":1,"events":[]}`, "no events"},
		{"no records", `{"version":2,"records":[]}`, "no events"},
		{"empty record", `{"version":2,"records":[{"kind":"decision","events":[]}]}`, "record 1 has no events"},
		{"bad kind", `{"version":2,"records":[{"kind":"note","events":[{"seq":1}]}]}`, "kind"},
		{"v2 with events", `{"version":2,"records":[{"kind":"input","events":[{"seq":1}]}],"events":[{"seq":1}]}`, "in records"},
		{"v1 with records", `{"version":1,"records":[{"kind":"input","events":[{"seq":1}]}]}`, "not records"},
		{"gap", `{"version":1,"events":[{"seq":1},{"seq":3}]}`, "seq 3"},
		{"gap in records", `{"version":2,"records":[{"kind":"input","events":[{"seq":1}]},{"kind":"decision","events":[{"seq":3}]}]}`, "seq 3"},
		{"not json", `{`, "history file"},
	} {
		if _, err := history.DecodeFile(strings.NewReader(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
