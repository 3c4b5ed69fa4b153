package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// command is something workflow code asked for; it becomes a command event
// when a decision is committed, or is matched against the recorded event
// when the history is replayed.
type command struct {
	event  history.Event
	future *future
	// seq is the command's event seq once it is bound to a recorded event.
	seq int64
	// onBind runs when the command is bound (timers register themselves).
	onBind func(seq int64)
	// unregister drops the command's cancellation callback.
	unregister func()
}

type timerState struct {
	future  *future
	done    bool // fired or cancelled
	started history.Event
	// startedIn is the stream seq of the decision that started the timer.
	startedIn  uint64
	canceledIn uint64
	unregister func()
}

type activityState struct {
	name        string
	future      *future
	done        bool
	attempts    int
	scheduled   history.Event
	scheduledIn uint64 // stream seq of the decision record that scheduled it
	cancelIn    uint64 // stream seq of the decision that cancelled it
	unregister  func()
}

// run is the in-memory state of one workflow run: its coroutines suspended
// where the code blocked, and what the history says so far. It is built by
// replaying the history and then advanced one input event at a time.
type run struct {
	info      Info
	disp      *dispatcher
	now       time.Time
	replaying bool
	logger    *slog.Logger

	pending    []*command
	activities map[int64]*activityState
	timers     map[int64]*timerState
	root       rootContext
	// signals holds one channel per signal name, made on first use by the
	// code or by a signal; lastSignalSeq is the last signal applied.
	signals       map[string]*channel
	lastSignalSeq uint64
	// applied maps each applied input id to the stream seq of the decision
	// record that answered it (0 while no decision has yet).
	applied          map[string]uint64
	awaitingDecision []string

	lastSeq int64 // seq of the last event in the history
	// lastInputSeq is the input event the code last ran after: the cause
	// of the commands it produces next.
	lastInputSeq int64
	streamSeq    uint64 // stream seq of the last record applied
	started      bool
	closeCmd     bool // the code produced its closing command
	closed       bool // a closing event is recorded
	closeEvent   *history.Event
	// versions holds the version of each change id: those recorded anywhere
	// in the history (known before the code reaches them) and those chosen
	// now; versionMarked says which the code has already marked this time.
	versions      map[string]int
	versionMarked map[string]bool
	// sideEffects are the recorded SideEffect results not yet handed back.
	sideEffects []json.RawMessage
	// children by the seq of their ChildWorkflowScheduled event; childCount
	// numbers default child IDs.
	children   map[int64]*childState
	childCount int
	// parent is set for a child run.
	parent *history.RunRef
	// queries are the handlers set with SetQueryHandler, by name.
	queries map[string]*fnSig
	// nde is a mismatch found inside workflow code (a marker).
	nde *NonDeterminismError
	// hasTimeout: the run has a scheduled execution timeout.
	hasTimeout bool
	// resumed: a reset run's outstanding work was re-published.
	resumed bool
	// cancelRequested: a WorkflowCancelRequested was applied.
	cancelRequested bool
	// blockedMark: the history ends with a WorkflowTaskFailed, so the runs
	// index says blocked until the next decision commits.
	blockedMark bool
}

func newRun(base *slog.Logger) *run {
	r := &run{
		disp:       &dispatcher{},
		activities: map[int64]*activityState{},
		timers:     map[int64]*timerState{},
		signals:    map[string]*channel{},
		versions:   map[string]int{},
		queries:    map[string]*fnSig{},
		children:   map[int64]*childState{},

		versionMarked: map[string]bool{},
		applied:       map[string]uint64{},
	}
	r.root = rootContext{r: r, canceler: newCanceler(nil)}
	r.logger = slog.New(replayAwareHandler{r: r, h: base.Handler()})
	return r
}

