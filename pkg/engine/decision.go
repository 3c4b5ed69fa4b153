package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// Before are inputs to apply before Event, each under its own input id:
	// an activity's report carries the attempts it found lost, so they are
	// recorded before its outcome even if their own reports come later.
	Before []history.Event `json:"before,omitempty"`
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
	// ScheduledIn is the stream sequence of the decision record that
	// scheduled the activity: a redelivered task reads the run's history
	// after it to learn whether the activity already has an outcome.
	ScheduledIn uint64 `json:"scheduled_in,omitempty"`
	// AttemptsBefore is the number of attempts made before this task was
	// published: a task re-published after a late outcome (lateOutcome)
	// numbers its deliveries from AttemptsBefore+1.
	AttemptsBefore int `json:"attempts_before,omitempty"`
}

// attempt is the number of the attempt a delivery of the task makes.
func (t *activityTask) attempt(msg jetstream.Msg) int {
	return t.AttemptsBefore + int(numDelivered(msg))
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

// processWorkflowTask advances one run by one input and then settles the
// task message: handleWorkflowTask says what should become of it, and
// settle is the one place that acks, naks or terms it.
//
// An input of a run another handler of this worker holds (the completions
// of a fan-out arrive together) is handed to that handler instead
// (runCache.offer): it applies the input in its next decision, with its
// own, and settles it. Inputs handed over too late for that decision come
// back to the handler when it lets the run go, and it handles them next.
func (w *Worker) processWorkflowTask(ctx context.Context, msg jetstream.Msg) {
	var task workflowTask
	if err := decodeWorkflowTask(msg.Data(), &task); err != nil || task.RunID == "" {
		w.settle(msg, drop(fmt.Sprintf("malformed workflow task on %s: %v", msg.Subject(), err)), w.log)
		return
	}
	if mergeable(&task) && w.cache.offer(task.RunID, queuedTask{msg: msg, task: task}) {
		return
	}
	var pre []queuedTask
	for {
		b := &batch{pre: pre}
		log := withLazy(w.log, "workflow_id", task.WorkflowID, "run_id", task.RunID, "input", task.InputID)
		var since time.Time
		var seen *Info
		if w.opts.Observer != nil {
			since, seen = time.Now(), &Info{}
		}
		o := w.handleWorkflowTask(ctx, msg, task, log, seen, b)
		w.settle(msg, o, log)
		if seen != nil {
			w.observeTask(seen, o, since) // observe.go
		}
		for i, q := range b.taken {
			qo, ok := b.own[i]
			if !ok {
				qo = o.forMerged()
			}
			w.settle(q.msg, qo, withLazy(w.log, "workflow_id", q.task.WorkflowID, "run_id", q.task.RunID, "input", q.task.InputID))
			if seen != nil {
				w.observeTask(seen, qo, since)
			}
		}
		if len(b.left) == 0 {
			return
		}
		msg, task, pre = b.left[0].msg, b.left[0].task, b.left[1:]
	}
}

// mergeable says whether a task's input may be applied in another task's
// decision: an outcome (of an activity, timer or child) for a run that
// exists, not a start, signals, a cancel or a reset, which have their own
// steps.
func mergeable(t *workflowTask) bool {
	if t.Event == nil || t.RecordSeq != 0 {
		return false
	}
	switch t.Event.Type {
	case history.ActivityCompleted, history.ActivityFailed, history.ActivityAttemptFailed,
		history.TimerFired, history.ChildWorkflowStarted, history.ChildWorkflowStartFailed,
		history.ChildWorkflowCompleted, history.ChildWorkflowFailed:
		return true
	}
	return false
}

// batch is what one handler of a workflow task did with the inputs other
// tasks handed to it: pre were handed back to the caller by the previous
// handler of the run, taken went into its decisions (own: the verdict on
// one of them when it differs from the decision's), left were handed to
// it too late and are the caller's to handle next.
type batch struct {
	pre        []queuedTask
	taken      []queuedTask
	takenBytes int
	own        map[int]outcome
	left       []queuedTask
}

func (b *batch) setOwn(i int, o outcome) {
	if b.own == nil {
		b.own = map[int]outcome{}
	}
	b.own[i] = o
}

// forMerged is the verdict on an input applied in the decision whose own
// verdict is o: done or closed alike; a retry alike (logged once, for the
// decision); a drop names the decision's own input, so the others come
// back at once to be judged alone.
func (o outcome) forMerged() outcome {
	switch o.kind {
	case taskRetry:
		return outcome{kind: taskRetry, delay: o.delay, quiet: true}
	case taskDrop:
		return outcome{kind: taskRetry, quiet: true}
	}
	return o
}

// handleWorkflowTask advances one run by one input. The order of writes is
// what keeps every crash window safe: the decision record is appended (with
// the expected last sequence of the run's subject), then the tasks it
// requires are published with stable message ids, and only then is the
// input acked (by the caller, on taskDone). A redelivered input whose
// decision is already in the history re-publishes that decision's
// requirements and is done.
//
// seen, when not nil (a worker with an Observer), is set to the run's info
// once the run is known.
//
// b (may be nil) receives the inputs of other tasks of the run that this
// decision applied too (processWorkflowTask).
func (w *Worker) handleWorkflowTask(ctx context.Context, msg jetstream.Msg, task workflowTask, log *slog.Logger, seen *Info, b *batch) outcome {
	if b == nil {
		b = &batch{}
	}
	subj, err := w.store.Log.Subject(task.WorkflowID, task.RunID)
	if err != nil {
		b.left = b.pre
		return drop(fmt.Sprintf("bad workflow id in task: %v", err))
	}
	e := w.cache.acquireDecider(task.RunID, b.pre)
	defer func() { b.left = w.cache.releaseDecider(e) }()

	fresh := false // the run in hand was read from the history by this call
	for attempt := 0; attempt < maxDecisionAttempts; attempt++ {
		if e.r == nil && attempt == 0 && task.RecordSeq != 0 && task.Event != nil {
			// A fresh run: if the history holds more than the start, the
			// append below conflicts and the run is loaded in full.
			e.r = w.newRun()
			rec := history.Record{Kind: history.KindInput, Events: []history.Event{*task.Event}, StreamSeq: task.RecordSeq}
			if err := e.r.applyRecord(w.reg, rec); err != nil {
				e.drop()
			}
		} else if e.r == nil && attempt == 0 && isStartTask(&task) {
			// A start task: the run is built from its start record (one
			// read), after completing the start if its client stopped
			// half way (start.go).
			r, o := w.beginRun(ctx, msg, task, subj)
			if o != nil {
				return *o
			}
			e.r = r
		}
		if e.r == nil {
			r, recs, err := w.loadRun(ctx, subj)
			switch {
			case errors.Is(err, history.ErrNotFound) && isStartTask(&task):
				// Not a run without history: a start to complete (start.go).
				sr, o := w.beginRun(ctx, msg, task, subj)
				if o != nil {
					return *o
				}
				if sr == nil {
					continue // more than its start by now: load it in full
				}
				r = sr
			case errors.Is(err, history.ErrNotFound):
				// The stream proved it: no record on the run's subject.
				// A run being started may not have its first record yet.
				if numDelivered(msg) < noHistoryDeliveries {
					return retry(2*time.Second, "the run has no history yet", nil)
				}
				return drop(fmt.Sprintf("the run has no history (the stream holds no record on %s after %d deliveries)", subj, numDelivered(msg)))
			case isBlocking(err):
				return w.block(ctx, msg, task, subj, recs, err)
			case err != nil:
				return retry(time.Second, "load history", err)
			}
			e.r, fresh = r, true
		}
		r := e.r
		if seen != nil {
			*seen = r.info
		}
		if err := r.checkTask(task); err != nil {
			e.drop()
			if !fresh {
				continue // judged against a cached copy: read the history, judge again
			}
			return drop(err.Error())
		}
		if task.InputID == resetInputID && !r.closed && !r.resumed {
			// Re-publish what the copied history waits for, then decide on
			// whatever the copied inputs make the code do now.
			if err := w.resumeAll(ctx, r); err != nil {
				return retry(time.Second, "resume a reset run", err)
			}
			r.resumed = true
		}
		if r.closed {
			// Nothing is applied to a closed run. What its closing decision
			// required is re-published (idempotent) in case the worker that
			// closed it died before it could.
			e.drop()
			if err := w.requirements(ctx, r, r.streamSeq); err != nil {
				return retry(time.Second, "publish what the closing decision requires", err)
			}
			return closedRun()
		}
		// The log as it stands before this decision: the append checks it.
		tail := history.Tail{Seq: r.streamSeq, Closed: r.closed}

		now := time.Now().UTC()
		var candidates []history.Event
		var from []int // per candidate: -1 this task, i: b.taken[i]
		moreSignals := false
		if task.Event != nil && task.RecordSeq == 0 {
			candidates = append(candidates, task.Before...)
			ev := *task.Event
			ev.InputID = task.InputID
			candidates = append(candidates, ev)
		}
		for range candidates {
			from = append(from, -1)
		}
		// Inputs of this run handed over by other tasks (fan-in): they are
		// applied in this decision too.
		for _, q := range w.cache.take(e, len(b.taken), b.takenBytes) {
			b.taken = append(b.taken, q)
			b.takenBytes += len(q.msg.Data())
		}
		for i, q := range b.taken {
			if _, judged := b.own[i]; judged {
				continue
			}
			if q.task.WorkflowID != r.info.WorkflowID {
				b.setOwn(i, outcome{kind: taskRetry, quiet: true}) // judged alone, next
				continue
			}
			for _, ev := range q.task.Before {
				candidates, from = append(candidates, ev), append(from, i)
			}
			ev := *q.task.Event
			ev.InputID = q.task.InputID
			candidates, from = append(candidates, ev), append(from, i)
		}
		if task.InputID == signalsInputID {
			sigs, err := w.pendingSignals(ctx, task, r)
			if err != nil {
				return retry(time.Second, "read signals", err)
			}
			fit := w.signalsThatFit(sigs) // the rest in the next decisions (fit.go)
			moreSignals = len(fit) < len(sigs)
			candidates = append(candidates, fit...)
		}
		for len(from) < len(candidates) {
			from = append(from, -1) // signals (read above) belong to this task
		}
		candidates, from = r.withChildStartsFrom(candidates, from)
		var inputs []history.Event
		var redone []uint64 // decisions of merged inputs already applied
		stale := false
		ids := make(map[string]bool, len(candidates))
		for ci, ev := range candidates {
			if ids[ev.InputID] {
				continue // the same input twice in the batch (a redelivery)
			}
			ids[ev.InputID] = true
			if seq, done := r.applied[ev.InputID]; done {
				// A redelivered input: what its decision required is
				// published again (after this decision, if there is one).
				// (0: applied since the last decision, which this one is.)
				if q := from[ci]; seq != 0 && (q >= 0 && ev.InputID == b.taken[q].task.InputID || q < 0 && ev.InputID == task.InputID) {
					redone = append(redone, seq)
				}
				continue
			}
			ev.Time = now
			ev.Seq = r.lastSeq + 1
			if err := r.checkInput(ev); err != nil {
				q := from[ci]
				switch {
				case errors.Is(err, errObsoleteInput):
					w.log.Debug("late input not recorded", "workflow_id", task.WorkflowID, "run_id", task.RunID, "err", err)
					if err := w.lateOutcome(ctx, r, ev); err != nil {
						e.drop()
						return retry(time.Second, "publish the task of a late outcome's activity again", err)
					}
					continue
				case q >= 0 && fresh && errors.Is(err, ErrInvalidInput):
					b.setOwn(q, drop(err.Error()))
					continue
				case q >= 0 && fresh && !errors.Is(err, ErrRunClosed):
					b.setOwn(q, retry(time.Second, "apply input", err))
					continue
				case !fresh:
					// Judged against a cached copy, which may be behind
					// another worker's decision: read the history first.
					stale = true
				case errors.Is(err, ErrInvalidInput):
					e.drop()
					return drop(err.Error())
				case errors.Is(err, ErrRunClosed):
					e.drop()
					return closedRun()
				default:
					e.drop()
					return retry(time.Second, "apply input", err)
				}
				break
			}
			r.lastSeq++
			if err := r.apply(w.reg, ev); err != nil { // checked above
				e.drop() // lastSeq moved: rebuild from the history next time
				return retry(time.Second, "apply input", err)
			}
			inputs = append(inputs, ev)
		}
		if stale {
			e.drop()
			continue
		}
		if stop := r.stopped(); stop != nil {
			// The code met a recorded version it no longer supports, or
			// broke a rule of workflow code (a deadlock, a go statement).
			e.drop()
			recs, err := w.store.Log.ReadFrom(ctx, subj, 0)
			if err != nil {
				return retry(time.Second, "read history to record a blocked run", err)
			}
			if len(recs) == 0 {
				return retry(time.Second, "read history to record a blocked run", history.ErrNotFound)
			}
			return w.block(ctx, msg, task, subj, recs, stop)
		}
		cmds := r.takeCommands(now)
		if len(inputs) == 0 && len(cmds) == 0 {
			// Redelivery of an input whose decision is already recorded.
			// A signals wake-up is answered by the decision that applied
			// the last signal (its own id is never recorded).
			id := task.InputID
			if id == signalsInputID && r.lastSignalSeq > 0 {
				id = fmt.Sprintf("sig:%d", r.lastSignalSeq)
			}
			if seq := r.applied[id]; seq != 0 {
				redone = append(redone, seq)
			}
			if err := w.requirementsOf(ctx, r, redone, 0); err != nil {
				return retry(time.Second, "publish what the decision requires", err)
			}
			return done()
		}
		rec := history.Record{Kind: history.KindDecision, Events: append(inputs, cmds...)}
		if rec.Closes() {
			// The close then updates the run's entry: its read goes
			// with the append instead of after it (runs.go).
			if r.startEntry != nil {
				r.closeEntry = r.startEntry.fetched(w.store.runs.Bucket())
				r.startEntry = nil // once: a retry reads the entry
			} else {
				r.closeEntry = w.store.prefetchRunEntry(ctx, r.info.WorkflowID)
			}
		}
		_, err := w.store.Log.Append(ctx, subj, tail, &rec)
		if errors.Is(err, history.ErrConflict) {
			// Another writer advanced this run (a worker, a terminate): our
			// state is stale.
			e.drop()
			continue
		}
		if errors.Is(err, history.ErrRecordTooLarge) {
			e.drop()
			return w.blockTooLarge(ctx, msg, task, subj, err) // fit.go
		}
		if history.IsStorageFull(err) {
			e.drop()
			return w.storageFull(ctx, msg, task, err)
		}
		if err != nil {
			e.drop()
			return retry(time.Second, "append decision", err)
		}
		r.commit(rec)
		if w.opts.Observer != nil {
			w.observeDecision(r, rec) // new events only: never called on replay
		}
		if _, was := w.fullBlocked.LoadAndDelete(task.RunID); was {
			r.blockedMark = true // the index says "storage full": clear it
		}
		if r.blockedMark && !r.closed {
			r.blockedMark = false
			if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, ""); err != nil {
				log.Warn("runs index: clear blocked", "err", err)
			}
		}
		if testHookAfterDecision != nil && testHookAfterDecision() {
			e.drop() // a crash here loses the process's memory, not the decision
			return abandoned()
		}
		if err := w.requirements(ctx, r, rec.StreamSeq); err != nil {
			return retry(time.Second, "publish what the decision requires", err)
		}
		if err := w.requirementsOf(ctx, r, redone, rec.StreamSeq); err != nil {
			return retry(time.Second, "publish what the decision requires", err)
		}
		if moreSignals && !r.closed {
			if err := w.wakeForMoreSignals(ctx, r); err != nil {
				return retry(time.Second, "wake the run for its other signals", err)
			}
		}
		if r.closed {
			e.drop()
		}
		return done()
	}
	return retry(time.Second, "lost the race for the run too often", nil)
}

