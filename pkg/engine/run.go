package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
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
	// panicked is the panic (DF1005) a WorkflowFailed command stands for
	// in the replay of a closed history: where the history records another
	// command, the verdict is the panic, not a command mismatch.
	panicked *WorkflowCodeError
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
	scheduled   *history.Event // as recorded (the bound command's, reused)
	scheduledIn uint64         // stream seq of the decision record that scheduled it
	cancelIn    uint64         // stream seq of the decision that cancelled it
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
	// boundIn and bound: the commands bound by the record at stream seq
	// boundIn (event seqs; the cause for a cancel), so that requirements
	// of the latest decision look at them alone, not at every activity,
	// timer and child of the run (a fan-out of 1,000 made that quadratic).
	boundIn uint64
	bound   []int64
	// closeEntry: the runs entry, read while the closing record was
	// appended (prefetchRunEntry), for the close's update.
	closeEntry *entryFetch
	// startEntry: the runs entry its client wrote, named by the start
	// record (runsEntryOf), for the close's update when nothing changed it.
	startEntry *startEntry
	started    bool
	closeCmd   bool // the code produced its closing command
	closed     bool // a closing event is recorded
	closeEvent *history.Event
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
	// panicPolicy is the worker's WorkflowPanicPolicy; codeErr is the
	// panic (or decode error) in workflow code that blocks the run under
	// BlockWorkflow.
	panicPolicy WorkflowPanicPolicy
	codeErr     *WorkflowCodeError
	// decFirst and decLast are the first and last events of the decision
	// record being replayed (0 outside one): a non-determinism names it.
	decFirst, decLast int64
	// lenient names the activities and workflows whose inputs are not
	// compared on replay (WorkerOptions.LenientInputs).
	lenient map[string]bool
	// hasTimeout: the run has a scheduled execution timeout.
	hasTimeout bool
	// resumed: a reset run's outstanding work was re-published.
	resumed bool
	// cancelRequested: a WorkflowCancelRequested was applied.
	cancelRequested bool
	// blockedMark: the history ends with a WorkflowTaskFailed, so the runs
	// index says blocked until the next decision commits.
	blockedMark bool
	// closedHistory: the history being replayed holds a close event;
	// noCode: it is replayed without code because this worker does not
	// register the workflow type (a closed run needs none).
	// (A replay check or a query needs the code all the same: they
	// report ErrUnknownWorkflowType for such a run.)
	closedHistory bool
	noCode        bool
}

// ErrInvalidInput is returned by applyInput (and checkTask) for an input
// that does not fit the run: an event type that no task carries, an
// outcome whose cause is not a command of the right kind in this run, an
// input id that does not match its cause, an impossible attempt number, a
// task that names another run. Such an input is never recorded: the task
// that carried it is dropped (it is forged or corrupt; retrying cannot
// make it fit).
var ErrInvalidInput = errors.New("invalid input")

// ErrRunClosed is returned by applyInput for an input to a run whose close
// event is recorded: nothing is applied after a close, and the task that
// carried it is dropped.
var ErrRunClosed = errors.New("run is closed")