// replayRun rebuilds a run from its records. Records up to the last
// decision are replayed (the logger is silent); those after it are new.
func replayRun(reg *Registry, logger *slog.Logger, recs []history.Record) (*run, error) {
	lastDecision := -1
	for i, rec := range recs {
		if rec.Kind == history.KindDecision {
			lastDecision = i
		}
	}
	r := newRun(logger)
	// Markers are known ahead: the code asks for a version or a side
	// effect's result before the replay reaches the event that recorded it.
	for _, rec := range recs {
		for _, ev := range rec.Events {
			if ev.Type != history.MarkerRecorded {
				continue
			}
			if id, ok := strings.CutPrefix(ev.Name, versionMarkerPrefix); ok {
				var v int
				_ = json.Unmarshal(ev.Result, &v)
				r.versions[id] = v
			} else if ev.Name == sideEffectMarker {
				r.sideEffects = append(r.sideEffects, ev.Result)
			}
		}
	}
	for i, rec := range recs {
		r.replaying = i <= lastDecision
		if err := r.applyRecord(reg, rec); err != nil {
			r.dispose()
			return nil, err
		}
	}
	r.replaying = false
	return r, nil
}

// dispose unwinds the run's coroutines.
func (r *run) dispose() { r.disp.close() }

type replayAwareHandler struct {
	r *run
	h slog.Handler
}

func (h replayAwareHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.r.replaying && h.h.Enabled(ctx, l)
}
func (h replayAwareHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(slog.String("workflow_id", h.r.info.WorkflowID), slog.String("run_id", h.r.info.RunID))
	return h.h.Handle(ctx, rec)
}
func (h replayAwareHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return replayAwareHandler{r: h.r, h: h.h.WithAttrs(a)}
}
func (h replayAwareHandler) WithGroup(n string) slog.Handler {
	return replayAwareHandler{r: h.r, h: h.h.WithGroup(n)}
}

func (r *run) addCommand(c *command) {
	if r.closeCmd {
		return // the workflow has returned: later commands of stray goroutines are dropped
	}
	if c.event.Type.IsClosing() {
		r.closeCmd = true
	}
	if c.event.Cause == 0 {
		c.event.Cause = r.lastInputSeq
	}
	r.pending = append(r.pending, c)
}

// applyRecord replays one recorded record: input events are applied, command
// events are matched against what the code produced. At the end of a
// decision record every command the code produced must have been matched.
func (r *run) applyRecord(reg *Registry, rec history.Record) error {
	for i := range rec.Events {
		ev := rec.Events[i]
		if ev.Type.IsCommand() {
			if err := r.matchCommand(ev, rec.StreamSeq); err != nil {
				return err
			}
		} else if err := r.applyInput(reg, ev); err != nil {
			return err
		}
		if r.nde != nil {
			return r.nde
		}
		r.lastSeq = ev.Seq
	}
	if rec.Kind == history.KindDecision {
		if len(r.pending) > 0 {
			c := r.pending[0]
			return &NonDeterminismError{Seq: r.lastSeq + 1, Recorded: "no further command in this decision", Produced: describeCommand(c.event)}
		}
		r.decided(rec.StreamSeq)
	}
	r.streamSeq = rec.StreamSeq
	return nil
}

func (r *run) decided(streamSeq uint64) {
	for _, id := range r.awaitingDecision {
		r.applied[id] = streamSeq
	}
	r.awaitingDecision = r.awaitingDecision[:0]
}

func describeCommand(ev history.Event) string {
	switch {
	case ev.Name != "":
		return fmt.Sprintf("%s(%s)", ev.Type, ev.Name)
	case ev.Type == history.TimerStarted:
		return fmt.Sprintf("%s(%s)", ev.Type, time.Duration(ev.Duration))
	case ev.Type == history.TimerCanceled:
		return fmt.Sprintf("%s(timer %d)", ev.Type, ev.Cause)
	}
	return string(ev.Type)
}