// storageFull handles a decision JetStream had no room for: the run is
// marked blocked in the runs index with the reason (best effort: the index
// may be out of room too), and the task is retried with a back-off that
// grows to 30s, so the run resumes by itself once space is freed.
func (w *Worker) storageFull(ctx context.Context, msg jetstream.Msg, task workflowTask, err error) outcome {
	n := numDelivered(msg)
	delay := min(time.Duration(n)*2*time.Second, 30*time.Second)
	why := "JetStream storage is full: the next decision cannot be written; free space (purge old runs, raise max_file_store) and the run resumes by itself"
	if w.opts.Observer != nil {
		w.opts.Observer.RunBlocked(BlockedRun{WorkflowID: task.WorkflowID, RunID: task.RunID, Reason: "StorageFull"})
	}
	if _, had := w.fullBlocked.LoadOrStore(task.RunID, true); !had {
		if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, why); err != nil {
			w.log.Debug("runs index: mark blocked (storage full)", "err", err)
		}
	}
	w.log.Warn("run blocked: JetStream storage is full", "workflow_id", task.WorkflowID, "run_id", task.RunID, "retry_in", delay, "err", err)
	return outcome{kind: taskRetry, delay: delay, quiet: true}
}

// noHistoryDeliveries: a task of a run whose history the stream proves
// empty is retried this many times (its start may be under way) before it
// is dropped.
const noHistoryDeliveries = 5

