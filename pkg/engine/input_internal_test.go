package engine

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// InputTarget starts a one-hour timer (event 2) and the activity Act
// (event 3, at most 3 attempts), then waits for the activity.
func InputTarget(ctx Context) error {
	NewTimer(ctx, time.Hour)
	ctx = WithActivityOptions(ctx, ActivityOptions{RetryPolicy: &RetryPolicy{MaximumAttempts: 3}})
	return ExecuteActivity(ctx, "Act").Get(ctx, nil)
}

var inputT0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func inputStart(typ string) history.Record {
	return history.Record{Kind: history.KindInput, StreamSeq: 1, Events: []history.Event{{
		Seq: 1, Time: inputT0, Type: history.WorkflowStarted, InputID: startInputID, Name: typ,
		WorkflowID: "w-1", RunID: "run-1", TaskQueue: "q", Input: json.RawMessage("[]"),
	}}}
}

// liveInputTarget is an InputTarget run after its first decision, as a
// worker holds it in memory.
func liveInputTarget(t *testing.T) (*run, *Registry) {
	t.Helper()
	reg := NewRegistry()
	if err := reg.RegisterWorkflow(InputTarget, ""); err != nil {
		t.Fatal(err)
	}
	r := newRun(slog.New(slog.DiscardHandler))
	t.Cleanup(r.dispose)
	if err := r.applyRecord(reg, inputStart("InputTarget")); err != nil {
		t.Fatal(err)
	}
	rec := history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: r.takeCommands(inputT0)}
	r.commit(rec)
	if len(rec.Events) != 2 || rec.Events[0].Type != history.TimerStarted || rec.Events[1].Type != history.ActivityScheduled {
		t.Fatalf("first decision: %+v", rec.Events)
	}
	return r, reg
}

// Inputs that arrive on task subjects are checked against the run before
// they are recorded: before this check, an ActivityCompleted naming any
// seq, or a TimerFired naming the activity, was recorded as it came.
func TestInputsAreCheckedAgainstTheRun(t *testing.T) {
	r, _ := liveInputTarget(t)
	act := func(typ history.EventType, cause int64, id string, attempt int) history.Event {
		return history.Event{Type: typ, Cause: cause, InputID: id, Attempt: attempt, Name: "Act"}
	}
	for _, tc := range []struct {
		name    string
		ev      history.Event
		withErr error
	}{
		{"activity outcome", act(history.ActivityCompleted, 3, "act:3:done", 1), nil},
		{"activity failure", act(history.ActivityFailed, 3, "act:3:done", 7), nil},
		{"failed attempt", act(history.ActivityAttemptFailed, 3, "act:3:attempt:2", 2), nil},
		{"outcome of no event", act(history.ActivityCompleted, 99, "act:99:done", 1), ErrInvalidInput},
		{"outcome of a timer", act(history.ActivityCompleted, 2, "act:2:done", 1), ErrInvalidInput},
		{"input id of another activity", act(history.ActivityCompleted, 3, "act:2:done", 1), ErrInvalidInput},
		{"attempt 0", act(history.ActivityCompleted, 3, "act:3:done", 0), ErrInvalidInput},
		{"another activity's name", history.Event{Type: history.ActivityCompleted, Cause: 3, InputID: "act:3:done", Attempt: 1, Name: "Other"}, ErrInvalidInput},
		{"retry past MaximumAttempts", act(history.ActivityAttemptFailed, 3, "act:3:attempt:3", 3), ErrInvalidInput},
		{"timer fired", history.Event{Type: history.TimerFired, Cause: 2, InputID: "timer:2"}, nil},
		{"timer fired for the activity", history.Event{Type: history.TimerFired, Cause: 3, InputID: "timer:3"}, ErrInvalidInput},
		{"timer fired under another id", history.Event{Type: history.TimerFired, Cause: 2, InputID: "timer:3"}, ErrInvalidInput},
		{"cancel", history.Event{Type: history.WorkflowCancelRequested, InputID: "cancel"}, nil},
		{"cancel under another id", history.Event{Type: history.WorkflowCancelRequested, InputID: "x"}, ErrInvalidInput},
		{"timeout of a run without one", history.Event{Type: history.WorkflowTimedOut, InputID: "timeout"}, ErrInvalidInput},
		{"signal", history.Event{Type: history.SignalReceived, Name: "s", SignalSeq: 5, InputID: "sig:5", Input: json.RawMessage("1")}, nil},
		{"signal under another id", history.Event{Type: history.SignalReceived, Name: "s", SignalSeq: 5, InputID: "sig:6"}, ErrInvalidInput},
		{"signal without a name", history.Event{Type: history.SignalReceived, SignalSeq: 5, InputID: "sig:5"}, ErrInvalidInput},
		{"child outcome of the activity", history.Event{Type: history.ChildWorkflowCompleted, Cause: 3, InputID: "child:3:done"}, ErrInvalidInput},
		{"no input id", act(history.ActivityCompleted, 3, "", 1), ErrInvalidInput},
		{"a second start", history.Event{Type: history.WorkflowStarted, InputID: startInputID, Name: "InputTarget"}, ErrInvalidInput},
		{"a termination", history.Event{Type: history.WorkflowTerminated, InputID: "terminate"}, ErrInvalidInput},
		{"a task failure", history.Event{Type: history.WorkflowTaskFailed, InputID: "x"}, ErrInvalidInput},
		{"a command", history.Event{Type: history.ActivityScheduled, InputID: "x", Name: "Act"}, ErrInvalidInput},
		{"an unknown type", history.Event{Type: "Gossip", InputID: "x"}, ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.checkInput(tc.ev)
			if tc.withErr == nil && err != nil || tc.withErr != nil && !errors.Is(err, tc.withErr) {
				t.Fatalf("checkInput(%+v) = %v, want %v", tc.ev, err, tc.withErr)
			}
		})
	}
}

