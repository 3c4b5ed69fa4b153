package engine

// This file owns the worker's observation hooks: the Observer interface
// that metrics and tracing implement (pkg/sdk/metrics, pkg/sdk/tracing),
// what each hook is told, and the backlog sampler. pkg/engine never
// imports an implementation (nor prometheus or otel): a worker without an
// Observer pays one nil check per hook and links none of them.

import (
	"context"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// Observer is told what a worker does: for metrics and tracing, set it as
// WorkerOptions.Observer. Its methods are called from the worker's task
// goroutines, concurrently and on the hot path: they must be safe for
// concurrent use, cheap, and never block. Embed NopObserver to implement
// only some of them.
type Observer interface {
	// WorkflowTaskHandled: a workflow task message was handled (after it
	// was acked, nak'ed or terminated).
	WorkflowTaskHandled(WorkflowTaskDone)
	// EventsRecorded: a decision was committed; Events are the events it
	// appended to the run's history. It is called once per committed
	// decision, by the worker that committed it, and never for events a
	// worker replays (a run loaded from its history after a crash or a
	// cache eviction, a replay check, the replayer): observing only new
	// events is what keeps counts and spans free of duplicates.
	EventsRecorded(RecordedEvents)
	// ActivityAttemptStarted: an attempt of an activity begins.
	ActivityAttemptStarted(ActivityAttempt)
	// ActivityAttemptFinished: an attempt has an outcome (Outcome,
	// Latency set), about to be reported to its run.
	ActivityAttemptFinished(ActivityAttempt)
	// RunBlocked: a task found its run blocked (non-determinism, a panic
	// in workflow code, a decision too large, storage full). It is called
	// again on each retry of the blocked task, the first time within a
	// minute or so (the blocked task's back-off).
	RunBlocked(BlockedRun)
	// RunUnblocked: a run that was blocked has committed a decision again.
	RunUnblocked(BlockedRun)
	// BacklogSampled: the number of tasks waiting on one of the worker's
	// task queues, sampled every BacklogInterval (default 5s).
	BacklogSampled(Backlog)
}

// NopObserver does nothing; embed it in an Observer that implements only
// some hooks.
type NopObserver struct{}

func (NopObserver) WorkflowTaskHandled(WorkflowTaskDone)    {}
func (NopObserver) EventsRecorded(RecordedEvents)           {}
func (NopObserver) ActivityAttemptStarted(ActivityAttempt)  {}
func (NopObserver) ActivityAttemptFinished(ActivityAttempt) {}
func (NopObserver) RunBlocked(BlockedRun)                   {}
func (NopObserver) RunUnblocked(BlockedRun)                 {}
func (NopObserver) BacklogSampled(Backlog)                  {}

// BacklogIntervaler is implemented by an Observer that wants its backlog
// sampled at another interval than the default 5s (0 or negative: never).
type BacklogIntervaler interface {
	BacklogInterval() time.Duration
}

// ActivityContexter is implemented by an Observer that gives the code of
// an activity attempt something in its context: pkg/sdk/tracing puts the
// span context of the activity's span there, so spans the activity starts
// are its children. It is called before the activity function, on the
// attempt's goroutine.
type ActivityContexter interface {
	ActivityContext(ctx context.Context, info ActivityInfo) context.Context
}

// Workflow task outcomes (WorkflowTaskDone.Outcome).
const (
	TaskCompleted = "completed" // the input is recorded (or was already): acked
	TaskClosedRun = "closed"    // the run is closed: acked, nothing applied
	TaskRetried   = "retry"     // nak'ed with a delay (a failed read, a blocked run, a lost race)
	TaskDropped   = "dropped"   // terminated: the task can never apply
	TaskAbandoned = "abandoned" // left for redelivery (a simulated crash)
)

// WorkflowTaskDone describes one handled workflow task.
type WorkflowTaskDone struct {
	// WorkflowType and TaskQueue of the task's run ("" when the task
	// failed before its run was known).
	WorkflowType string
	TaskQueue    string
	// Latency is the time from receiving the task to settling it.
	Latency time.Duration
	// Outcome is one of TaskCompleted, TaskClosedRun, TaskRetried,
	// TaskDropped, TaskAbandoned.
	Outcome string
}

// RecordedEvents describes one committed decision.
type RecordedEvents struct {
	// Run is the run the decision belongs to; Run.StartTime is the time
	// of its WorkflowStarted event.
	Run Info
	// Parent is the parent run of a child run, else nil.
	Parent *history.RunRef
	// Events are the events the decision appended, in order. They are the
	// run's: read them, never change them.
	Events []history.Event
	r      *run
}

// Scheduled returns the ActivityScheduled event of the run's activity
// with that seq: the Cause of an ActivityCompleted or ActivityFailed.
func (e RecordedEvents) Scheduled(seq int64) (history.Event, bool) {
	if e.r == nil {
		return history.Event{}, false
	}
	a, ok := e.r.activities[seq]
	if !ok {
		return history.Event{}, false
	}
	return *a.scheduled, true
}

// Activity attempt outcomes (ActivityAttempt.Outcome).
const (
	AttemptCompleted = "completed" // the activity completed
	AttemptFailed    = "failed"    // failed for good (not retryable, or retries used up)
	AttemptRetrying  = "retrying"  // failed; another attempt follows after the back-off
	AttemptTimedOut  = "timed_out" // timed out for good
	AttemptReleased  = "released"  // given back unfinished by a worker shutting down
)

// ActivityAttempt describes one attempt of an activity.
type ActivityAttempt struct {
	WorkflowID   string
	RunID        string
	WorkflowType string
	Activity     string
	// TaskQueue is the activity's task queue.
	TaskQueue string
	// Attempt counts from 1.
	Attempt int
	// Latency is the attempt's run time (ActivityAttemptFinished only).
	Latency time.Duration
	// Outcome is one of AttemptCompleted, AttemptFailed, AttemptRetrying,
	// AttemptTimedOut, AttemptReleased (ActivityAttemptFinished only).
	Outcome string
	// Failure is the attempt's failure, if any.
	Failure *history.Failure
}

// BlockedRun names a blocked (or unblocked) run.
type BlockedRun struct {
	WorkflowID string
	RunID      string
	// Reason is the kind of block: NonDeterminismError,
	// WorkflowCodeError, UnknownWorkflowType, DecisionTooLarge,
	// StorageFull, ... (RunBlocked only).
	Reason string
}

// Backlog is one sample of a task queue's backlog.
type Backlog struct {
	// Kind is "workflow" or "activity".
	Kind      string
	TaskQueue string
	// Pending is the number of tasks not yet delivered to any worker
	// (the durable consumer's NumPending); AckPending those delivered and
	// not yet acknowledged.
	Pending    uint64
	AckPending int
}

// observeTask reports a handled workflow task; ri is the task's run, as
// far as the handler knew it.
func (w *Worker) observeTask(ri *Info, o outcome, since time.Time) {
	d := WorkflowTaskDone{WorkflowType: ri.WorkflowType, TaskQueue: ri.TaskQueue, Latency: time.Since(since)}
	switch o.kind {
	case taskDone:
		d.Outcome = TaskCompleted
	case taskClosedRun:
		d.Outcome = TaskClosedRun
	case taskRetry:
		d.Outcome = TaskRetried
	case taskDrop:
		d.Outcome = TaskDropped
	default:
		d.Outcome = TaskAbandoned
	}
	w.opts.Observer.WorkflowTaskHandled(d)
}

// observeDecision reports a committed decision, and the end of a block if
// the run was blocked. It runs right after r.commit(rec), before the
// blocked marks are cleared.
func (w *Worker) observeDecision(r *run, rec history.Record) {
	obs := w.opts.Observer
	obs.EventsRecorded(RecordedEvents{Run: r.info, Parent: r.parent, Events: rec.Events, r: r})
	_, full := w.fullBlocked.Load(r.info.RunID)
	if r.blockedMark || full {
		obs.RunUnblocked(BlockedRun{WorkflowID: r.info.WorkflowID, RunID: r.info.RunID})
	}
}

// attemptOutcome names an activity attempt's outcome for the Observer.
func attemptOutcome(f *history.Failure, retry bool) string {
	switch {
	case f == nil:
		return AttemptCompleted
	case retry:
		return AttemptRetrying
	case f.Type == TimeoutErrorType:
		return AttemptTimedOut
	}
	return AttemptFailed
}

// backlogSource is a consumer whose backlog the sampler reports.
type backlogSource struct {
	kind, queue string
	cs          []jetstream.Consumer // one per partition: summed
}

// defaultBacklogInterval is how often the backlog is sampled.
const defaultBacklogInterval = 5 * time.Second

// sampleBacklog returns a loop that reports the backlog of srcs to the
// Observer until ctx is done: one consumer info request per source and
// interval.
func (w *Worker) sampleBacklog(ctx context.Context, srcs []backlogSource) func() error {
	every := defaultBacklogInterval
	if bi, ok := w.opts.Observer.(BacklogIntervaler); ok {
		every = bi.BacklogInterval()
	}
	return func() error {
		if every <= 0 || len(srcs) == 0 {
			return nil
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
		sources:
			for _, s := range srcs {
				b := Backlog{Kind: s.kind, TaskQueue: s.queue}
				for _, c := range s.cs {
					ictx, cancel := context.WithTimeout(ctx, every)
					ci, err := c.Info(ictx)
					cancel()
					if err != nil {
						if ctx.Err() == nil {
							w.log.Debug("worker: sample backlog", "queue", s.queue, "kind", s.kind, "err", err)
						}
						continue sources
					}
					b.Pending += ci.NumPending
					b.AckPending += ci.NumAckPending
				}
				w.opts.Observer.BacklogSampled(b)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
