// Package metrics exports a worker's activity as Prometheus metrics:
// workflow tasks, recorded events, closed runs, activity attempts (and so
// retries), blocked runs and the task backlog. It is opt-in: a worker that
// does not set worker.Options.Observer links neither this package nor
// Prometheus.
//
//	obs, err := metrics.New(metrics.Options{})
//	if err != nil { ... }
//	srv, err := metrics.Serve("127.0.0.1:9464") // GET /metrics
//	if err != nil { ... }
//	defer srv.Close()
//	w := worker.New(c, worker.Options{Observer: obs})
//
// One Observer may serve any number of workers in a process (the labels
// tell their task queues apart); New on a registry that already holds
// these metrics returns an Observer that shares them.
//
// Counts come from events as they are recorded, never from replays: a run
// reloaded by another worker after a crash, or after a cache eviction, is
// not counted twice. The metric names and labels are listed in
// docs/observability.md.
package metrics

import (
	"errors"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure an Observer.
type Options struct {
	// Registry the metrics are registered on (default: Prometheus's
	// default registry, served by Handler and Serve).
	Registry *prometheus.Registry
	// BacklogInterval is how often each worker reads the backlog of its
	// task queues (one consumer info request per queue and kind; default
	// 5s, negative: never).
	BacklogInterval time.Duration
	// BlockedTTL: a run counted in durablefuture_blocked_runs that no task
	// of this process has found blocked again for this long is no longer
	// counted (another worker took it, or it was reset or terminated).
	// The blocked task is retried at least once a minute; default 3m.
	BlockedTTL time.Duration
}

// Observer records a worker's activity as Prometheus metrics. Set it as
// worker.Options.Observer.
type Observer struct {
	engine.NopObserver
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer
	interval time.Duration

	wfTasks      *prometheus.CounterVec
	wfTaskTime   *prometheus.HistogramVec
	events       *prometheus.CounterVec
	runsClosed   *prometheus.CounterVec
	runTime      *prometheus.HistogramVec
	attempts     *prometheus.CounterVec
	attemptTime  *prometheus.HistogramVec
	actRunning   *prometheus.GaugeVec
	blocks       *prometheus.CounterVec
	blocked      *blockedRuns
	backlog      *prometheus.GaugeVec
	backlogInAck *prometheus.GaugeVec
}

var _ engine.Observer = (*Observer)(nil)

// Latency buckets in seconds: a workflow task or an activity attempt
// takes from under a millisecond to many seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Run duration buckets in seconds: from a blink to a week.
var runBuckets = []float64{.01, .05, .25, 1, 5, 30, 120, 600, 3600, 6 * 3600, 86400, 7 * 86400}

// New registers the metrics and returns an Observer that records them.
func New(o Options) (*Observer, error) {
	if o.BacklogInterval == 0 {
		o.BacklogInterval = 5 * time.Second
	}
	if o.BlockedTTL <= 0 {
		o.BlockedTTL = 3 * time.Minute
	}
	obs := &Observer{reg: prometheus.DefaultRegisterer, gatherer: prometheus.DefaultGatherer, interval: o.BacklogInterval}
	if o.Registry != nil {
		obs.reg, obs.gatherer = o.Registry, o.Registry
	}
	const ns = "durablefuture"
	var err error
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		return register(obs.reg, c, &err)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets}, labels)
		return register(obs.reg, h, &err)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
		return register(obs.reg, g, &err)
	}
	obs.wfTasks = counter("workflow_tasks_total",
		"Workflow tasks handled, by outcome (completed, closed, retry, dropped, abandoned).",
		"workflow_type", "task_queue", "outcome")
	obs.wfTaskTime = histogram("workflow_task_duration_seconds",
		"Time from receiving a workflow task to settling it.", latencyBuckets,
		"workflow_type", "task_queue", "outcome")
	obs.events = counter("events_recorded_total",
		"History events appended by committed decisions (never counted on replay).",
		"workflow_type", "task_queue", "event_type")
	obs.runsClosed = counter("workflows_closed_total",
		"Runs closed by a decision, by outcome (completed, failed, canceled, continued_as_new, timed_out).",
		"workflow_type", "task_queue", "outcome")
	obs.runTime = histogram("workflow_duration_seconds",
		"Run duration, from its WorkflowStarted event to its closing event.", runBuckets,
		"workflow_type", "task_queue", "outcome")
	obs.attempts = counter("activity_attempts_total",
		"Activity attempts finished, by outcome (completed, failed, retrying, timed_out, released); outcome=\"retrying\" counts retries.",
		"activity", "task_queue", "outcome")
	obs.attemptTime = histogram("activity_attempt_duration_seconds",
		"Run time of an activity attempt.", latencyBuckets,
		"activity", "task_queue", "outcome")
	obs.actRunning = gauge("activities_running",
		"Activity attempts running in this process.",
		"activity", "task_queue")
	obs.blocks = counter("run_blocks_total",
		"Runs found blocked (non-determinism, a panic, a decision too large, storage full), counted once per run and process.",
		"reason")
	obs.backlog = gauge("task_backlog",
		"Tasks waiting on a task queue, not yet delivered to a worker (the durable consumer's NumPending), sampled.",
		"kind", "task_queue")
	obs.backlogInAck = gauge("tasks_in_flight",
		"Tasks delivered to a worker and not yet acknowledged (the durable consumer's NumAckPending), sampled.",
		"kind", "task_queue")
	obs.blocked = register(obs.reg, newBlockedRuns(o.BlockedTTL), &err)
	if err != nil {
		return nil, err
	}
	return obs, nil
}

