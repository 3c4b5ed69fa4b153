package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// workflowTask is the message that asks a workflow worker to advance a run:
// the start of a run (Event nil: the WorkflowStarted event is already in the
// history) or an input event to apply, under a stable input id.
type workflowTask struct {
	V          int            `json:"v"`
	WorkflowID string         `json:"workflow_id"`
	RunID      string         `json:"run_id"`
	InputID    string         `json:"input_id"`
	Event      *history.Event `json:"event,omitempty"`
	// RecordSeq, when set, says Event is already in the history, as the only
	// event of the input record at this stream sequence (the start of a run):
	// a worker without the run in memory builds it from the task alone
	// instead of reading the history.
	RecordSeq uint64 `json:"record_seq,omitempty"`
}

// activityTask asks an activity worker to run one activity.
type activityTask struct {
	V                 int                      `json:"v"`
	WorkflowID        string                   `json:"workflow_id"`
	RunID             string                   `json:"run_id"`
	WorkflowType      string                   `json:"workflow_type"`
	WorkflowTaskQueue string                   `json:"workflow_task_queue"`
	ScheduledSeq      int64                    `json:"scheduled_seq"`
	Name              string                   `json:"name"`
	Input             json.RawMessage          `json:"input"`
	Options           *history.ActivityOptions `json:"options"`
	ScheduledAt       time.Time                `json:"scheduled_at"`
}

const startInputID = "start"

// signalsInputID marks a task that says "signals are waiting for this run";
// the signals themselves are read, in the order they were accepted, from
// the run's signal subject.
const signalsInputID = "signals"

// resetInputID is the first task of a run made by a reset: the worker
// loads the copied history and re-publishes what it waits for.
const resetInputID = "reset"

// testHookAfterDecision, when it returns true, makes a worker stop right
// after committing a decision, before publishing what it requires or acking
// its input: the crash window of invariant 3.
var testHookAfterDecision func() bool

// maxDecisionAttempts bounds the retries of a decision that lost a race
// with another writer of the same run.
const maxDecisionAttempts = 8