func newRun(base *slog.Logger) *run {
	r := &run{
		disp:       &dispatcher{deadlock: DefaultDeadlockTimeout},
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
	return newRun(logger).replay(reg, recs)
}

// newRun returns an empty run whose code runs under the worker's options.
func (w *Worker) newRun() *run {
	r := newRun(w.log)
	r.disp.deadlock = w.opts.DeadlockTimeout
	r.panicPolicy = w.opts.WorkflowPanicPolicy
	if len(w.opts.LenientInputs) > 0 {
		r.lenient = make(map[string]bool, len(w.opts.LenientInputs))
		for _, n := range w.opts.LenientInputs {
			r.lenient[n] = true
		}
	}
	return r
}

// replay rebuilds the empty run r from its records (see replayRun).
func (r *run) replay(reg *Registry, recs []history.Record) (*run, error) {
	lastDecision := -1
	for i, rec := range recs {
		if rec.Kind == history.KindDecision {
			lastDecision = i
		}
	}
	// Markers are known ahead: the code asks for a version or a side
	// effect's result before the replay reaches the event that recorded it.
	// The maps that grow with the history are sized for it at once.
	inputs, scheduled := 0, 0
	for _, rec := range recs {
		for _, ev := range rec.Events {
			if ev.InputID != "" {
				inputs++
			}
			if ev.Type == history.ActivityScheduled {
				scheduled++
			}
			if ev.Type.IsClosing() {
				r.closedHistory = true
			}
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
	if len(r.applied) == 0 && inputs > 8 {
		r.applied = make(map[string]uint64, inputs)
	}
	if len(r.activities) == 0 && scheduled > 8 {
		r.activities = make(map[int64]*activityState, scheduled)
	}
	// One exec for the whole replay: its coroutine switches then need no
	// goroutine to be scheduled (dispatcher.exec).
	var err error
	if !r.disp.exec(func() {
		for i, rec := range recs {
			r.replaying = i <= lastDecision
			if err = r.applyRecord(reg, rec); err != nil {
				return
			}
		}
	}) {
		err = r.stopped() // a deadlock
	}
	if err != nil {
		r.dispose()
		return nil, err
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
	r.boundIn, r.bound = rec.StreamSeq, r.bound[:0]
	if n := len(rec.Events); rec.Kind == history.KindDecision && n > 0 {
		r.decFirst, r.decLast = rec.Events[0].Seq, rec.Events[n-1].Seq
	}
	// Not deferred: a replay's driver given up on as deadlocked ends with
	// runtime.Goexit, and must not write to the run then (dispatcher.exec).
	err := r.applyEvents(reg, rec)
	r.decFirst, r.decLast = 0, 0
	return err
}

func (r *run) applyEvents(reg *Registry, rec history.Record) error {
	for i := range rec.Events {
		ev := rec.Events[i]
		switch {
		case r.closed:
			// Recorded after the close (by a writer that did not check):
			// nothing after a close counts.
		case r.noCode && ev.Type.IsCommand():
			r.bindRecorded(ev, rec.StreamSeq)
		case ev.Type.IsCommand():
			if err := r.matchCommand(ev, rec.StreamSeq); err != nil {
				return err
			}
		default:
			if err := r.apply(reg, ev); err != nil {
				return err
			}
		}
		if err := r.stopped(); err != nil {
			return err
		}
		r.lastSeq = ev.Seq
	}
	if rec.Kind == history.KindDecision {
		if len(r.pending) > 0 {
			c := r.pending[0]
			if c.panicked != nil {
				return c.panicked
			}
			return r.nondet(CodeExtraCommand, r.lastSeq, "no further command", describeCommandInput(c.event))
		}
		r.decided(rec.StreamSeq)
	}
	r.streamSeq = rec.StreamSeq
	return nil
}

// boundBy returns the event seqs that requirements of the record at
// streamSeq must look at, ascending: the commands it bound, when it is the
// latest record bound and the run is open; nil otherwise (all of them).
func (r *run) boundBy(streamSeq uint64) ([]int64, bool) {
	if streamSeq != r.boundIn || r.closed {
		return nil, false
	}
	return slices.Compact(slices.Sorted(slices.Values(r.bound))), true
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

// digestsInput says whether a command of type t carries an InputDigest.
func digestsInput(t history.EventType) bool {
	return t == history.ActivityScheduled || t == history.ChildWorkflowScheduled || t == history.WorkflowContinuedAsNew
}

// inputDigest is the first 16 hex digits of the sha256 of a command's
// input as compact JSON (history.Event.InputDigest).
func inputDigest(input json.RawMessage) string {
	canon := []byte(input)
	if bytes.ContainsAny(canon, " \t\r\n") {
		// Not known compact (what json.Marshal writes, the usual case):
		// compact it, so that spacing never counts.
		var b bytes.Buffer
		if json.Compact(&b, input) == nil {
			canon = b.Bytes()
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:8])
}

// describeCommandInput is describeCommand with a short form of the
// command's input (its arguments), for a non-determinism's message.
func describeCommandInput(ev history.Event) string {
	switch ev.Type {
	case history.WorkflowFailed:
		if ev.Failure != nil {
			return describeCommand(ev) + " with " + history.Truncate(oneLine(history.FailureText(ev.Failure), 200), ndeInputChars)
		}
	case history.ActivityScheduled, history.ChildWorkflowScheduled, history.WorkflowContinuedAsNew:
		if len(ev.Input) == 0 && ev.InputDigest != "" {
			return describeCommand(ev) + " with input of digest " + ev.InputDigest
		}
		return describeCommand(ev) + " with " + history.Truncate(history.CompactJSON(ev.Input), ndeInputChars)
	}
	return describeCommand(ev)
}

// ndeInputChars bounds an input shown in a non-determinism's message.
const ndeInputChars = 80

// nondet is the non-determinism of kind code at event seq, naming the run
// and the decision being replayed.
func (r *run) nondet(code string, seq int64, recorded, produced string) *NonDeterminismError {
	return &NonDeterminismError{
		Code: code, WorkflowType: r.info.WorkflowType, WorkflowID: r.info.WorkflowID, RunID: r.info.RunID,
		Seq: seq, DecisionFirst: r.decFirst, DecisionLast: r.decLast,
		Recorded: recorded, Produced: produced, ResetTo: r.lastInputSeq,
	}
}

func (r *run) matchCommand(ev history.Event, streamSeq uint64) error {
	if len(r.pending) == 0 {
		return r.nondet(CodeMissingCommand, ev.Seq, describeCommandInput(ev), "no command")
	}
	c := r.pending[0]
	cancels := ev.Type == history.TimerCanceled || ev.Type == history.ActivityCancelRequested || ev.Type == history.ChildWorkflowCancelRequested
	if c.event.Type != ev.Type || c.event.Name != ev.Name || cancels && c.event.Cause != ev.Cause {
		if c.panicked != nil {
			return c.panicked
		}
		return r.nondet(CodeCommandMismatch, ev.Seq, describeCommandInput(ev), describeCommandInput(c.event))
	}
	if ev.InputDigest != "" && !r.lenient[ev.Name] && inputDigest(c.event.Input) != ev.InputDigest ||
		ev.Type == history.TimerStarted && ev.Duration > 0 && c.event.Duration != ev.Duration {
		return r.nondet(CodeInputMismatch, ev.Seq, describeCommandInput(ev), describeCommandInput(c.event))
	}
	r.pending = r.pending[1:]
	r.bindCommand(c, ev, streamSeq)
	return nil
}

func (r *run) bindCommand(c *command, ev history.Event, streamSeq uint64) {
	if streamSeq != r.boundIn {
		r.boundIn, r.bound = streamSeq, r.bound[:0]
	}
	switch ev.Type {
	case history.ActivityScheduled, history.TimerStarted, history.ChildWorkflowScheduled:
		r.bound = append(r.bound, ev.Seq)
	case history.TimerCanceled, history.ActivityCancelRequested, history.ChildWorkflowCancelRequested:
		r.bound = append(r.bound, ev.Cause)
	}
	switch ev.Type {
	case history.ActivityScheduled:
		// The command is done with its own event once bound: it holds the
		// recorded one (no second copy per activity: replay allocates less).
		c.event = ev
		r.activities[ev.Seq] = &activityState{name: ev.Name, future: c.future, scheduled: &c.event, scheduledIn: streamSeq, unregister: c.unregister}
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
		ch = &channel{name: name, r: r, signal: true}
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

// applyInput applies one new input event (one that arrived on a task or
// from the run's signal subject, not yet recorded) and runs the code until
// it blocks. An input that a closed run cannot take (ErrRunClosed) or that
// does not fit the run (ErrInvalidInput) is refused before anything of the
// run changes.
func (r *run) applyInput(reg *Registry, ev history.Event) error {
	if err := r.checkInput(ev); err != nil {
		return err
	}
	return r.apply(reg, ev)
}

// apply applies one input event, new or recorded, and runs the code until
// it blocks. Recorded inputs are taken as the history has them: an outcome
// that answers nothing is ignored, the same way on every replay.
func (r *run) apply(reg *Registry, ev history.Event) error {
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
		ch.buf = append(ch.buf, chanValue{v: ev.Input, eventSeq: ev.Seq})
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

// checkInput says whether a new input fits the run, without changing it.
// Inputs arrive on task subjects, where anyone allowed to publish can put
// anything; only what this engine's own writers send fits:
//
//   - an activity outcome (act:<seq>:done) or failed attempt
//     (act:<seq>:attempt:<n>) answers the ActivityScheduled at its cause,
//     names that activity, and has an attempt >= 1 (a failed attempt is
//     retried only below the policy's MaximumAttempts);
//   - a TimerFired (timer:<seq>) answers the TimerStarted at its cause;
//   - a child's start or close (child:<seq>:...) answers the
//     ChildWorkflowScheduled at its cause, and names that child;
//   - a WorkflowCancelRequested has input id "cancel"; a WorkflowTimedOut
//     ("timeout") needs a run started with an execution timeout;
//   - a SignalReceived (sig:<stream seq>) comes from the signal subject.
//
// Every other type (a start, a termination, a command...) is written to
// the history by its writer, never applied from a task.
func (r *run) checkInput(ev history.Event) error {
	if r.closed {
		return fmt.Errorf("%w: %s (input %q) after %s (event %d)", ErrRunClosed, ev.Type, ev.InputID, r.closeEvent.Type, r.closeEvent.Seq)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (input %q) for workflow %q run %s: "+format,
			append([]any{ErrInvalidInput, ev.Type, ev.InputID, r.info.WorkflowID, r.info.RunID}, args...)...)
	}
	if ev.InputID == "" {
		return bad("no input id")
	}
	wantID := func(id string, prefix bool) error {
		if ev.InputID == id || prefix && strings.HasPrefix(ev.InputID, id) {
			return nil
		}
		return bad("the input id does not match its cause (want %q)", id)
	}
	switch ev.Type {
	case history.ActivityCompleted, history.ActivityFailed, history.ActivityAttemptFailed:
		a := r.activities[ev.Cause]
		if a == nil {
			return bad("event %d is not an ActivityScheduled of this run", ev.Cause)
		}
		if ev.Name != "" && ev.Name != a.name {
			return bad("event %d scheduled activity %s, not %s", ev.Cause, a.name, ev.Name)
		}
		if ev.Attempt < 1 {
			return bad("attempt %d", ev.Attempt)
		}
		if a.done || ev.Attempt <= a.attempts {
			// A late report: the activity has its outcome, or this attempt
			// (or a later one) is recorded as failed already, e.g. declared
			// lost when its task came back to another worker: the next
			// attempt's report counts. Nothing to record.
			return fmt.Errorf("%w: %s attempt %d of event %d (the activity is done or attempt %d is recorded)", errObsoleteInput, ev.Type, ev.Attempt, ev.Cause, a.attempts)
		}
		if ev.Type != history.ActivityAttemptFailed {
			return wantID(fmt.Sprintf("act:%d:done", ev.Cause), false)
		}
		if o := a.scheduled.ActivityOptions; o != nil {
			if p := o.RetryPolicy.Normalize(); p.MaximumAttempts > 0 && ev.Attempt >= p.MaximumAttempts {
				return bad("attempt %d of at most %d is never retried", ev.Attempt, p.MaximumAttempts)
			}
		}
		return wantID(fmt.Sprintf("act:%d:attempt:", ev.Cause), true)
	case history.TimerFired:
		if r.timers[ev.Cause] == nil {
			return bad("event %d is not a TimerStarted of this run", ev.Cause)
		}
		return wantID(fmt.Sprintf("timer:%d", ev.Cause), false)
	case history.ChildWorkflowStarted, history.ChildWorkflowStartFailed, history.ChildWorkflowCompleted, history.ChildWorkflowFailed:
		cs := r.children[ev.Cause]
		if cs == nil {
			return bad("event %d is not a ChildWorkflowScheduled of this run", ev.Cause)
		}
		if cs.done || ev.Type == history.ChildWorkflowStarted && cs.started.ready {
			// The child's outcome (or its start) is recorded already:
			// a late note, nothing to record.
			return fmt.Errorf("%w: %s of child event %d (already recorded)", errObsoleteInput, ev.Type, ev.Cause)
		}
		if ev.Child != nil && ev.Child.WorkflowID != cs.ref.WorkflowID {
			return bad("event %d scheduled child %q, not %q", ev.Cause, cs.ref.WorkflowID, ev.Child.WorkflowID)
		}
		return wantID(fmt.Sprintf("child:%d:", ev.Cause), true)
	case history.WorkflowCancelRequested:
		return wantID("cancel", false)
	case history.WorkflowTimedOut:
		if !r.hasTimeout {
			return bad("the run has no execution timeout")
		}
		return wantID("timeout", false)
	case history.SignalReceived:
		if ev.Name == "" || ev.SignalSeq == 0 {
			return bad("a signal needs a name and the stream seq it was accepted at")
		}
		return wantID(fmt.Sprintf("sig:%d", ev.SignalSeq), false)
	}
	return bad("no task carries this event type")
}

// checkTask says whether a workflow task fits the run it names, before
// anything of it is applied: the run's workflow ID and run ID must be the
// task's, and an event the task carries must be one a task may carry
// (signals are read from the run's signal subject, never taken from a
// task). A start task carries the run's own WorkflowStarted.
func (r *run) checkTask(task workflowTask) error {
	if task.WorkflowID != r.info.WorkflowID || task.RunID != r.info.RunID {
		return fmt.Errorf("%w: the task names workflow %q run %s, the history is workflow %q run %s",
			ErrInvalidInput, task.WorkflowID, task.RunID, r.info.WorkflowID, r.info.RunID)
	}
	switch ev := task.Event; {
	case ev == nil:
	case ev.Type == history.WorkflowStarted || task.RecordSeq != 0:
		if ev.Type != history.WorkflowStarted || ev.WorkflowID != task.WorkflowID || ev.RunID != task.RunID {
			return fmt.Errorf("%w: the start task of workflow %q run %s carries %s of workflow %q run %s",
				ErrInvalidInput, task.WorkflowID, task.RunID, ev.Type, ev.WorkflowID, ev.RunID)
		}
	case ev.Type == history.SignalReceived:
		return fmt.Errorf("%w: a task carries a SignalReceived for workflow %q run %s (signals are read from the run's signal subject)",
			ErrInvalidInput, task.WorkflowID, task.RunID)
	}
	return nil
}

// bindRecorded takes a recorded command as the history has it, for a
// closed run replayed without code: the state its close requires
// (activities, timers and children still open) is rebuilt from the events.
func (r *run) bindRecorded(ev history.Event, streamSeq uint64) {
	c := &command{event: ev, future: &future{what: describeCommand(ev)}, unregister: func() {}}
	switch ev.Type {
	case history.TimerStarted:
		t := &timerState{future: c.future, unregister: func() {}}
		c.onBind = func(seq int64) { r.timers[seq] = t }
	case history.ChildWorkflowScheduled:
		if ev.Child != nil {
			cs := &childState{result: c.future, started: &future{}, ref: *ev.Child, policy: ParentClosePolicy(ev.ParentClosePolicy)}
			c.onBind = func(seq int64) { r.children[seq] = cs }
		}
	}
	r.bindCommand(c, ev, streamSeq)
	switch ev.Type {
	case history.TimerCanceled:
		if t := r.timers[ev.Cause]; t != nil {
			t.done = true
		}
	case history.ActivityCancelRequested:
		if a := r.activities[ev.Cause]; a != nil {
			a.done = true
		}
	}
}

func (r *run) start(reg *Registry, ev history.Event) error {
	r.info = Info{WorkflowID: ev.WorkflowID, RunID: ev.RunID, WorkflowType: ev.Name, TaskQueue: ev.TaskQueue, StartTime: ev.Time}
	r.parent = ev.Parent
	r.hasTimeout = ev.WorkflowTimeout > 0
	sig, ok := reg.workflow(ev.Name)
	if !ok && r.closedHistory {
		// A closed run needs no code: its events say all there is to know
		// (what its close requires, what it answers).
		r.noCode = true
		return nil
	}
	if !ok {
		return unknownType(reg, ev.Name, r.info.TaskQueue)
	}
	r.started = true
	ctx := Context(r.root)
	input := ev.Input
	r.disp.spawn("main", func() {
		args, err := sig.decodeArgs("workflow", input)
		if err != nil && r.blocksOnPanic() {
			msg := err.Error()
			if app, ok := err.(*ApplicationError); ok {
				msg = app.Message
			}
			r.blockOnCode("the workflow's arguments do not decode into its parameters: "+msg, "")
			return
		}
		if err != nil {
			r.finish(nil, err)
			return
		}
		out := sig.fn.Call(append([]reflect.Value{reflect.ValueOf(ctx)}, args...))
		r.disp.enter() // a coroutine abandoned as deadlocked ends here: its run is gone
		result, err := sig.splitResult("workflow", out)
		r.finish(result, err)
	})
	r.runCode()
	return nil
}

// unknownType is the error of a run whose workflow type reg does not
// register.
// unknownType is the error of a run whose type this worker lacks; queue
// (empty offline) is the run's task queue, named so the user knows where a
// worker that registers the type must listen.
func unknownType(reg *Registry, name, queue string) error {
	if queue == "" {
		return fmt.Errorf("%w %q: this worker registers %v", ErrUnknownWorkflowType, name, reg.WorkflowNames())
	}
	return fmt.Errorf("%w %q on task queue %q: this worker registers %v; start a worker that registers %q on task queue %q, or start the run on the task queue of a worker that does (dfctl start --task-queue)", ErrUnknownWorkflowType, name, queue, reg.WorkflowNames(), name, queue)
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
	if r.codeErr != nil {
		return
	}
	if p := r.disp.runUntilBlocked(); p != nil {
		if r.blocksOnPanic() {
			r.blockOnCode("panic: "+p.Value, p.Stack)
			return
		}
		r.finish(nil, p)
		if n := len(r.pending); n > 0 && r.pending[n-1].event.Type == history.WorkflowFailed {
			r.pending[n-1].panicked = r.codeError("panic: "+p.Value, p.Stack)
		}
	}
}

// blocksOnPanic says whether a panic (or a decode error) in the code blocks
// the run: under BlockWorkflow, unless the history being replayed is
// closed (a run that needs no more decisions, judged by a replay check: the
// panic becomes the WorkflowFailed it was before, which the recorded close
// matches; where the history records anything else, the verdict is the
// panic, DF1005: command.panicked).
func (r *run) blocksOnPanic() bool {
	return r.panicPolicy == BlockWorkflow && !r.closedHistory
}

// blockOnCode blocks the run on a panic (or a decode error) in its code
// (DF1005, BlockWorkflow): the first one is kept; stopped reports it.
func (r *run) blockOnCode(what, stack string) {
	if r.codeErr != nil {
		return
	}
	r.codeErr = r.codeError(what, stack)
}

// codeError is the DF1005 error of a panic (or a decode error).
func (r *run) codeError(what, stack string) *WorkflowCodeError {
	return &WorkflowCodeError{
		Code: CodePanic, WorkflowType: r.info.WorkflowType, RunID: r.info.RunID,
		Message: oneLine(what, 300) + panicPlace(stack),
		Hint:    "fix the code and deploy it under the same workflow type: the run is retried and continues from its history (or set WorkerOptions.WorkflowPanicPolicy to FailWorkflow to fail such runs)",
		Stack:   stack,
	}
}

// oneLine returns s on one line, cut to about n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// panicPlace names the first frame of workflow code in a panic's stack
// (" at file.go:12"), skipping the runtime and the engine's own frames.
func panicPlace(stack string) string {
	lines := strings.Split(stack, "\n")
	for i := 0; i+1 < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if fn == "" || strings.HasPrefix(lines[i], "\t") || strings.HasPrefix(fn, "goroutine ") || strings.HasPrefix(fn, "created by ") ||
			strings.HasPrefix(fn, "runtime") || strings.HasPrefix(fn, "panic(") ||
			strings.HasPrefix(fn, "github.com/durablefuture/durablefuture/pkg/engine.") ||
			strings.HasPrefix(fn, "reflect.") {
			continue
		}
		loc := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(loc, " +0x"); j > 0 {
			loc = loc[:j]
		}
		if j := strings.LastIndex(loc, "/"); j >= 0 {
			loc = loc[j+1:]
		}
		return " (at " + loc + ")"
	}
	return ""
}

// stopped says why the run's code cannot go on, if it cannot: it met a
// recorded version it does not support (a non-determinism), or it broke a
// rule of workflow code (a deadlock, a workflow call from a goroutine
// outside workflow.Go; see dispatcher). The worker blocks the run.
func (r *run) stopped() error {
	if r.nde != nil {
		return r.nde
	}
	if r.codeErr != nil {
		return r.codeErr
	}
	if f := r.disp.failed(); f != nil {
		e := *f
		e.WorkflowType, e.RunID = r.info.WorkflowType, r.info.RunID
		return &e
	}
	return nil
}

// takeCommands turns the pending commands into events numbered from
// r.lastSeq+1 for a new decision.
func (r *run) takeCommands(now time.Time) []history.Event {
	evs := make([]history.Event, 0, len(r.pending))
	for _, c := range r.pending {
		ev := c.event
		if digestsInput(ev.Type) {
			ev.InputDigest = inputDigest(ev.Input)
		}
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
	r.boundIn, r.bound = rec.StreamSeq, r.bound[:0]
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
