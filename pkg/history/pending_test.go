package history_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// events numbers evs 1, 2, ... a second apart from t0.
func events(t0 time.Time, evs ...history.Event) []history.Event {
	for i := range evs {
		evs[i].Seq = int64(i + 1)
		evs[i].Time = t0.Add(time.Duration(i) * time.Second)
	}
	return evs
}

func TestPendingOf(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	retryAt := t0.Add(time.Minute)
	fireAt := t0.Add(time.Hour)
	start := history.Event{Type: history.WorkflowStarted, Name: "Order", WorkflowID: "o-1", RunID: "r1", TaskQueue: "q"}
	opts := &history.ActivityOptions{TaskQueue: "q", RetryPolicy: &history.RetryPolicy{MaximumAttempts: 5}, HeartbeatTimeout: history.Duration(10 * time.Second)}
	boom := &history.Failure{Message: "carrier down", Type: "CarrierUnavailable"}

	t.Run("an activity failing and retrying", func(t *testing.T) {
		p := history.PendingOf(events(t0, start,
			history.Event{Type: history.ActivityScheduled, Name: "Ship", ActivityOptions: opts}, // 2
			history.Event{Type: history.ActivityScheduled, Name: "Charge"},                      // 3
			history.Event{Type: history.ActivityAttemptFailed, Cause: 2, Name: "Ship", Attempt: 1, Failure: &history.Failure{Message: "first"}},
			history.Event{Type: history.ActivityCompleted, Cause: 3, Name: "Charge", Attempt: 1},
			history.Event{Type: history.ActivityAttemptFailed, Cause: 2, Name: "Ship", Attempt: 2, Failure: boom, NextAttemptAt: &retryAt, Identity: "w1"},
		))
		if len(p.Activities) != 1 {
			t.Fatalf("pending activities %+v, want Ship only", p.Activities)
		}
		a := p.Activities[0]
		if a.Name != "Ship" || a.Seq != 2 || a.ActivityID != "2" || a.Attempt != 3 || a.MaximumAttempts != 5 || a.TaskQueue != "q" {
			t.Errorf("activity %+v, want Ship seq 2 attempt 3 of 5 on q", a)
		}
		if a.LastFailure != boom || a.NextAttemptAt == nil || !a.NextAttemptAt.Equal(retryAt) || a.LastWorker != "w1" {
			t.Errorf("last failure %v next %v worker %q, want the second attempt's", a.LastFailure, a.NextAttemptAt, a.LastWorker)
		}
		if !a.ScheduledAt.Equal(t0.Add(time.Second)) || a.HeartbeatTimeout != history.Duration(10*time.Second) {
			t.Errorf("scheduled at %v, heartbeat timeout %v", a.ScheduledAt, a.HeartbeatTimeout)
		}
		if p.LastEventSeq != 6 || p.Close != "" || p.Failure != nil || p.Idle() {
			t.Errorf("last seq %d close %q failure %v idle %v", p.LastEventSeq, p.Close, p.Failure, p.Idle())
		}
	})

	t.Run("timers, children and signals", func(t *testing.T) {
		p := history.PendingOf(events(t0, start,
			history.Event{Type: history.TimerStarted, FireAt: &fireAt, Duration: history.Duration(time.Hour)}, // 2
			history.Event{Type: history.TimerStarted, Duration: history.Duration(time.Second)},                // 3
			history.Event{Type: history.TimerFired, Cause: 3},
			history.Event{Type: history.TimerStarted}, // 5
			history.Event{Type: history.TimerCanceled, Cause: 5},
			history.Event{Type: history.ChildWorkflowScheduled, Name: "Pay", Child: &history.RunRef{WorkflowID: "o-1/pay", RunID: "c1"}},   // 7
			history.Event{Type: history.ChildWorkflowScheduled, Name: "Ship", Child: &history.RunRef{WorkflowID: "o-1/ship", RunID: "c2"}}, // 8
			history.Event{Type: history.ChildWorkflowStarted, Cause: 7, Child: &history.RunRef{WorkflowID: "o-1/pay", RunID: "c1"}},
			history.Event{Type: history.ChildWorkflowCompleted, Cause: 8},
			history.Event{Type: history.SignalReceived, Name: "go", Input: json.RawMessage(`1`)},
			history.Event{Type: history.SignalReceived, Name: "go"},
			history.Event{Type: history.SignalReceived, Name: "stop"},
		))
		if len(p.Timers) != 1 || p.Timers[0].Seq != 2 || !p.Timers[0].FireAt.Equal(fireAt) {
			t.Errorf("timers %+v, want the one of seq 2 firing at %v", p.Timers, fireAt)
		}
		if len(p.Children) != 1 || p.Children[0] != (history.PendingChild{Seq: 7, WorkflowID: "o-1/pay", RunID: "c1", Type: "Pay", Started: true}) {
			t.Errorf("children %+v, want Pay started", p.Children)
		}
		if p.SignalsReceived != 3 || p.SignalsByName["go"] != 2 || p.SignalsByName["stop"] != 1 {
			t.Errorf("signals %d %v", p.SignalsReceived, p.SignalsByName)
		}
		if len(p.Activities) != 0 || p.Activities == nil {
			t.Errorf("activities %#v, want an empty list (JSON [])", p.Activities)
		}
	})

	t.Run("a cancelled activity and an outcome that answers nothing", func(t *testing.T) {
		p := history.PendingOf(events(t0, start,
			history.Event{Type: history.ActivityScheduled, Name: "Slow"}, // 2
			history.Event{Type: history.ActivityCancelRequested, Name: "Slow", Cause: 2},
			history.Event{Type: history.ActivityAttemptFailed, Cause: 2, Attempt: 1, Failure: boom},
			history.Event{Type: history.ActivityCompleted, Cause: 42},
			history.Event{Type: history.WorkflowCancelRequested, Reason: "user"},
		))
		if len(p.Activities) != 0 || !p.CancelRequested || !p.Idle() {
			t.Errorf("activities %+v cancel requested %v idle %v, want none, true, true", p.Activities, p.CancelRequested, p.Idle())
		}
	})

	t.Run("blocked until the next event", func(t *testing.T) {
		nde := &history.Failure{Message: "DF1001 non-deterministic", Type: "NonDeterminismError"}
		evs := events(t0, start,
			history.Event{Type: history.WorkflowTaskFailed, Failure: nde},
		)
		if p := history.PendingOf(evs); p.Blocked != nde {
			t.Errorf("blocked %v, want %v", p.Blocked, nde)
		}
		evs = append(evs, history.Event{Seq: 3, Type: history.TimerStarted})
		if p := history.PendingOf(evs); p.Blocked != nil {
			t.Errorf("blocked %v after a decision, want nil", p.Blocked)
		}
	})

	t.Run("a failed run", func(t *testing.T) {
		fail := &history.Failure{Message: "charge failed", Type: "ApplicationError", Cause: boom}
		p := history.PendingOf(events(t0, start,
			history.Event{Type: history.ActivityScheduled, Name: "Ship"},
			history.Event{Type: history.TimerStarted, FireAt: &fireAt},
			history.Event{Type: history.WorkflowFailed, Failure: fail},
			history.Event{Type: history.ActivityCompleted, Cause: 2}, // after close: ignored
		))
		if p.Close != history.WorkflowFailed || p.Failure != fail || p.LastEventSeq != 4 {
			t.Errorf("close %q failure %v last seq %d, want WorkflowFailed, its failure, 4", p.Close, p.Failure, p.LastEventSeq)
		}
		if len(p.Activities)+len(p.Timers)+len(p.Children) != 0 || p.Idle() {
			t.Errorf("a closed run waits for nothing: %+v", p)
		}
	})

	t.Run("timed out", func(t *testing.T) {
		p := history.PendingOf(events(t0, start, history.Event{Type: history.WorkflowTimedOut}))
		if p.Close != history.WorkflowTimedOut || p.Failure == nil || p.Failure.Type != "TimeoutError" {
			t.Errorf("close %q failure %v", p.Close, p.Failure)
		}
	})

	t.Run("empty", func(t *testing.T) {
		p := history.PendingOf(nil)
		if p.LastEventSeq != 0 || !p.Idle() {
			t.Errorf("%+v", p)
		}
	})
}