// processWorkflowTask advances one run by one input. The order of writes is
// what keeps every crash window safe: the decision record is appended (with
// the expected last sequence of the run's subject), then the tasks it
// requires are published with stable message ids, and only then is the
// input acked. A redelivered input whose decision is already in the history
// re-publishes that decision's requirements and is acked.
func (w *Worker) processWorkflowTask(ctx context.Context, msg jetstream.Msg) {
	var task workflowTask
	if err := json.Unmarshal(msg.Data(), &task); err != nil || task.RunID == "" {
		w.log.Error("workflow task: malformed message dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	log := w.log.With("workflow_id", task.WorkflowID, "run_id", task.RunID, "input", task.InputID)
	subj, err := w.store.Log.Subject(task.WorkflowID, task.RunID)
	if err != nil {
		log.Error("workflow task: bad workflow id, dropped", "err", err)
		_ = msg.Term()
		return
	}
	e := w.cache.acquire(task.RunID)
	defer w.cache.release(e)

	for attempt := 0; attempt < maxDecisionAttempts; attempt++ {
		if e.r == nil && attempt == 0 && task.RecordSeq != 0 && task.Event != nil {
			// A fresh run: if the history holds more than the start, the
			// append below conflicts and the run is loaded in full.
			e.r = newRun(w.log)
			rec := history.Record{Kind: history.KindInput, Events: []history.Event{*task.Event}, StreamSeq: task.RecordSeq}
			if err := e.r.applyRecord(w.reg, rec); err != nil {
				e.drop()
			}
		}
		if e.r == nil {
			r, recs, err := w.loadRun(ctx, subj)
			switch {
			case errors.Is(err, history.ErrNotFound):
				log.Warn("workflow task for a run without history, dropped")
				_ = msg.Term()
				return
			case isBlocking(err):
				w.block(ctx, msg, task, subj, recs, err)
				return
			case err != nil:
				log.Warn("workflow task: load history", "err", err)
				_ = msg.NakWithDelay(time.Second)
				return
			}
			e.r = r
		}
		r := e.r
		if task.InputID == resetInputID && !r.closed && !r.resumed {
			// Re-publish what the copied history waits for, then decide on
			// whatever the copied inputs make the code do now.
			if err := w.resumeAll(ctx, r); err != nil {
				log.Warn("workflow task: resume a reset run", "err", err)
				_ = msg.NakWithDelay(time.Second)
				return
			}
			r.resumed = true
		}
		if r.closed {
			w.requirements(ctx, r, r.streamSeq)
			_ = msg.Ack()
			e.drop()
			return
		}

		now := time.Now().UTC()
		var candidates []history.Event
		if task.Event != nil && task.RecordSeq == 0 {
			ev := *task.Event
			ev.InputID = task.InputID
			candidates = append(candidates, ev)
		}
		if task.InputID == signalsInputID {
			sigs, err := w.pendingSignals(ctx, task, r)
			if err != nil {
				log.Warn("workflow task: read signals", "err", err)
				_ = msg.NakWithDelay(time.Second)
				return
			}
			candidates = append(candidates, sigs...)
		}
		var inputs []history.Event
		for _, ev := range candidates {
			if _, done := r.applied[ev.InputID]; done {
				continue
			}
			ev.Time = now
			r.lastSeq++
			ev.Seq = r.lastSeq
			if err := r.applyInput(w.reg, ev); err != nil {
				e.drop()
				log.Warn("workflow task: apply input", "err", err)
				_ = msg.NakWithDelay(time.Second)
				return
			}
			inputs = append(inputs, ev)
		}
		if r.nde != nil {
			// The code met a recorded version it no longer supports.
			nde := r.nde
			e.drop()
			recs, err := w.store.Log.ReadFrom(ctx, subj, 0)
			if err != nil || len(recs) == 0 {
				_ = msg.NakWithDelay(time.Second)
				return
			}
			w.block(ctx, msg, task, subj, recs, nde)
			return
		}
		cmds := r.takeCommands(now)
		if len(inputs) == 0 && len(cmds) == 0 {
			// Redelivery of an input whose decision is already recorded.
			if seq := r.applied[task.InputID]; seq != 0 {
				if err := w.requirements(ctx, r, seq); err != nil {
					_ = msg.NakWithDelay(time.Second)
					return
				}
			}
			_ = msg.Ack()
			return
		}
		rec := history.Record{Kind: history.KindDecision, Events: append(inputs, cmds...)}
		_, err := w.store.Log.Append(ctx, subj, r.streamSeq, &rec)
		if errors.Is(err, history.ErrConflict) {
			// Another worker advanced this run: our state is stale.
			e.drop()
			continue
		}
		if err != nil {
			e.drop()
			log.Warn("workflow task: append decision", "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		r.commit(rec)
		if r.blockedMark && !r.closed {
			r.blockedMark = false
			if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, ""); err != nil {
				log.Warn("runs index: clear blocked", "err", err)
			}
		}
		if testHookAfterDecision != nil && testHookAfterDecision() {
			e.drop() // a crash here loses the process's memory, not the decision
			return
		}
		if err := w.requirements(ctx, r, rec.StreamSeq); err != nil {
			log.Warn("workflow task: publish what the decision requires", "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		_ = msg.Ack()
		if r.closed {
			e.drop()
		}
		return
	}
	log.Warn("workflow task: lost the race for the run too often, retrying later")
	_ = msg.NakWithDelay(time.Second)
}

// signalMessage is what a client stores on a run's signal subject.
type signalMessage struct {
	V     int             `json:"v"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input,omitempty"`
}

// pendingSignals reads the signals accepted for the run after the last one
// it applied, as SignalReceived inputs.
func (w *Worker) pendingSignals(ctx context.Context, task workflowTask, r *run) ([]history.Event, error) {
	subj, err := w.store.Log.SignalSubject(task.WorkflowID, task.RunID)
	if err != nil {
		return nil, err
	}
	msgs, err := w.store.Log.ReadRaw(ctx, subj, r.lastSignalSeq)
	if err != nil {
		return nil, err
	}
	evs := make([]history.Event, 0, len(msgs))
	for _, m := range msgs {
		var sm signalMessage
		if err := json.Unmarshal(m.Data, &sm); err != nil || sm.Name == "" {
			w.log.Warn("malformed signal skipped", "subject", subj, "seq", m.Sequence, "err", err)
			continue
		}
		if len(sm.Input) == 0 {
			sm.Input = json.RawMessage("null")
		}
		evs = append(evs, history.Event{Type: history.SignalReceived, Name: sm.Name, Input: sm.Input,
			SignalSeq: m.Sequence, InputID: fmt.Sprintf("sig:%d", m.Sequence)})
	}
	return evs, nil
}

func isBlocking(err error) bool {
	var nde *NonDeterminismError
	return errors.As(err, &nde) || errors.Is(err, ErrUnknownWorkflowType)
}

// loadRun rebuilds a run from its full history.
func (w *Worker) loadRun(ctx context.Context, subj string) (*run, []history.Record, error) {
	recs, err := w.store.Log.ReadFrom(ctx, subj, 0)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, history.ErrNotFound
	}
	r, err := replayRun(w.reg, w.log, recs)
	if err != nil {
		return nil, recs, err
	}
	last := recs[len(recs)-1].Events
	r.blockedMark = len(last) > 0 && last[len(last)-1].Type == history.WorkflowTaskFailed
	return r, recs, nil
}

// requirements publishes what the decision record at streamSeq requires:
// the tasks of the activities it scheduled that have not completed, and the
// run's closing in the index.
func (w *Worker) requirements(ctx context.Context, r *run, streamSeq uint64) error {
	var seqs []int64
	for seq, a := range r.activities {
		if a.scheduledIn == streamSeq && !a.done {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	msgs := make([]*nats.Msg, 0, len(seqs))
	for _, seq := range seqs {
		msgs = append(msgs, w.activityMsg(r, seq))
	}
	// Timers started by this decision: a scheduled message each, which the
	// server publishes as a TimerFired input when due (also after downtime).
	// Re-publishing replaces the schedule, so a redelivery is harmless.
	var cancelled []int64
	for seq, t := range r.timers {
		switch {
		case t.startedIn == streamSeq && !t.done:
			msgs = append(msgs, w.timerMsg(r, seq, t))
		case t.canceledIn == streamSeq && !r.closed:
			cancelled = append(cancelled, seq)
		}
	}
	if err := w.publishAll(ctx, msgs); err != nil {
		return err
	}
	for _, seq := range cancelled {
		if err := w.store.tasks.Purge(ctx, jetstream.WithPurgeSubject(w.store.timerSubject(r.info.RunID, seq))); err != nil {
			return fmt.Errorf("cancel timer %d: %w", seq, err)
		}
	}
	if r.closed && (len(r.timers) > 0 || r.hasTimeout) {
		// A closed run needs none of its schedules: timers, execution timeout.
		// (Runs that never had one skip the purge: it is a stream request.)
		if err := w.store.purgeSchedules(ctx, r.info.RunID); err != nil {
			return err
		}
	}
	// Activities cancelled by this decision, or left running by a closed
	// run: tell the activity workers (core NATS, best effort; the outcome
	// of such an attempt is ignored anyway).
	for seq, a := range r.activities {
		if a.cancelIn == streamSeq || r.closed && !a.done {
			_ = w.store.NC.Publish(w.store.activityCancelSubject(r.info.RunID, seq), nil)
		}
	}
	if err := w.childRequirements(ctx, r, streamSeq); err != nil {
		return err
	}
	if r.closed && r.closeEvent.Type == history.WorkflowContinuedAsNew {
		// The chain goes on: the index moves to the next run, which will
		// tell the parent (if any) when the chain ends.
		return w.store.continueAsNew(ctx, r, r.closeEvent)
	}
	if r.closed {
		if err := w.store.closeRun(ctx, r.info.WorkflowID, r.info.RunID, r.closeEvent); err != nil {
			return err
		}
		self := history.RunRef{WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, TaskQueue: r.info.TaskQueue}
		if err := w.store.notifyParent(ctx, r.parent, self, r.closeEvent); err != nil {
			return err
		}
	}
	return nil
}

// childRequirements starts the children this decision scheduled, asks
// those it cancelled to stop, and, when the run has closed, applies the
// parent close policy to the children still open.
func (w *Worker) childRequirements(ctx context.Context, r *run, streamSeq uint64) error {
	seqs := make([]int64, 0, len(r.children))
	for seq := range r.children {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var open []*childState
	for _, seq := range seqs {
		cs := r.children[seq]
		if cs.done {
			continue
		}
		if cs.scheduledIn == streamSeq {
			if err := w.startChild(ctx, r, seq, cs); err != nil {
				return err
			}
		}
		if cs.cancelIn == streamSeq {
			err := w.store.CancelWorkflow(ctx, cs.ref.WorkflowID, cs.ref.RunID, "cancelled by its parent")
			if err != nil && !errors.Is(err, ErrWorkflowClosed) && !errors.Is(err, ErrWorkflowNotFound) {
				return err
			}
		}
		open = append(open, cs)
	}
	if r.closed {
		return w.store.closeChildren(ctx, open)
	}
	return nil
}

func (w *Worker) activityMsg(r *run, seq int64) *nats.Msg {
	ev := r.activities[seq].scheduled
	t := activityTask{
		V: 1, WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, WorkflowType: r.info.WorkflowType,
		WorkflowTaskQueue: r.info.TaskQueue, ScheduledSeq: seq, Name: ev.Name, Input: ev.Input,
		Options: ev.ActivityOptions, ScheduledAt: ev.Time,
	}
	return newMsg(w.store.activityTaskSubject(ev.ActivityOptions.TaskQueue), fmt.Sprintf("%s:act:%d", r.info.RunID, seq), t)
}

// resumeAll publishes everything a run copied by a reset is waiting for:
// its outstanding activities, timers and children, which the old run had
// asked for under its own run ID.
func (w *Worker) resumeAll(ctx context.Context, r *run) error {
	var msgs []*nats.Msg
	for seq, a := range r.activities {
		if !a.done {
			msgs = append(msgs, w.activityMsg(r, seq))
		}
	}
	for seq, t := range r.timers {
		if !t.done && t.started.FireAt != nil {
			msgs = append(msgs, w.timerMsg(r, seq, t))
		}
	}
	if err := w.publishAll(ctx, msgs); err != nil {
		return err
	}
	for seq, cs := range r.children {
		if !cs.done {
			if err := w.startChild(ctx, r, seq, cs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Worker) timerMsg(r *run, seq int64, t *timerState) *nats.Msg {
	task := workflowTask{V: 1, WorkflowID: r.info.WorkflowID, RunID: r.info.RunID,
		InputID: fmt.Sprintf("timer:%d", seq), Event: &history.Event{Type: history.TimerFired, Cause: seq}}
	m := newMsg(w.store.timerSubject(r.info.RunID, seq), "", task)
	m.Header.Set(jetstream.ScheduleHeader, "@at "+t.started.FireAt.UTC().Format(time.RFC3339Nano))
	m.Header.Set(jetstream.ScheduleTargetHeader, w.store.workflowTaskSubject(r.info.TaskQueue))
	return m
}

// block records why a run cannot advance (non-determinism, unknown type) as
// a WorkflowTaskFailed event, once, and in the runs index; the input is
// left for redelivery so the run continues by itself once a worker that can
// run it is there.
func (w *Worker) block(ctx context.Context, msg jetstream.Msg, task workflowTask, subj string, recs []history.Record, cause error) {
	why := cause.Error()
	w.log.Error("workflow task failed: run blocked", "workflow_id", task.WorkflowID, "run_id", task.RunID, "err", why)
	last := recs[len(recs)-1]
	lastEv := last.Events[len(last.Events)-1]
	if lastEv.Type != history.WorkflowTaskFailed || lastEv.Failure == nil || lastEv.Failure.Message != why {
		typ := "NonDeterminismError"
		if errors.Is(cause, ErrUnknownWorkflowType) {
			typ = "UnknownWorkflowType"
		}
		rec := history.Record{Kind: history.KindInput, Events: []history.Event{{
			Seq: lastEv.Seq + 1, Time: time.Now().UTC(), Type: history.WorkflowTaskFailed,
			Failure: &history.Failure{Message: why, Type: typ}, Identity: w.opts.Identity,
		}}}
		if _, err := w.store.Log.Append(ctx, subj, last.StreamSeq, &rec); err != nil && !errors.Is(err, history.ErrConflict) {
			w.log.Warn("record workflow task failure", "err", err)
		}
	}
	if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, why); err != nil {
		w.log.Warn("runs index: mark blocked", "err", err)
	}
	delay := 2 * time.Second
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 3 {
		delay = time.Duration(min(md.NumDelivered, 60)) * time.Second
	}
	_ = msg.NakWithDelay(delay)
}