// register registers c, or returns the collector already registered in
// its place (a second Observer on one registry shares the metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = err
	}
	return c
}

// BacklogInterval is how often a worker samples its backlog.
func (o *Observer) BacklogInterval() time.Duration { return o.interval }

// WorkflowTaskHandled implements engine.Observer.
func (o *Observer) WorkflowTaskHandled(d engine.WorkflowTaskDone) {
	o.wfTasks.WithLabelValues(d.WorkflowType, d.TaskQueue, d.Outcome).Inc()
	o.wfTaskTime.WithLabelValues(d.WorkflowType, d.TaskQueue, d.Outcome).Observe(d.Latency.Seconds())
}

// EventsRecorded implements engine.Observer.
func (o *Observer) EventsRecorded(e engine.RecordedEvents) {
	typ, q := e.Run.WorkflowType, e.Run.TaskQueue
	for _, ev := range e.Events {
		o.events.WithLabelValues(typ, q, string(ev.Type)).Inc()
		if out := closeOutcome(ev.Type); out != "" {
			o.runsClosed.WithLabelValues(typ, q, out).Inc()
			if !e.Run.StartTime.IsZero() {
				o.runTime.WithLabelValues(typ, q, out).Observe(ev.Time.Sub(e.Run.StartTime).Seconds())
			}
		}
	}
}

// closeOutcome names a closing event's outcome ("" for other events).
func closeOutcome(t history.EventType) string {
	switch t {
	case history.WorkflowCompleted:
		return "completed"
	case history.WorkflowFailed:
		return "failed"
	case history.WorkflowCanceled:
		return "canceled"
	case history.WorkflowContinuedAsNew:
		return "continued_as_new"
	case history.WorkflowTimedOut:
		return "timed_out"
	case history.WorkflowTerminated:
		return "terminated"
	}
	return ""
}

// ActivityAttemptStarted implements engine.Observer.
func (o *Observer) ActivityAttemptStarted(a engine.ActivityAttempt) {
	o.actRunning.WithLabelValues(a.Activity, a.TaskQueue).Inc()
}

// ActivityAttemptFinished implements engine.Observer.
func (o *Observer) ActivityAttemptFinished(a engine.ActivityAttempt) {
	o.actRunning.WithLabelValues(a.Activity, a.TaskQueue).Dec()
	o.attempts.WithLabelValues(a.Activity, a.TaskQueue, a.Outcome).Inc()
	o.attemptTime.WithLabelValues(a.Activity, a.TaskQueue, a.Outcome).Observe(a.Latency.Seconds())
}

// RunBlocked implements engine.Observer.
func (o *Observer) RunBlocked(b engine.BlockedRun) {
	if o.blocked.add(b.RunID, b.Reason) {
		o.blocks.WithLabelValues(b.Reason).Inc()
	}
}

// RunUnblocked implements engine.Observer.
func (o *Observer) RunUnblocked(b engine.BlockedRun) { o.blocked.remove(b.RunID) }

// BacklogSampled implements engine.Observer.
func (o *Observer) BacklogSampled(b engine.Backlog) {
	o.backlog.WithLabelValues(b.Kind, b.TaskQueue).Set(float64(b.Pending))
	o.backlogInAck.WithLabelValues(b.Kind, b.TaskQueue).Set(float64(b.AckPending))
}