// A refused input changes nothing of the run in memory.
func TestRefusedInputLeavesTheRunAsItWas(t *testing.T) {
	r, reg := liveInputTarget(t)
	applied, lastInput, pending := len(r.applied), r.lastInputSeq, len(r.pending)
	ev := history.Event{Seq: 4, Time: inputT0, Type: history.ActivityCompleted, Cause: 99, InputID: "act:99:done", Attempt: 1}
	if err := r.applyInput(reg, ev); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("applyInput = %v, want ErrInvalidInput", err)
	}
	if len(r.applied) != applied || r.lastInputSeq != lastInput || len(r.pending) != pending || r.activities[3].done {
		t.Fatalf("a refused input changed the run: applied %d->%d, last input %d->%d", applied, len(r.applied), lastInput, r.lastInputSeq)
	}
	// The real outcome still applies, and the code goes on.
	ev = history.Event{Seq: 4, Time: inputT0, Type: history.ActivityCompleted, Cause: 3, InputID: "act:3:done", Attempt: 1, Name: "Act", Result: json.RawMessage("null")}
	if err := r.applyInput(reg, ev); err != nil {
		t.Fatal(err)
	}
	if len(r.pending) != 1 || r.pending[0].event.Type != history.WorkflowCompleted {
		t.Fatalf("after the real outcome the code produced %d commands", len(r.pending))
	}
}

// A task names its run, and carries only what a task may carry.
func TestTasksAreCheckedAgainstTheRun(t *testing.T) {
	r, _ := liveInputTarget(t)
	start := inputStart("InputTarget").Events[0]
	other := start
	other.RunID = "run-2"
	for _, tc := range []struct {
		name    string
		task    workflowTask
		withErr error
	}{
		{"an outcome", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: "act:3:done", Event: &history.Event{Type: history.ActivityCompleted}}, nil},
		{"the start", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: startInputID, Event: &start, RecordSeq: 1}, nil},
		{"a start task", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: startInputID, Event: &start}, nil},
		{"signals waiting", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: signalsInputID}, nil},
		{"a start task of another run", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: startInputID, Event: &other}, ErrInvalidInput},
		{"a first task carrying an outcome", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: "act:3:done", Event: &history.Event{Type: history.ActivityCompleted}, RecordSeq: 1}, ErrInvalidInput},
		{"another run id", workflowTask{WorkflowID: "w-1", RunID: "run-2", InputID: "cancel"}, ErrInvalidInput},
		{"another workflow id", workflowTask{WorkflowID: "w-2", RunID: "run-1", InputID: "cancel"}, ErrInvalidInput},
		{"a start of another run", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: startInputID, Event: &other, RecordSeq: 1}, ErrInvalidInput},
		{"a signal carried by the task", workflowTask{WorkflowID: "w-1", RunID: "run-1", InputID: "sig:9",
			Event: &history.Event{Type: history.SignalReceived, Name: "s", SignalSeq: 9}}, ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.checkTask(tc.task)
			if tc.withErr == nil && err != nil || tc.withErr != nil && !errors.Is(err, tc.withErr) {
				t.Fatalf("checkTask = %v, want %v", err, tc.withErr)
			}
		})
	}
}

