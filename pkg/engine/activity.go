package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ActivityInfo describes the activity attempt being run.
type ActivityInfo struct {
	WorkflowID    string
	RunID         string
	WorkflowType  string
	ActivityName  string
	ScheduledSeq  int64
	Attempt       int
	TaskQueue     string
	ScheduledTime time.Time
	StartedTime   time.Time
	// Deadline is when the attempt times out: its start-to-close timeout,
	// or the activity's schedule-to-close deadline if sooner.
	Deadline time.Time
	// HeartbeatTimeout: the attempt fails if it does not call
	// RecordHeartbeat for this long (0: no heartbeat needed).
	HeartbeatTimeout  time.Duration
	WorkerIdentity    string
	WorkflowTaskQueue string
}

type activityInfoKey struct{}
type activityLoggerKey struct{}

// GetActivityInfo returns the info of the activity running with ctx.
func GetActivityInfo(ctx context.Context) ActivityInfo {
	i, _ := ctx.Value(activityInfoKey{}).(ActivityInfo)
	return i
}

// GetActivityLogger returns a logger tagged with the activity's identity.
func GetActivityLogger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(activityLoggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// staleActivityTask: a first delivery of an activity task scheduled longer
// ago than this is checked against the history before it runs, like a
// redelivery (fresh tasks, the hot path, are not).
const staleActivityTask = time.Second

// reportGrace is how long a redelivered attempt waits, once, for the report
// of an earlier attempt that left no trace before taking it for lost
// (beforeRedelivery). The task's ack wait is renewed as the wait starts;
// it must stay well below ActivityTaskTimeout (default 2 s).
const reportGrace = 500 * time.Millisecond

// testHookActivityCrash, when it returns true, makes an activity worker
// stop handling a task as if its process died: as the attempt starts
// (reported false) or after its outcome is reported, before the ack
// (reported true).
var testHookActivityCrash func(name string, attempt int, reported bool) bool

// testHookActivityReport, when set, is called before an attempt's report
// is published (published false) and after it was (published true).
var testHookActivityReport func(name string, attempt int, published bool)

// processActivityTask runs one attempt of an activity and reports its
// outcome to the workflow's task queue before acking. A retry waits in
// JetStream (the task is nak'ed with the back-off as delay), so it survives
// any worker crash; the attempt number is JetStream's delivery count.
//
// Heartbeat details are written (throttled) to the heartbeats bucket while
// the attempt runs, flushed before the task is given back for another
// attempt, and deleted once the activity completes or fails for good.
func (w *Worker) processActivityTask(soft, hard context.Context, msg jetstream.Msg) {
	var t activityTask
	if err := decodeActivityTask(msg.Data(), &t); err != nil || t.RunID == "" || t.Options == nil {
		w.log.Error("activity task: malformed message dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	if t.AttemptsBefore > 0 && numDelivered(msg) == 1 {
		// Published again after a late outcome (lateOutcome): attempt
		// AttemptsBefore+1 is the delivery that took the late one for lost,
		// which may still be running. It is taken for lost in turn only
		// after its own timeout: this first delivery only waits for it.
		_ = msg.NakWithDelay(attemptLimit(t.Options))
		return
	}
	attempt, ok := w.claimAttempt(soft, msg, t)
	if !ok {
		return
	}
	var lost []history.Event // attempts found lost, reported again with the outcome
	if attempt > 1 || time.Since(t.ScheduledAt) > staleActivityTask {
		// A redelivery: the activity may already have an outcome (its
		// worker died after reporting it, before its ack), the run may be
		// closed, or earlier attempts may have been lost with their worker.
		// An old first delivery too: a task re-published after a server
		// restart comes back as a new message. Ask the history before
		// running anything.
		if lost, ok = w.beforeRedelivery(soft, msg, t, attempt, false); !ok {
			return
		}
	}
	if testHookActivityCrash != nil && testHookActivityCrash(t.Name, attempt, false) {
		return // a crash as the attempt starts: no report, no ack, no renewal
	}
	startedAt := time.Now().UTC()
	var seen ActivityAttempt // for the Observer (observe.go)
	if w.opts.Observer != nil {
		seen = ActivityAttempt{WorkflowID: t.WorkflowID, RunID: t.RunID, WorkflowType: t.WorkflowType,
			Activity: t.Name, TaskQueue: t.Options.TaskQueue, Attempt: attempt}
		w.opts.Observer.ActivityAttemptStarted(seen)
	}
	// closeBy is the schedule-to-close deadline (zero: none).
	var closeBy time.Time
	s2c := time.Duration(t.Options.ScheduleToCloseTimeout)
	if s2c > 0 && !t.ScheduledAt.IsZero() {
		closeBy = t.ScheduledAt.Add(s2c)
	}
	a := w.newAttempt(t, attempt)
	var result json.RawMessage
	var failure *history.Failure
	sig, ok := w.reg.activity(t.Name)
	switch {
	case !ok:
		failure = &history.Failure{
			Message: fmt.Sprintf("activity %q is not registered on worker %s (it registers %v)", t.Name, w.opts.Identity, w.reg.ActivityNames()),
			Type:    "ActivityNotRegistered",
		}
	case !closeBy.IsZero() && !startedAt.Before(closeBy):
		// Delivered too late (a backlog, no worker for a while): not run.
		failure = timeoutFailure(TimeoutScheduleToClose, t.Name, s2c, nil)
	default:
		var stopped bool
		result, failure, stopped = w.runActivity(hard, msg, sig, t, a, startedAt, closeBy)
		if stopped {
			// The worker is shutting down: give the task back for another worker
			// at once (JetStream counts the delivery, so the next attempt number
			// is one higher), with the latest heartbeat details kept.
			if w.opts.Observer != nil {
				seen.Latency, seen.Outcome = time.Since(startedAt), AttemptReleased
				w.opts.Observer.ActivityAttemptFinished(seen)
			}
			a.finish(true)
			w.releaseActivityTask(msg, t, attempt)
			return
		}
	}
	base := workflowTask{V: 1, WorkflowID: t.WorkflowID, RunID: t.RunID}
	ev := history.Event{Cause: t.ScheduledSeq, Name: t.Name, Attempt: attempt, StartedAt: &startedAt, Identity: w.opts.Identity}
	policy := t.Options.RetryPolicy.Normalize()
	retry := failure != nil && policy.Retryable(failure, attempt)
	var delay time.Duration
	if retry {
		delay = policy.Backoff(attempt)
		if !closeBy.IsZero() && !time.Now().Add(delay).Before(closeBy) {
			// The retry would start after the schedule-to-close deadline.
			failure, retry = timeoutFailure(TimeoutScheduleToClose, t.Name, s2c, failure), false
		}
	}
	switch {
	case failure == nil:
		ev.Type, ev.Result = history.ActivityCompleted, result
		base.InputID = fmt.Sprintf("act:%d:done", t.ScheduledSeq)
	case retry:
		next := time.Now().Add(delay).UTC()
		ev.Type, ev.Failure, ev.NextAttemptAt = history.ActivityAttemptFailed, failure, &next
		base.InputID = fmt.Sprintf("act:%d:attempt:%d", t.ScheduledSeq, attempt)
	default:
		ev.Type, ev.Failure = history.ActivityFailed, failure
		base.InputID = fmt.Sprintf("act:%d:done", t.ScheduledSeq)
	}
	if w.opts.Observer != nil {
		seen.Latency, seen.Outcome, seen.Failure = time.Since(startedAt), attemptOutcome(failure, retry), failure
		w.opts.Observer.ActivityAttemptFinished(seen)
	}
	if retry {
		// The next attempt may start as soon as the task is given back.
		a.finish(true)
	}
	base.Event, base.Before = &ev, lost
	out := newMsg(w.store.workflowTaskSubject(w.store.partOf(t.WorkflowID), t.WorkflowTaskQueue), reportMsgID(t.RunID, base.InputID, attempt), base)
	// Report even while shutting down: the attempt is done and should count.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(soft), 10*time.Second)
	defer cancel()
	if testHookActivityReport != nil {
		testHookActivityReport(t.Name, attempt, false)
	}
	if _, err := w.store.JS.PublishMsg(pctx, out); err != nil {
		// Not reported: the task comes back and the attempt runs again.
		w.log.Warn("activity: report outcome", "activity", t.Name, "run_id", t.RunID, "attempt", attempt, "err", err)
		a.finish(true)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if testHookActivityReport != nil {
		testHookActivityReport(t.Name, attempt, true)
	}
	if retry {
		_ = msg.NakWithDelay(delay)
		return
	}
	if testHookActivityCrash != nil && testHookActivityCrash(t.Name, attempt, true) {
		return // a crash after the report, before the ack
	}
	// The outcome is reported. A plain ack (no round trip): one lost with
	// the connection brings the task back, and then the claim of the next
	// attempt number and the redelivery checks above (the outcome in the
	// history or on its way there) keep the activity from running again;
	// a double ack would only have logged the loss.
	if err := msg.Ack(); err != nil {
		w.log.Warn("activity: ack after reporting the outcome", "activity", t.Name, "run_id", t.RunID, "attempt", attempt, "err", err)
	}
	a.finish(false)
}

// beforeRedelivery decides whether a redelivered activity task may run.
// It reads the run's history after the decision that scheduled the
// activity: if the activity has an outcome or the run is closed, the task
// is acked without running (at most once after recording). Attempts that
// were delivered before this one but left no trace (their worker died) are
// reported as timed out, so the history shows every attempt; it returns
// those reports to go with the outcome too (the two messages race). It
// returns false when the task was settled here.
//
// A previous attempt with no trace is not taken for lost at first sight:
// a server stopped (SIGSTOP) past the attempt's ack wait redelivers the
// task the moment it runs again, while the attempt's own worker, alive,
// is sending its outcome; reading once more after reportGrace lets that
// report land, so the activity is not run again after its outcome is
// recorded (seen in the chaos suite: 54-83 ms between the two). Even then
// it runs only once the history records the lost attempts
// (awaitLostRecorded): a lost attempt's report may be in the task stream,
// unrecorded, and if it is recorded first the activity is not run again.
func (w *Worker) beforeRedelivery(ctx context.Context, msg jetstream.Msg, t activityTask, attempt int, again bool) ([]history.Event, bool) {
	subj, err := w.store.Log.Subject(t.WorkflowID, t.RunID)
	if err != nil {
		_ = msg.Term()
		return nil, false
	}
	after := uint64(0)
	if t.ScheduledIn > 0 {
		after = t.ScheduledIn - 1
	}
	recs, err := w.store.Log.ReadFrom(ctx, subj, after)
	if err != nil {
		// Not knowing is not a licence to run: try again later.
		w.log.Warn("activity: read history before a redelivered attempt", "activity", t.Name, "run_id", t.RunID, "attempt", attempt, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return nil, false
	}
	lastReported := 0
	for _, rec := range recs {
		for _, ev := range rec.Events {
			switch {
			case ev.Type.IsClosing():
				w.log.Debug("activity task of a closed run: not run", "activity", t.Name, "run_id", t.RunID)
				w.ackDone(msg, t)
				return nil, false
			case ev.Cause == t.ScheduledSeq && (ev.Type == history.ActivityCompleted || ev.Type == history.ActivityFailed):
				w.log.Debug("activity already has an outcome: not run again", "activity", t.Name, "run_id", t.RunID, "seq", t.ScheduledSeq)
				w.ackDone(msg, t)
				return nil, false
			case ev.Cause == t.ScheduledSeq && ev.Type == history.ActivityAttemptFailed:
				lastReported = max(lastReported, ev.Attempt)
			}
		}
	}
	if lastReported >= attempt {
		// A later delivery took this attempt for lost (this one waited, or
		// its renewals were lost): it owns the task; this one does nothing.
		w.log.Debug("activity: attempt superseded by a later delivery: not run", "activity", t.Name, "run_id", t.RunID, "attempt", attempt)
		return nil, false
	}
	if len(recs) == 0 && t.ScheduledIn > 0 {
		// The stream proved the run has no record from the scheduling
		// decision on: the run is gone (deleted); nothing to run for.
		w.log.Warn("activity task of a run without history: dropped", "activity", t.Name, "run_id", t.RunID)
		_ = msg.Term()
		return nil, false
	}
	if lastReported+1 < attempt && !again {
		_ = msg.InProgress()
		select {
		case <-ctx.Done():
			_ = msg.NakWithDelay(time.Second)
			return nil, false
		case <-time.After(reportGrace):
		}
		return w.beforeRedelivery(ctx, msg, t, attempt, true)
	}
	// Attempts lastReported+1 .. attempt-1 were delivered and never
	// reported: each is a timeout of the attempt (its worker stopped
	// renewing the task). The report uses the attempt's own input id, so
	// if the real report arrives too, only one of them is recorded.
	policy := t.Options.RetryPolicy.Normalize()
	tt, limit := TimeoutStartToClose, attemptLimit(t.Options)
	if time.Duration(t.Options.HeartbeatTimeout) > 0 {
		tt = TimeoutHeartbeat
	}
	var lost []*nats.Msg
	var events []history.Event // the lost attempts, for the outcome's report too
	final := false             // the lost attempts used up the retry policy
	for n := lastReported + 1; n < attempt && !final; n++ {
		if w.wasReleased(ctx, t, n) {
			continue // given back by a worker shutting down: not a failure
		}
		f := timeoutFailure(tt, t.Name, limit, nil)
		f.Message = fmt.Sprintf("activity %s attempt %d was lost: its worker stopped without reporting an outcome (crashed or cut off); counted as a %s timeout", t.Name, n, tt)
		now := time.Now().UTC()
		ev := history.Event{Cause: t.ScheduledSeq, Name: t.Name, Attempt: n, Failure: f}
		inputID := fmt.Sprintf("act:%d:attempt:%d", t.ScheduledSeq, n)
		final = !policy.Retryable(f, n)
		if final {
			ev.Type, inputID = history.ActivityFailed, fmt.Sprintf("act:%d:done", t.ScheduledSeq)
		} else {
			ev.Type, ev.NextAttemptAt = history.ActivityAttemptFailed, &now
		}
		task := workflowTask{V: 1, WorkflowID: t.WorkflowID, RunID: t.RunID, InputID: inputID, Event: &ev}
		ev.InputID = inputID
		events = append(events, ev)
		lost = append(lost, newMsg(w.store.workflowTaskSubject(w.store.partOf(t.WorkflowID), t.WorkflowTaskQueue), reportMsgID(t.RunID, inputID, n), task))
	}
	if len(lost) > 0 {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := w.publishAll(pctx, lost); err != nil {
			w.log.Warn("activity: report lost attempts", "activity", t.Name, "run_id", t.RunID, "attempt", attempt, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return nil, false
		}
		if final {
			// The activity failed for good and is not run again.
			w.ackDone(msg, t)
			return nil, false
		}
		// Run only once the history says the lost attempts failed: until
		// then, a lost attempt's own report (published before its worker
		// died, or from a worker cut off but alive) may still be recorded
		// first, and its outcome would then be this attempt's to respect.
		if !w.awaitLostRecorded(ctx, msg, t, attempt, subj, after, events[len(events)-1].Attempt) {
			return nil, false
		}
	}
	return events, true
}

// awaitLostRecorded waits, renewing the task, until the run's history
// records attempt lost of the activity (or a later one) as failed: the
// fence that lets the next attempt run. If the activity has an outcome or
// the run closed meanwhile, the task is acked and it returns false.
//
// It waits as long as that takes (no workflow worker, the server
// unavailable): giving the task back is not safe, since the lost attempt's
// worker, if alive, acks the task once it has reported, and if its report
// comes after the loss it is dropped as obsolete; this attempt is then the
// only one left to run (the 3-node cluster test lost a run that way). Only
// a worker shutting down gives the task back, as released.
func (w *Worker) awaitLostRecorded(ctx context.Context, msg jetstream.Msg, t activityTask, attempt int, subj string, after uint64, lost int) bool {
	w.log.Debug("activity: waiting for the history to record the lost attempts", "activity", t.Name, "run_id", t.RunID, "lost", lost)
	start, renewed, warned := time.Now(), time.Now(), false
	pause := 5 * time.Millisecond
	for {
		recs, err := w.store.Log.ReadFrom(ctx, subj, after)
		if err == nil {
			// The whole history first: an outcome, or this attempt taken
			// for lost by a later delivery, may follow the fence.
			fenced, last := false, 0
			for _, rec := range recs {
				for _, ev := range rec.Events {
					switch {
					case ev.Type.IsClosing(),
						ev.Cause == t.ScheduledSeq && (ev.Type == history.ActivityCompleted || ev.Type == history.ActivityFailed):
						w.log.Debug("activity: a lost attempt's outcome was recorded first: not run again", "activity", t.Name, "run_id", t.RunID)
						w.ackDone(msg, t)
						return false
					case ev.Cause == t.ScheduledSeq && ev.Type == history.ActivityAttemptFailed:
						fenced = fenced || ev.Attempt >= lost
						last = max(last, ev.Attempt)
					}
				}
			}
			if last >= attempt {
				// A later delivery took this attempt for lost: it owns the
				// task now; this one does nothing.
				w.log.Debug("activity: attempt superseded by a later delivery: not run", "activity", t.Name, "run_id", t.RunID)
				return false
			}
			if fenced {
				return true
			}
		}
		if ctx.Err() != nil {
			w.releaseActivityTask(msg, t, attempt)
			return false
		}
		if !warned && time.Since(start) > lostFenceWarn {
			warned = true
			w.log.Warn("activity: still waiting for the history to record the lost attempts (is a workflow worker running?)",
				"activity", t.Name, "run_id", t.RunID, "lost", lost, "err", err)
		}
		if time.Since(renewed) > w.opts.ActivityTaskTimeout/4 {
			_ = msg.InProgress()
			renewed = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// attemptLimit is how long an attempt may go without a sign of life: its
// heartbeat timeout if it has one, else its start-to-close timeout.
func attemptLimit(o *history.ActivityOptions) time.Duration {
	if hb := time.Duration(o.HeartbeatTimeout); hb > 0 {
		return hb
	}
	return startToClose(o)
}

// startToClose is the longest an attempt may run: its start-to-close
// timeout, or DefaultStartToCloseTimeout.
func startToClose(o *history.ActivityOptions) time.Duration {
	if d := time.Duration(o.StartToCloseTimeout); d > 0 {
		return d
	}
	return DefaultStartToCloseTimeout
}

// lostFenceWarn is how long a redelivered attempt waits for the history
// to record the attempts it found lost before it says so in the log.
const lostFenceWarn = 10 * time.Second

// reportMsgID is the JetStream message id of an attempt's report: the same
// attempt's report published twice is stored once, but two attempts never
// share an id. Outcomes share their input id (act:<seq>:done), so an id
// without the attempt let the late report of an attempt taken for lost
// (dropped by the workflow worker as obsolete) make the stream discard
// the real outcome of the next attempt as its duplicate: the run waited
// forever (seen in the 3-node cluster test under load).
func reportMsgID(runID, inputID string, attempt int) string {
	if strings.HasSuffix(inputID, ":done") {
		return fmt.Sprintf("%s:%s:%d", runID, inputID, attempt)
	}
	return runID + ":" + inputID // act:<seq>:attempt:<n> names its attempt
}

// releaseActivityTask gives a task back at once (a worker shutting down).
// JetStream counts the delivery, so the next attempt number is one
// higher; a note in the heartbeats bucket tells the next worker that this
// attempt was released, not lost, so it is not recorded as a failure.
func (w *Worker) releaseActivityTask(msg jetstream.Msg, t activityTask, attempt int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := w.store.heartbeats.Put(ctx, releasedKey(t.RunID, t.ScheduledSeq, attempt), nil); err != nil {
		w.log.Debug("activity: note a released attempt", "activity", t.Name, "err", err)
	}
	_ = msg.Nak()
}

// releaseUnstarted gives back a task fetched as the worker shut down.
func (w *Worker) releaseUnstarted(msg jetstream.Msg) {
	var t activityTask
	if err := decodeActivityTask(msg.Data(), &t); err != nil || t.RunID == "" {
		_ = msg.Nak()
		return
	}
	w.releaseActivityTask(msg, t, t.attempt(msg))
}

func (w *Worker) wasReleased(ctx context.Context, t activityTask, attempt int) bool {
	_, err := w.store.heartbeats.Get(ctx, releasedKey(t.RunID, t.ScheduledSeq, attempt))
	return err == nil
}

func releasedKey(runID string, seq int64, attempt int) string {
	return fmt.Sprintf("%s.released.%d", activityKey(runID, seq), attempt)
}

// ackDone acks a task whose activity needs no (further) attempt, and drops
// the heartbeat details an earlier attempt may have left.
func (w *Worker) ackDone(msg jetstream.Msg, t activityTask) {
	if err := msg.Ack(); err != nil {
		w.log.Warn("activity: ack", "activity", t.Name, "err", err)
	}
	w.newAttempt(t, 2).finish(false)
}

// runActivity runs one attempt under its deadline (start-to-close, or the
// schedule-to-close deadline if sooner) and its heartbeat timeout, keeping
// the JetStream task alive while it runs. stopped reports a worker
// shutdown. The attempt's context is cancelled with a cause: a
// TimeoutError, or ErrCanceled when the workflow cancelled the activity.
func (w *Worker) runActivity(hard context.Context, msg jetstream.Msg, sig *fnSig, t activityTask, a *activityAttempt, startedAt, closeBy time.Time) (result json.RawMessage, failure *history.Failure, stopped bool) {
	timeout := startToClose(t.Options)
	deadline := startedAt.Add(timeout)
	deadlineErr := activityTimeoutError(TimeoutStartToClose, t.Name, timeout)
	if !closeBy.IsZero() && closeBy.Before(deadline) {
		deadline = closeBy
		deadlineErr = activityTimeoutError(TimeoutScheduleToClose, t.Name, time.Duration(t.Options.ScheduleToCloseTimeout))
	}
	base, cancelCause := context.WithCancelCause(hard)
	defer cancelCause(nil)
	ctx, cancel := context.WithDeadlineCause(base, deadline, deadlineErr)
	defer cancel()
	a.cancel = cancelCause
	if !w.running.add(a) {
		// Cancelled before it started (this worker heard of it).
		return nil, canceledFailure(t.Name), false
	}
	defer w.running.remove(a)
	a.loadPrevious(ctx)
	a.watchHeartbeat()
	info := ActivityInfo{
		WorkflowID: t.WorkflowID, RunID: t.RunID, WorkflowType: t.WorkflowType, ActivityName: t.Name,
		ScheduledSeq: t.ScheduledSeq, Attempt: a.attempt, TaskQueue: t.Options.TaskQueue,
		ScheduledTime: t.ScheduledAt, StartedTime: startedAt, Deadline: deadline,
		HeartbeatTimeout: a.hbTimeout,
		WorkerIdentity:   w.opts.Identity, WorkflowTaskQueue: t.WorkflowTaskQueue,
	}
	ctx = context.WithValue(ctx, activityInfoKey{}, info)
	ctx = context.WithValue(ctx, activityAttemptKey{}, a)
	ctx = context.WithValue(ctx, activityLoggerKey{}, withLazy(w.log, "activity", t.Name, "workflow_id", t.WorkflowID, "run_id", t.RunID, "attempt", info.Attempt))
	if ac, ok := w.opts.Observer.(ActivityContexter); ok {
		ctx = ac.ActivityContext(ctx, info) // observe.go: e.g. the activity's span
	}

	type outcome struct {
		result json.RawMessage
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: &PanicError{Value: fmt.Sprint(p), Stack: string(debug.Stack())}}
			}
		}()
		args, err := sig.decodeArgs("activity", t.Input)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		out := sig.fn.Call(append([]reflect.Value{reflect.ValueOf(ctx)}, args...))
		res, err := sig.splitResult("activity", out)
		done <- outcome{res, err}
	}()
	// ended says why the context ended, as the attempt's failure.
	ended := func() *history.Failure {
		cause := context.Cause(ctx)
		var app *ApplicationError
		switch {
		case errors.As(cause, &app) && app.Type == TimeoutErrorType:
			return ToFailure(app)
		case errors.Is(cause, ErrCanceled):
			return canceledFailure(t.Name)
		}
		return ToFailure(cause)
	}
	keepAlive := time.NewTicker(w.opts.ActivityTaskTimeout / 4)
	defer keepAlive.Stop()
	for {
		select {
		case o := <-done:
			if hard.Err() != nil {
				return nil, nil, true
			}
			if o.err != nil {
				if ctx.Err() != nil {
					return nil, ended(), false
				}
				return nil, ToFailure(o.err), false
			}
			return o.result, nil, false
		case <-keepAlive.C:
			_ = msg.InProgress()
		case <-ctx.Done():
			if hard.Err() != nil {
				return nil, nil, true
			}
			// Timed out or cancelled: the outcome is reported now. The
			// attempt's goroutine, if it ignores its context, is abandoned
			// (Go cannot stop it) and reports nothing.
			return nil, ended(), false
		}
	}
}
