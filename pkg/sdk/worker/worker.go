// Package worker runs registered workflows and activities: it pulls tasks
// from JetStream, runs the code and records the outcome.
package worker

import (
	"context"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

// Options tune a worker; see engine.WorkerOptions for the defaults.
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