// Nothing is applied to a closed run: a new input gets ErrRunClosed, and
// an event recorded after the close (by a writer that did not check) is
// ignored on replay.
func TestNothingIsAppliedAfterClose(t *testing.T) {
	reg := NewRegistry()
	if err := reg.RegisterWorkflow(InputTarget, ""); err != nil {
		t.Fatal(err)
	}
	recs := []history.Record{
		inputStart("InputTarget"),
		{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{
			{Seq: 2, Time: inputT0, Type: history.TimerStarted, Cause: 1, Duration: history.Duration(time.Hour)},
			{Seq: 3, Time: inputT0, Type: history.ActivityScheduled, Cause: 1, Name: "Act", ActivityOptions: &history.ActivityOptions{TaskQueue: "q"}},
		}},
		{Kind: history.KindInput, StreamSeq: 3, Events: []history.Event{{Seq: 4, Time: inputT0, Type: history.WorkflowTerminated, Reason: "enough"}}},
		{Kind: history.KindInput, StreamSeq: 4, Events: []history.Event{{Seq: 5, Time: inputT0, Type: history.WorkflowTaskFailed, Failure: &history.Failure{Message: "late"}}}},
	}
	r, err := replayRun(reg, slog.New(slog.DiscardHandler), recs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.dispose()
	if !r.closed || r.closeEvent.Type != history.WorkflowTerminated {
		t.Fatalf("replayed run closed=%v by %v", r.closed, r.closeEvent)
	}
	ev := history.Event{Seq: 6, Time: inputT0, Type: history.ActivityCompleted, Cause: 3, InputID: "act:3:done", Attempt: 1, Name: "Act"}
	if err := r.applyInput(reg, ev); !errors.Is(err, ErrRunClosed) {
		t.Fatalf("input to a closed run: %v, want ErrRunClosed", err)
	}
}

// A closed run needs no code: `start NoSuchWorkflow` then `terminate` must
// replay without ErrUnknownWorkflowType (which blocked it, appended a
// WorkflowTaskFailed after the close and logged an error every minute),
// while an open run of an unknown type still reports it.
func TestClosedRunOfUnknownTypeReplaysWithoutCode(t *testing.T) {
	reg := NewRegistry()
	blocked := history.Record{Kind: history.KindInput, StreamSeq: 2, Events: []history.Event{{Seq: 2, Time: inputT0,
		Type: history.WorkflowTaskFailed, Failure: &history.Failure{Message: "unknown workflow type", Type: "UnknownWorkflowType"}}}}
	open := []history.Record{inputStart("NoSuchWorkflow"), blocked}
	if _, err := replayRun(reg, slog.New(slog.DiscardHandler), open); !errors.Is(err, ErrUnknownWorkflowType) {
		t.Fatalf("open run of an unknown type: %v, want ErrUnknownWorkflowType", err)
	}
	terminated := history.Record{Kind: history.KindInput, StreamSeq: 3, Events: []history.Event{{Seq: 3, Time: inputT0,
		Type: history.WorkflowTerminated, Reason: "no such type"}}}
	r, err := replayRun(reg, slog.New(slog.DiscardHandler), append(open, terminated))
	if err != nil {
		t.Fatalf("closed run of an unknown type: %v", err)
	}
	defer r.dispose()
	if !r.closed || r.closeEvent.Seq != 3 || r.info.WorkflowType != "NoSuchWorkflow" || r.lastSeq != 3 || r.streamSeq != 3 {
		t.Fatalf("closed run: closed=%v close=%+v info=%+v lastSeq=%d streamSeq=%d", r.closed, r.closeEvent, r.info, r.lastSeq, r.streamSeq)
	}
	// A replay check and a query need the code all the same.
	if err := ReplayRecords(reg, append(open, terminated)); !errors.Is(err, ErrUnknownWorkflowType) {
		t.Fatalf("replay check of a closed run of an unknown type: %v, want ErrUnknownWorkflowType", err)
	}
	if _, err := r.query("status", nil); !errors.Is(err, ErrUnknownWorkflowType) {
		t.Fatalf("query of a closed run of an unknown type: %v, want ErrUnknownWorkflowType", err)
	}

	// What the close requires is known without code: the open activity and
	// timer of a type this worker does not register.
	recs := []history.Record{
		inputStart("Unregistered"),
		{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{
			{Seq: 2, Time: inputT0, Type: history.TimerStarted, Cause: 1, Duration: history.Duration(time.Hour)},
			{Seq: 3, Time: inputT0, Type: history.ActivityScheduled, Cause: 1, Name: "Act", ActivityOptions: &history.ActivityOptions{TaskQueue: "q"}},
			{Seq: 4, Time: inputT0, Type: history.ChildWorkflowScheduled, Cause: 1, Name: "Kid", Child: &history.RunRef{WorkflowID: "kid", RunID: "kid-run"}},
		}},
		{Kind: history.KindDecision, StreamSeq: 3, Events: []history.Event{
			{Seq: 5, Time: inputT0, Type: history.TimerFired, Cause: 2, InputID: "timer:2"},
			{Seq: 6, Time: inputT0, Type: history.WorkflowCompleted, Cause: 5},
		}},
	}
	r, err = replayRun(reg, slog.New(slog.DiscardHandler), recs)
	if err != nil {
		t.Fatalf("closed run with commands, type not registered: %v", err)
	}
	defer r.dispose()
	if !r.closed || r.timers[2] == nil || !r.timers[2].done || r.activities[3] == nil || r.activities[3].done ||
		r.children[4] == nil || r.children[4].ref.WorkflowID != "kid" || r.applied["timer:2"] != 3 {
		t.Fatalf("state of a closed run replayed without code: timers %v activities %v children %v applied %v", r.timers, r.activities, r.children, r.applied)
	}
}