func (r *run) matchCommand(ev history.Event, streamSeq uint64) error {
	if len(r.pending) == 0 {
		return &NonDeterminismError{Seq: ev.Seq, Recorded: describeCommand(ev), Produced: "no command"}
	}
	c := r.pending[0]
	cancels := ev.Type == history.TimerCanceled || ev.Type == history.ActivityCancelRequested || ev.Type == history.ChildWorkflowCancelRequested
	if c.event.Type != ev.Type || c.event.Name != ev.Name || cancels && c.event.Cause != ev.Cause {
		return &NonDeterminismError{Seq: ev.Seq, Recorded: describeCommand(ev), Produced: describeCommand(c.event)}
	}
	r.pending = r.pending[1:]
	r.bindCommand(c, ev, streamSeq)
	return nil
}

func (r *run) bindCommand(c *command, ev history.Event, streamSeq uint64) {
	switch ev.Type {
	case history.ActivityScheduled:
		r.activities[ev.Seq] = &activityState{name: ev.Name, future: c.future, scheduled: ev, scheduledIn: streamSeq, unregister: c.unregister}
	case history.WorkflowCompleted, history.WorkflowFailed, history.WorkflowCanceled, history.WorkflowContinuedAsNew:
		r.closed = true
		e := ev
		r.closeEvent = &e
	}
	c.seq = ev.Seq
	if c.onBind != nil {
		c.onBind(ev.Seq)
	}
	switch ev.Type {
	case history.TimerStarted:
		if t := r.timers[ev.Seq]; t != nil {
			t.started, t.startedIn = ev, streamSeq
		}
	case history.TimerCanceled:
		if t := r.timers[ev.Cause]; t != nil {
			t.canceledIn = streamSeq
		}
	case history.ChildWorkflowScheduled:
		if cs := r.children[ev.Seq]; cs != nil {
			cs.scheduled, cs.scheduledIn = ev, streamSeq
		}
	case history.ChildWorkflowCancelRequested:
		if cs := r.children[ev.Cause]; cs != nil {
			cs.cancelIn = streamSeq
		}
	case history.ActivityCancelRequested:
		if a := r.activities[ev.Cause]; a != nil {
			a.cancelIn = streamSeq
		}
	}
}

func (r *run) signalChannel(name string) *channel {
	ch := r.signals[name]
	if ch == nil {
		ch = &channel{name: name}
		r.signals[name] = ch
	}
	return ch
}

// removePending drops a command the code took back before it was recorded
// (a timer cancelled in the decision that started it).
func (r *run) removePending(c *command) bool {
	for i, p := range r.pending {
		if p == c {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return true
		}
	}
	return false
}

// applyInput applies one input event and runs the code until it blocks.
func (r *run) applyInput(reg *Registry, ev history.Event) error {
	if ev.InputID != "" {
		if _, dup := r.applied[ev.InputID]; !dup {
			r.applied[ev.InputID] = 0
			r.awaitingDecision = append(r.awaitingDecision, ev.InputID)
		}
	}
	r.now = ev.Time
	r.lastInputSeq = ev.Seq
	switch ev.Type {
	case history.WorkflowStarted:
		return r.start(reg, ev)
	case history.ActivityCompleted, history.ActivityFailed:
		a := r.activities[ev.Cause]
		if a == nil || a.done {
			return nil
		}
		a.done = true
		a.attempts = ev.Attempt
		if a.unregister != nil {
			a.unregister()
		}
		if ev.Type == history.ActivityCompleted {
			a.future.set(ev.Result, nil)
		} else {
			a.future.set(nil, &ActivityError{ActivityName: a.name, ScheduledSeq: ev.Cause, Attempt: ev.Attempt, Cause: FromFailure(ev.Failure)})
		}
		r.runCode()
	case history.ActivityAttemptFailed:
		if a := r.activities[ev.Cause]; a != nil {
			a.attempts = ev.Attempt
		}
	case history.WorkflowCancelRequested:
		if r.cancelRequested {
			return nil
		}
		r.cancelRequested = true
		r.root.cancel(ErrCanceled)
		r.runCode()
	case history.ChildWorkflowStarted, history.ChildWorkflowStartFailed, history.ChildWorkflowCompleted, history.ChildWorkflowFailed:
		r.applyChild(ev)
	case history.WorkflowTerminated, history.WorkflowTimedOut:
		r.closed = true
		e := ev
		r.closeEvent = &e
	case history.SignalReceived:
		r.lastSignalSeq = max(r.lastSignalSeq, ev.SignalSeq)
		ch := r.signalChannel(ev.Name)
		ch.buf = append(ch.buf, ev.Input)
		ch.sent++
		r.runCode()
	case history.TimerFired:
		t := r.timers[ev.Cause]
		if t == nil || t.done {
			return nil // cancelled meanwhile, or a redelivery
		}
		t.done = true
		t.unregister()
		t.future.set(nil, nil)
		r.runCode()
	}
	return nil
}

