package history_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// groupShape is what a test expects of one group: its kind, the seqs of
// its events, its state, attempts, label and tone.
type groupShape struct {
	kind     history.GroupKind
	seqs     []int64
	state    history.GroupState
	attempts int
	label    string
	tone     history.Tone
}

func shapeOf(g history.Group) groupShape {
	s := groupShape{kind: g.Kind, state: g.State, attempts: g.Attempts, label: g.Label(), tone: g.Tone()}
	for _, ev := range g.Events {
		s.seqs = append(s.seqs, ev.Seq)
	}
	return s
}

func TestGroupEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	start := history.Event{Type: history.WorkflowStarted, Name: "Order"}
	boom := &history.Failure{Message: "boom"}
	child := &history.RunRef{WorkflowID: "ship-1", RunID: "r2"}
	tests := []struct {
		name string
		evs  []history.Event
		want []groupShape
	}{
		{
			name: "no events",
		},
		{
			name: "an activity retried then completed, among other events",
			evs: []history.Event{start,
				{Type: history.ActivityScheduled, Name: "Charge"},                                     // 2
				{Type: history.ActivityAttemptFailed, Cause: 2, Attempt: 1, Failure: boom},            // 3
				{Type: history.SignalReceived, Name: "poke"},                                          // 4
				{Type: history.ActivityCompleted, Cause: 2, Attempt: 2, Result: json.RawMessage(`1`)}, // 5
				{Type: history.WorkflowCompleted},                                                     // 6
			},
			want: []groupShape{
				{kind: history.GroupEvent, seqs: []int64{1}, attempts: 1, label: "workflow started", tone: history.ToneBold},
				{kind: history.GroupActivity, seqs: []int64{2, 3, 5}, state: history.GroupCompleted, attempts: 2, label: "activity ✓", tone: history.ToneCompleted},
				{kind: history.GroupEvent, seqs: []int64{4}, attempts: 1, label: "signal received", tone: history.ToneInfo},
				{kind: history.GroupEvent, seqs: []int64{6}, attempts: 1, label: "workflow completed", tone: history.ToneCompleted},
			},
		},
		{
			name: "an activity retrying, one failed, one canceling, one running",
			evs: []history.Event{start,
				{Type: history.ActivityScheduled, Name: "A"},                               // 2
				{Type: history.ActivityAttemptFailed, Cause: 2, Attempt: 2, Failure: boom}, // 3
				{Type: history.ActivityScheduled, Name: "B"},                               // 4
				{Type: history.ActivityFailed, Cause: 4, Attempt: 3, Failure: boom},        // 5
				{Type: history.ActivityScheduled, Name: "C"},                               // 6
				{Type: history.ActivityCancelRequested, Cause: 6},                          // 7
				{Type: history.ActivityScheduled, Name: "D"},                               // 8
			},
			want: []groupShape{
				{kind: history.GroupEvent, seqs: []int64{1}, attempts: 1, label: "workflow started", tone: history.ToneBold},
				{kind: history.GroupActivity, seqs: []int64{2, 3}, state: history.GroupRetrying, attempts: 3, label: "activity ↻ retrying", tone: history.ToneClosed},
				{kind: history.GroupActivity, seqs: []int64{4, 5}, state: history.GroupFailed, attempts: 3, label: "activity ✗", tone: history.ToneFailed},
				{kind: history.GroupActivity, seqs: []int64{6, 7}, state: history.GroupCanceling, attempts: 1, label: "activity ⊘ canceling", tone: history.ToneClosed},
				{kind: history.GroupActivity, seqs: []int64{8}, state: history.GroupOpen, attempts: 1, label: "activity … running", tone: history.ToneRunning},
			},
		},
		{
			name: "timers fired, canceled and pending",
			evs: []history.Event{start,
				{Type: history.TimerStarted},            // 2
				{Type: history.TimerStarted},            // 3
				{Type: history.TimerFired, Cause: 2},    // 4
				{Type: history.TimerCanceled, Cause: 3}, // 5
				{Type: history.TimerStarted},            // 6
			},
			want: []groupShape{
				{kind: history.GroupEvent, seqs: []int64{1}, attempts: 1, label: "workflow started", tone: history.ToneBold},
				{kind: history.GroupTimer, seqs: []int64{2, 4}, state: history.GroupCompleted, attempts: 1, label: "timer ✓ fired", tone: history.ToneCompleted},
				{kind: history.GroupTimer, seqs: []int64{3, 5}, state: history.GroupCanceled, attempts: 1, label: "timer ⊘ canceled", tone: history.ToneClosed},
				{kind: history.GroupTimer, seqs: []int64{6}, attempts: 1, label: "timer … pending", tone: history.ToneRunning},
			},
		},
		{
			name: "children completed, failed to start, canceling",
			evs: []history.Event{start,
				{Type: history.ChildWorkflowScheduled, Name: "Ship", Child: child}, // 2
				{Type: history.ChildWorkflowStarted, Cause: 2, Child: child},       // 3
				{Type: history.ChildWorkflowCompleted, Cause: 2},                   // 4
				{Type: history.ChildWorkflowScheduled, Name: "Bill"},               // 5
				{Type: history.ChildWorkflowStartFailed, Cause: 5, Failure: boom},  // 6
				{Type: history.ChildWorkflowScheduled, Name: "Wait"},               // 7
				{Type: history.ChildWorkflowCancelRequested, Cause: 7},             // 8
			},
			want: []groupShape{
				{kind: history.GroupEvent, seqs: []int64{1}, attempts: 1, label: "workflow started", tone: history.ToneBold},
				{kind: history.GroupChild, seqs: []int64{2, 3, 4}, state: history.GroupCompleted, attempts: 1, label: "child workflow ✓", tone: history.ToneCompleted},
				{kind: history.GroupChild, seqs: []int64{5, 6}, state: history.GroupFailed, attempts: 1, label: "child workflow ✗", tone: history.ToneFailed},
				{kind: history.GroupChild, seqs: []int64{7, 8}, state: history.GroupCanceling, attempts: 1, label: "child workflow ⊘ cancel", tone: history.ToneClosed},
			},
		},
		{
			name: "an answer without its opening event stands alone",
			evs: []history.Event{start,
				{Type: history.ActivityCompleted, Cause: 9}, // 2
				{Type: history.TimerFired, Cause: 1},        // 3: names an event that opens no group
			},
			want: []groupShape{
				{kind: history.GroupEvent, seqs: []int64{1}, attempts: 1, label: "workflow started", tone: history.ToneBold},
				{kind: history.GroupEvent, seqs: []int64{2}, state: history.GroupCompleted, attempts: 1, label: "activity completed", tone: history.ToneCompleted},
				{kind: history.GroupEvent, seqs: []int64{3}, state: history.GroupCompleted, attempts: 1, label: "timer fired", tone: history.ToneInfo},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []groupShape
			for _, g := range history.GroupEvents(events(t0, tt.evs...)) {
				got = append(got, shapeOf(g))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("groups\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestGrouperMatchesGroupEvents: events added one at a time land where
// GroupEvents puts them, so a followed log groups as a loaded one.
func TestGrouperMatchesGroupEvents(t *testing.T) {
	evs := events(time.Unix(0, 0),
		history.Event{Type: history.WorkflowStarted},
		history.Event{Type: history.ActivityScheduled}, // 2
		history.Event{Type: history.TimerStarted},      // 3
		history.Event{Type: history.ActivityAttemptFailed, Cause: 2},
		history.Event{Type: history.TimerFired, Cause: 3},
		history.Event{Type: history.ActivityCompleted, Cause: 2},
	)
	var g history.Grouper
	type place struct {
		group  int
		opened bool
	}
	var got []place
	for i := range evs {
		i, opened := g.Add(&evs[i])
		got = append(got, place{i, opened})
	}
	want := []place{{0, true}, {1, true}, {2, true}, {1, false}, {2, false}, {1, false}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("places %v, want %v", got, want)
	}
	if n := len(history.GroupEvents(evs)); n != 3 {
		t.Errorf("GroupEvents made %d groups, want 3", n)
	}
}

func TestGroupSummaryAndEnd(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0.Add(time.Minute)
	long := &history.Failure{Type: "Boom", Message: "line one\nline two"}
	child := &history.RunRef{WorkflowID: "ship-1", RunID: "r2"}
	tests := []struct {
		name       string
		evs        []history.Event
		took       time.Duration
		value, msg int
		want       string
		closed     bool
	}{
		{
			name: "an event on its own is its Summary",
			evs:  []history.Event{{Type: history.SignalReceived, Name: "poke", Input: json.RawMessage(`1`)}},
			want: "poke(1)",
		},
		{
			name: "a running activity shows its arguments, cut",
			evs:  []history.Event{{Type: history.ActivityScheduled, Name: "Charge", Input: json.RawMessage(`["order-12345",9.5]`)}},
			took: 2 * time.Second, value: 10,
			want: `Charge (2s) "order-12…`,
		},
		{
			name: "a completed activity with attempts shows its result",
			evs: []history.Event{
				{Type: history.ActivityScheduled, Name: "Charge"},
				{Type: history.ActivityAttemptFailed, Cause: 1, Attempt: 1},
				{Type: history.ActivityCompleted, Cause: 1, Attempt: 2, Result: json.RawMessage(`{"ok": true}`)},
			},
			took: 1500 * time.Millisecond,
			want: `Charge ×2 attempts (1.5s) → {"ok":true}`, closed: true,
		},
		{
			name: "a failure is one line, cut to its own width",
			evs: []history.Event{
				{Type: history.ActivityScheduled, Name: "Charge"},
				{Type: history.ActivityFailed, Cause: 1, Attempt: 1, Failure: long},
			},
			took: time.Second, value: 5, msg: 14,
			want: "Charge (1s): Boom: line on…", closed: true,
		},
		{
			name: "a failure not cut",
			evs: []history.Event{
				{Type: history.ActivityScheduled, Name: "Charge"},
				{Type: history.ActivityFailed, Cause: 1, Attempt: 1, Failure: long},
			},
			took: time.Second,
			want: "Charge (1s): Boom: line one line two", closed: true,
		},
		{
			name: "a canceling activity",
			evs: []history.Event{
				{Type: history.ActivityScheduled, Name: "Charge"},
				{Type: history.ActivityCancelRequested, Cause: 1},
			},
			took: time.Second,
			want: "Charge (1s): cancel requested",
		},
		{
			name: "a child names its workflow ID",
			evs: []history.Event{
				{Type: history.ChildWorkflowScheduled, Name: "Ship", Child: child},
				{Type: history.ChildWorkflowCompleted, Cause: 1, Result: json.RawMessage(`"done"`)},
			},
			took: 3 * time.Second,
			want: `Ship ship-1 (3s) → "done"`, closed: true,
		},
		{
			name: "a fired timer says after how long",
			evs: []history.Event{
				{Type: history.TimerStarted, Duration: history.Duration(time.Second)},
				{Type: history.TimerFired, Cause: 1},
			},
			took: time.Second,
			want: "1s, fired after 1s", closed: true,
		},
		{
			name: "a canceled timer",
			evs: []history.Event{
				{Type: history.TimerStarted, Duration: history.Duration(time.Hour)},
				{Type: history.TimerCanceled, Cause: 1},
			},
			took: time.Second,
			want: "1h0m0s, canceled after 1s", closed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := history.GroupEvents(events(t0, tt.evs...))
			if len(gs) != 1 {
				t.Fatalf("%d groups, want 1", len(gs))
			}
			g := gs[0]
			if got := g.Summary(tt.took, tt.value, tt.msg); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
			wantEnd := now
			if tt.closed {
				wantEnd = g.Last().Time
			}
			if g.Closed() != tt.closed || !g.End(now).Equal(wantEnd) {
				t.Errorf("Closed %v End %v, want %v %v", g.Closed(), g.End(now), tt.closed, wantEnd)
			}
		})
	}
}

func TestGroupChild(t *testing.T) {
	ref := &history.RunRef{WorkflowID: "c", RunID: "r"}
	evs := events(time.Unix(0, 0),
		history.Event{Type: history.ChildWorkflowScheduled},
		history.Event{Type: history.ChildWorkflowStarted, Cause: 1, Child: ref},
		history.Event{Type: history.ActivityScheduled, Child: ref}, // not a child group
	)
	gs := history.GroupEvents(evs)
	if c := gs[0].Child(); c != ref {
		t.Errorf("child group's Child = %v, want %v", c, ref)
	}
	if c := gs[1].Child(); c != nil {
		t.Errorf("activity group's Child = %v, want nil", c)
	}
}

func TestGroupKindString(t *testing.T) {
	for k, want := range map[history.GroupKind]string{
		history.GroupEvent: "event", history.GroupActivity: "activity", history.GroupTimer: "timer", history.GroupChild: "child workflow",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

func TestEventTone(t *testing.T) {
	for typ, want := range map[history.EventType]history.Tone{
		history.WorkflowStarted:          history.ToneBold,
		history.WorkflowCompleted:        history.ToneCompleted,
		history.ChildWorkflowCompleted:   history.ToneCompleted,
		history.WorkflowFailed:           history.ToneFailed,
		history.ChildWorkflowStartFailed: history.ToneFailed,
		history.WorkflowTimedOut:         history.ToneClosed,
		history.ActivityAttemptFailed:    history.ToneClosed,
		history.TimerStarted:             history.ToneInfo,
		history.SignalReceived:           history.ToneInfo,
	} {
		if got := history.EventTone(typ); got != want {
			t.Errorf("EventTone(%s) = %d, want %d", typ, got, want)
		}
	}
}