func numDelivered(msg jetstream.Msg) uint64 {
	if md, err := msg.Metadata(); err == nil {
		return md.NumDelivered
	}
	return 1
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
	var bad *history.BadRecordError
	var wce *WorkflowCodeError
	return errors.As(err, &nde) || errors.Is(err, ErrUnknownWorkflowType) || errors.As(err, &bad) || errors.As(err, &wce)
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
	r, err := w.newRun().replay(w.reg, recs)
	if err != nil {
		return nil, recs, err
	}
	last := recs[len(recs)-1].Events
	r.blockedMark = len(last) > 0 && last[len(last)-1].Type == history.WorkflowTaskFailed
	return r, recs, nil
}

// requirementsOf is requirements of each decision in seqs once, but for
// except (done already).
func (w *Worker) requirementsOf(ctx context.Context, r *run, seqs []uint64, except uint64) error {
	slices.Sort(seqs)
	for _, seq := range slices.Compact(seqs) {
		if seq == except {
			continue
		}
		if err := w.requirements(ctx, r, seq); err != nil {
			return err
		}
	}
	return nil
}

// requirements publishes what the decision record at streamSeq requires:
// the tasks of the activities it scheduled that have not completed, and the
// run's closing in the index.
func (w *Worker) requirements(ctx context.Context, r *run, streamSeq uint64) error {
	if streamSeq == 0 {
		return nil // no decision: nothing it requires
	}
	// The latest decision of an open run: only what it bound.
	cands, fast := r.boundBy(streamSeq)
	var seqs []int64
	if fast {
		for _, seq := range cands {
			if a := r.activities[seq]; a != nil && a.scheduledIn == streamSeq && !a.done {
				seqs = append(seqs, seq)
			}
		}
	} else {
		for seq, a := range r.activities {
			if a.scheduledIn == streamSeq && !a.done {
				seqs = append(seqs, seq)
			}
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	}
	msgs := make([]*nats.Msg, 0, len(seqs))
	for _, seq := range seqs {
		msgs = append(msgs, w.activityMsg(r, seq, 0))
	}
	// Timers started by this decision: a scheduled message each, which the
	// server publishes as a TimerFired input when due (also after downtime).
	// Re-publishing replaces the schedule, so a redelivery is harmless.
	var cancelled []int64
	timer := func(seq int64, t *timerState) {
		switch {
		case t.startedIn == streamSeq && !t.done:
			msgs = append(msgs, w.timerMsg(r, seq, t))
		case t.canceledIn == streamSeq && !r.closed:
			cancelled = append(cancelled, seq)
		}
	}
	if fast {
		for _, seq := range cands {
			if t := r.timers[seq]; t != nil {
				timer(seq, t)
			}
		}
	} else {
		for seq, t := range r.timers {
			timer(seq, t)
		}
	}
	if err := w.publishAll(ctx, msgs); err != nil {
		return err
	}
	for _, seq := range cancelled {
		if err := w.store.tasksOf(w.store.partOf(r.info.WorkflowID)).Purge(ctx, jetstream.WithPurgeSubject(w.store.timerSubject(w.store.partOf(r.info.WorkflowID), r.info.RunID, seq))); err != nil {
			return fmt.Errorf("cancel timer %d: %w", seq, err)
		}
	}
	if r.closed && (len(r.timers) > 0 || r.hasTimeout) {
		// A closed run needs none of its schedules: timers, execution timeout.
		// (Runs that never had one skip the purge: it is a stream request.)
		if err := w.store.purgeSchedules(ctx, r.info.WorkflowID, r.info.RunID); err != nil {
			return err
		}
	}
	// Activities cancelled by this decision, or left running by a closed
	// run: tell the activity workers (core NATS, best effort; the outcome
	// of such an attempt is ignored anyway).
	if fast {
		for _, seq := range cands {
			if a := r.activities[seq]; a != nil && a.cancelIn == streamSeq {
				_ = w.store.NC.Publish(w.store.activityCancelSubject(r.info.RunID, seq), nil)
			}
		}
	} else {
		for seq, a := range r.activities {
			if a.cancelIn == streamSeq || r.closed && !a.done {
				_ = w.store.NC.Publish(w.store.activityCancelSubject(r.info.RunID, seq), nil)
			}
		}
	}
	if fast {
		cs := cands[:0:0]
		for _, seq := range cands {
			if r.children[seq] != nil {
				cs = append(cs, seq)
			}
		}
		cands = cs
	}
	if err := w.childRequirements(ctx, r, streamSeq, cands, fast); err != nil {
		return err
	}
	if r.closed && r.closeEvent.Type == history.WorkflowContinuedAsNew {
		// The chain goes on: the index moves to the next run, which will
		// tell the parent (if any) when the chain ends.
		return w.store.continueAsNew(ctx, r, r.closeEvent)
	}
	if r.closed {
		first := r.closeEntry
		r.closeEntry = nil
		if err := w.store.closeRunFrom(ctx, r.info.WorkflowID, r.info.RunID, r.closeEvent, first); err != nil {
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
// With only (an open run's latest decision), it looks at the children in
// seqs alone.
func (w *Worker) childRequirements(ctx context.Context, r *run, streamSeq uint64, seqs []int64, only bool) error {
	if !only {
		seqs = make([]int64, 0, len(r.children))
		for seq := range r.children {
			seqs = append(seqs, seq)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	}
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

// activityMsg is the task of activity seq; after > 0 re-publishes it
// once after attempts were made (lateOutcome), under its own message id
// (the first task's id would be taken for a duplicate).
func (w *Worker) activityMsg(r *run, seq int64, after int) *nats.Msg {
	ev := r.activities[seq].scheduled
	t := activityTask{
		V: 1, WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, WorkflowType: r.info.WorkflowType,
		WorkflowTaskQueue: r.info.TaskQueue, ScheduledSeq: seq, Name: ev.Name, Input: ev.Input,
		Options: ev.ActivityOptions, ScheduledAt: ev.Time, ScheduledIn: r.activities[seq].scheduledIn,
		AttemptsBefore: after,
	}
	id := fmt.Sprintf("%s:act:%d", r.info.RunID, seq)
	if after > 0 {
		id += fmt.Sprintf(":after:%d", after)
	}
	return newMsg(w.store.activityTaskSubject(w.store.partOf(r.info.WorkflowID), ev.ActivityOptions.TaskQueue), id, t)
}

// lateOutcome is called for an activity outcome dropped as obsolete. A
// final outcome (completed, or failed for good) of an attempt the history
// already records as failed (taken for lost by the next delivery) is late,
// and its worker acked the task after reporting it: if the delivery that
// took it for lost did not run after all (its history read or its report
// failed in a leader change and it gave the task back, to a task already
// acked), nothing is left to run the activity and the run waits forever
// (seen once in the 3-node cluster test). The task is published again,
// numbering its attempts after those recorded; its first delivery reads
// the history before it runs, so an attempt that did run meanwhile is
// respected. With several deliveries alive this may run the activity once
// more before an outcome is recorded, never after.
func (w *Worker) lateOutcome(ctx context.Context, r *run, ev history.Event) error {
	if ev.Type != history.ActivityCompleted && ev.Type != history.ActivityFailed {
		return nil
	}
	a := r.activities[ev.Cause]
	if a == nil || a.done || ev.Attempt > a.attempts {
		return nil
	}
	w.log.Info("late outcome of an attempt taken for lost: the activity task is published again",
		"workflow_id", r.info.WorkflowID, "run_id", r.info.RunID, "activity", a.name, "attempt", ev.Attempt, "recorded_attempts", a.attempts)
	_, err := w.store.JS.PublishMsg(ctx, w.activityMsg(r, ev.Cause, a.attempts))
	return err
}

// resumeAll publishes everything a run copied by a reset is waiting for:
// its outstanding activities, timers and children, which the old run had
// asked for under its own run ID.
func (w *Worker) resumeAll(ctx context.Context, r *run) error {
	var msgs []*nats.Msg
	for seq, a := range r.activities {
		if !a.done {
			msgs = append(msgs, w.activityMsg(r, seq, 0))
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
	m := newMsg(w.store.timerSubject(w.store.partOf(r.info.WorkflowID), r.info.RunID, seq), "", task)
	m.Header.Set(jetstream.ScheduleHeader, "@at "+t.started.FireAt.UTC().Format(time.RFC3339Nano))
	m.Header.Set(jetstream.ScheduleTargetHeader, w.store.workflowTaskSubject(w.store.partOf(r.info.WorkflowID), r.info.TaskQueue))
	return m
}

// block records why a run cannot advance (non-determinism, unknown type) as
// a WorkflowTaskFailed event, once, and in the runs index; the input is
// left for redelivery (with a back-off that grows with the deliveries) so
// the run continues by itself once a worker that can run it is there.
func (w *Worker) block(ctx context.Context, msg jetstream.Msg, task workflowTask, subj string, recs []history.Record, cause error) outcome {
	why := cause.Error()
	var bad *history.BadRecordError
	if errors.As(cause, &bad) {
		// A record that does not decode: nothing can be appended after
		// it with any meaning; the run is marked blocked in the index,
		// naming the record, unless the readable records show it closed.
		good, _, err := w.store.Log.ReadTolerant(ctx, subj, 0)
		if err != nil {
			return retry(time.Second, "read history to record a blocked run", err)
		}
		if history.TailOf(good).Closed {
			return closedRun()
		}
		recs = nil
	}
	tail := history.TailOf(recs)
	if tail.Closed {
		return closedRun()
	}
	w.log.Error("workflow task failed: run blocked", "workflow_id", task.WorkflowID, "run_id", task.RunID, "err", why)
	if w.opts.Observer != nil {
		w.opts.Observer.RunBlocked(BlockedRun{WorkflowID: task.WorkflowID, RunID: task.RunID, Reason: blockedType(cause)})
	}
	if len(recs) == 0 {
		if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, why); err != nil {
			w.log.Warn("runs index: mark blocked", "err", err)
		}
		return outcome{kind: taskRetry, delay: blockedDelay(msg), quiet: true}
	}
	last := recs[len(recs)-1]
	lastEv := last.Events[len(last.Events)-1]
	if lastEv.Type != history.WorkflowTaskFailed || lastEv.Failure == nil || !sameBlock(lastEv.Failure, cause, why) {
		typ := blockedType(cause)
		var stack string
		if wce := (*WorkflowCodeError)(nil); errors.As(cause, &wce) {
			stack = wce.Stack // a panic's stack: in the event, not in the index
		}
		rec := history.Record{Kind: history.KindInput, Events: []history.Event{{
			Seq: lastEv.Seq + 1, Time: time.Now().UTC(), Type: history.WorkflowTaskFailed,
			Failure: &history.Failure{Message: why, Type: typ, Stack: stack}, Identity: w.opts.Identity,
		}}}
		if _, err := w.store.Log.Append(ctx, subj, tail, &rec); err != nil && !errors.Is(err, history.ErrConflict) {
			w.log.Warn("record workflow task failure", "err", err)
		}
	}
	if err := w.store.setBlocked(ctx, task.WorkflowID, task.RunID, why); err != nil {
		w.log.Warn("runs index: mark blocked", "err", err)
	}
	return outcome{kind: taskRetry, delay: blockedDelay(msg), quiet: true}
}

// blockedDelay is when a blocked run's task comes back: 2s, then as many
// seconds as it was delivered, up to a minute.
func blockedDelay(msg jetstream.Msg) time.Duration {
	if n := numDelivered(msg); n > 3 {
		return time.Duration(min(n, 60)) * time.Second
	}
	return 2 * time.Second
}
