// Package worker runs registered workflows and activities: it pulls tasks
// from JetStream, runs the code and records the outcome.
package worker

import (
	"context"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

// Options tune a worker. Zero fields take the defaults. The fields:
//
//	type Options struct {
//		// TaskQueues served (default: "default").
//		TaskQueues []string
//		// Identity names this worker in the history (default host:pid).
//		Identity string
//		// MaxConcurrentWorkflowTasks handled at once (default 64).
//		MaxConcurrentWorkflowTasks int
//		// MaxConcurrentActivities run at once (default 64).
//		MaxConcurrentActivities int
//		// WorkflowTaskTimeout: a workflow task not acked within it (a
//		// crashed worker) goes to another worker (default 10s).
//		WorkflowTaskTimeout time.Duration
//		// ActivityTaskTimeout: an activity task whose worker stops
//		// renewing it for this long goes to another worker, which records
//		// the lost attempt as timed out and runs the next (default 2s).
//		ActivityTaskTimeout time.Duration
//		// CacheSize is the most runs kept in memory, suspended where
//		// their code waits (default 5,000; the least recently used idle
//		// run is evicted beyond it and replays on its next task).
//		CacheSize int
//		// CacheIdleTimeout evicts a cached run no task touched for this
//		// long (default 1 minute; negative: only CacheSize evicts).
//		CacheIdleTimeout time.Duration
//		// ShutdownTimeout bounds how long Run waits for running
//		// activities once its context is done; those still running are
//		// cancelled and released for redelivery (default 10s).
//		ShutdownTimeout time.Duration
//		// DeadlockTimeout: workflow code that runs this long without
//		// yielding is a deadlock (DF1006) and its run is blocked (default
//		// 1s; negative: never).
//		DeadlockTimeout time.Duration
//		// WorkflowPanicPolicy: what a panic in workflow code does to its
//		// run: BlockWorkflow (the default) or FailWorkflow.
//		WorkflowPanicPolicy WorkflowPanicPolicy
//		// LenientInputs names activities and workflows whose input replay
//		// does not compare with the recorded one (by default a changed
//		// input is a non-determinism, DF1004); workflow.GetVersion is the
//		// better way to change an argument of runs in flight.
//		LenientInputs []string
//		// Logger (default slog.Default()).
//		Logger *slog.Logger
//		// ClosedRunRetention, if positive, deletes closed runs once they
//		// closed longer ago than this (zero: keep them).
//		ClosedRunRetention time.Duration
//		// Observer, if set, is told about tasks, decisions, activity
//		// attempts, blocked runs and the backlog: pkg/sdk/metrics and
//		// pkg/sdk/tracing implement it (nil: nothing, at no cost).
//		Observer engine.Observer
//	}
type Options = engine.WorkerOptions

// WorkflowPanicPolicy is what a panic in workflow code (or a recorded value
// that does not decode into the code's types) does to its run
// (Options.WorkflowPanicPolicy).
type WorkflowPanicPolicy = engine.WorkflowPanicPolicy

const (
	// BlockWorkflow (the default) blocks the run (DF1005, a
	// WorkflowTaskFailed with the panic and its stack) and retries its
	// task, so a worker with fixed code continues it from its history.
	BlockWorkflow = engine.BlockWorkflow
	// FailWorkflow fails the run with the panic (WorkflowFailed).
	FailWorkflow = engine.FailWorkflow
)

// RegisterOptions name a workflow or activity explicitly.
type RegisterOptions struct {
	// Name (default: the function's short name).
	Name string
}

// Worker serves one or more task queues.
type Worker struct {
	c    *client.Client
	reg  *engine.Registry
	opts Options
}

// New returns a worker that uses c's connection.
func New(c *client.Client, opts Options) *Worker {
	return &Worker{c: c, reg: engine.NewRegistry(), opts: opts}
}

// RegisterWorkflow registers a workflow function
// func(workflow.Context, args...) (T, error) under its short name.
func (w *Worker) RegisterWorkflow(fn any) error { return w.reg.RegisterWorkflow(fn, "") }

// RegisterWorkflowWithOptions registers a workflow under o.Name.
func (w *Worker) RegisterWorkflowWithOptions(fn any, o RegisterOptions) error {
	return w.reg.RegisterWorkflow(fn, o.Name)
}

// RegisterActivity registers an activity function
// func(context.Context, args...) (T, error) under its short name, or every
// exported method of a struct pointer.
func (w *Worker) RegisterActivity(fn any) error { return w.reg.RegisterActivity(fn, "") }

// RegisterActivityWithOptions registers an activity under o.Name (a name
// prefix for a struct pointer).
func (w *Worker) RegisterActivityWithOptions(fn any, o RegisterOptions) error {
	return w.reg.RegisterActivity(fn, o.Name)
}

// Run serves until ctx is done, then shuts down gracefully: tasks in hand
// finish (activities get Options.ShutdownTimeout), the rest are released for
// redelivery.
func (w *Worker) Run(ctx context.Context) error {
	ew, err := engine.NewWorker(w.c.Store(), w.reg, w.opts)
	if err != nil {
		return err
	}
	return ew.Run(ctx)
}
