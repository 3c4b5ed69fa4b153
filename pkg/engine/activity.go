package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
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
	if err := json.Unmarshal(msg.Data(), &t); err != nil || t.RunID == "" || t.Options == nil {
		w.log.Error("activity task: malformed message dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	startedAt := time.Now().UTC()
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
			a.finish(true)
			_ = msg.Nak()
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
	if retry {
		// The next attempt may start as soon as the task is given back.
		a.finish(true)
	}
	base.Event = &ev
	out := newMsg(w.store.workflowTaskSubject(t.WorkflowTaskQueue), t.RunID+":"+base.InputID, base)
	// Report even while shutting down: the attempt is done and should count.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(soft), 10*time.Second)
	defer cancel()
	if _, err := w.store.JS.PublishMsg(pctx, out); err != nil {
		// Not reported: the task comes back and the attempt runs again.
		w.log.Warn("activity: report outcome", "activity", t.Name, "err", err)
		a.finish(true)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if retry {
		_ = msg.NakWithDelay(delay)
		return
	}
	_ = msg.Ack()
	a.finish(false)
}

// runActivity runs one attempt under its deadline (start-to-close, or the
// schedule-to-close deadline if sooner) and its heartbeat timeout, keeping
// the JetStream task alive while it runs. stopped reports a worker
// shutdown. The attempt's context is cancelled with a cause: a
// TimeoutError, or ErrCanceled when the workflow cancelled the activity.
func (w *Worker) runActivity(hard context.Context, msg jetstream.Msg, sig *fnSig, t activityTask, a *activityAttempt, startedAt, closeBy time.Time) (result json.RawMessage, failure *history.Failure, stopped bool) {
	timeout := time.Duration(t.Options.StartToCloseTimeout)
	if timeout <= 0 {
		timeout = DefaultStartToCloseTimeout
	}
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
	ctx = context.WithValue(ctx, activityLoggerKey{}, w.log.With("activity", t.Name, "workflow_id", t.WorkflowID, "run_id", t.RunID, "attempt", info.Attempt))

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
	keepAlive := time.NewTicker(w.opts.ActivityTaskTimeout / 3)
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