func (r *run) start(reg *Registry, ev history.Event) error {
	r.info = Info{WorkflowID: ev.WorkflowID, RunID: ev.RunID, WorkflowType: ev.Name, TaskQueue: ev.TaskQueue, StartTime: ev.Time}
	r.parent = ev.Parent
	r.hasTimeout = ev.WorkflowTimeout > 0
	sig, ok := reg.workflow(ev.Name)
	if !ok {
		return fmt.Errorf("%w %q: this worker registers %v", ErrUnknownWorkflowType, ev.Name, reg.WorkflowNames())
	}
	r.started = true
	ctx := Context(r.root)
	input := ev.Input
	r.disp.spawn("main", func() {
		args, err := sig.decodeArgs("workflow", input)
		if err != nil {
			r.finish(nil, err)
			return
		}
		out := sig.fn.Call(append([]reflect.Value{reflect.ValueOf(ctx)}, args...))
		result, err := sig.splitResult("workflow", out)
		r.finish(result, err)
	})
	r.runCode()
	return nil
}

func (r *run) finish(result json.RawMessage, err error) {
	var can *ContinueAsNewError
	if errors.As(err, &can) {
		next := &history.RunRef{WorkflowID: r.info.WorkflowID, RunID: nextRunID(r.info.RunID), TaskQueue: r.info.TaskQueue}
		r.addCommand(&command{event: history.Event{Type: history.WorkflowContinuedAsNew, Name: can.WorkflowType, Input: can.Input, Next: next}})
		return
	}
	if err != nil && r.cancelRequested && errors.Is(err, ErrCanceled) {
		r.addCommand(&command{event: history.Event{Type: history.WorkflowCanceled, Failure: ToFailure(err)}})
		return
	}
	if err != nil {
		r.addCommand(&command{event: history.Event{Type: history.WorkflowFailed, Failure: ToFailure(err)}})
		return
	}
	r.addCommand(&command{event: history.Event{Type: history.WorkflowCompleted, Result: result}})
}

func (r *run) runCode() {
	if !r.started || r.closeCmd {
		return
	}
	if p := r.disp.runUntilBlocked(); p != nil {
		r.finish(nil, p)
	}
}

// takeCommands turns the pending commands into events numbered from
// r.lastSeq+1 for a new decision.
func (r *run) takeCommands(now time.Time) []history.Event {
	evs := make([]history.Event, 0, len(r.pending))
	for _, c := range r.pending {
		ev := c.event
		r.lastSeq++
		ev.Seq = r.lastSeq
		ev.Time = now
		evs = append(evs, ev)
	}
	return evs
}

// commit binds the commands of a committed decision record.
func (r *run) commit(rec history.Record) {
	cmds := r.pending
	r.pending = nil
	i := 0
	for _, ev := range rec.Events {
		if ev.Type.IsCommand() {
			r.bindCommand(cmds[i], ev, rec.StreamSeq)
			i++
		}
	}
	r.decided(rec.StreamSeq)
	r.streamSeq = rec.StreamSeq
	if n := len(rec.Events); n > 0 {
		r.lastSeq = rec.Events[n-1].Seq
	}
}
