package engine

import (
	"context"
	"encoding/json"
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
	WorkflowID        string
	RunID             string
	WorkflowType      string
	ActivityName      string
	ScheduledSeq      int64
	Attempt           int
	TaskQueue         string
	ScheduledTime     time.Time
	StartedTime       time.Time
	Deadline          time.Time
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
	var result json.RawMessage
	var failure *history.Failure
	sig, ok := w.reg.activity(t.Name)
	if !ok {
		failure = &history.Failure{
			Message: fmt.Sprintf("activity %q is not registered on worker %s (it registers %v)", t.Name, w.opts.Identity, w.reg.ActivityNames()),
			Type:    "ActivityNotRegistered",
		}
	} else {
		var stopped bool
		result, failure, stopped = w.runActivity(hard, msg, sig, t, attempt, startedAt)
		if stopped {
			// The worker is shutting down: give the task back for another worker
			// at once (JetStream counts the delivery, so the next attempt number
			// is one higher).
			_ = msg.Nak()
			return
		}
	}
	base := workflowTask{V: 1, WorkflowID: t.WorkflowID, RunID: t.RunID}
	ev := history.Event{Cause: t.ScheduledSeq, Name: t.Name, Attempt: attempt, StartedAt: &startedAt, Identity: w.opts.Identity}
	policy := t.Options.RetryPolicy.Normalize()
	retry := failure != nil && policy.Retryable(failure, attempt)
	var delay time.Duration
	switch {
	case failure == nil:
		ev.Type, ev.Result = history.ActivityCompleted, result
		base.InputID = fmt.Sprintf("act:%d:done", t.ScheduledSeq)
	case retry:
		delay = policy.Backoff(attempt)
		next := time.Now().Add(delay).UTC()
		ev.Type, ev.Failure, ev.NextAttemptAt = history.ActivityAttemptFailed, failure, &next
		base.InputID = fmt.Sprintf("act:%d:attempt:%d", t.ScheduledSeq, attempt)
	default:
		ev.Type, ev.Failure = history.ActivityFailed, failure
		base.InputID = fmt.Sprintf("act:%d:done", t.ScheduledSeq)
	}
	base.Event = &ev
	out := newMsg(w.store.workflowTaskSubject(t.WorkflowTaskQueue), t.RunID+":"+base.InputID, base)
	// Report even while shutting down: the attempt is done and should count.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(soft), 10*time.Second)
	defer cancel()
	if _, err := w.store.JS.PublishMsg(pctx, out); err != nil {
		// Not reported: the task comes back and the attempt runs again.
		w.log.Warn("activity: report outcome", "activity", t.Name, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if retry {
		_ = msg.NakWithDelay(delay)
		return
	}
	_ = msg.Ack()
}

// runActivity runs one attempt under its start-to-close timeout, keeping the
// JetStream task alive while it runs. stopped reports a worker shutdown.
func (w *Worker) runActivity(hard context.Context, msg jetstream.Msg, sig *fnSig, t activityTask, attempt int, startedAt time.Time) (result json.RawMessage, failure *history.Failure, stopped bool) {
	timeout := time.Duration(t.Options.StartToCloseTimeout)
	if timeout <= 0 {
		timeout = DefaultStartToCloseTimeout
	}
	ctx, cancel := context.WithTimeout(hard, timeout)
	defer cancel()
	info := ActivityInfo{
		WorkflowID: t.WorkflowID, RunID: t.RunID, WorkflowType: t.WorkflowType, ActivityName: t.Name,
		ScheduledSeq: t.ScheduledSeq, Attempt: attempt, TaskQueue: t.Options.TaskQueue,
		ScheduledTime: t.ScheduledAt, StartedTime: startedAt, Deadline: startedAt.Add(timeout),
		WorkerIdentity: w.opts.Identity, WorkflowTaskQueue: t.WorkflowTaskQueue,
	}
	ctx = context.WithValue(ctx, activityInfoKey{}, info)
	ctx = context.WithValue(ctx, activityLoggerKey{}, w.log.With("activity", t.Name, "workflow_id", t.WorkflowID, "run_id", t.RunID, "attempt", attempt))

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
	keepAlive := time.NewTicker(w.opts.ActivityTaskTimeout / 3)
	defer keepAlive.Stop()
	for {
		select {
		case o := <-done:
			if hard.Err() != nil {
				return nil, nil, true
			}
			if o.err != nil {
				if ctx.Err() == context.DeadlineExceeded {
					return nil, timeoutFailure(t.Name, timeout), false
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
			// The attempt timed out; its goroutine is abandoned (Go cannot
			// stop it) and reports nothing.
			return nil, timeoutFailure(t.Name, timeout), false
		}
	}
}

func timeoutFailure(name string, timeout time.Duration) *history.Failure {
	return &history.Failure{Message: fmt.Sprintf("activity %s exceeded its start-to-close timeout of %s", name, timeout), Type: "TimeoutError"}
}
