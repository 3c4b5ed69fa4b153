// Package client starts workflows and reads their state and results.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
)

// Options say how to reach the server and which installation to use.
type Options struct {
	// URL of the NATS server (default nats.DefaultURL). Ignored with Conn.
	URL string
	// Conn is an existing connection to use; Close leaves it open.
	Conn *nats.Conn
	// NatsOptions are passed to nats.Connect (credentials, TLS, ...).
	NatsOptions []nats.Option
	// Prefix, Replicas and Storage of the JetStream resources.
	Prefix   string
	Replicas int
	Storage  string
	// Partitions spreads the runs over that many history streams and task
	// streams, for a JetStream cluster to spread their leaders over its
	// nodes (engine.Config.Partitions). 0: the installation's number (1
	// for a new one); another number than the installation's is an error.
	Partitions int
	// ConnectTimeout bounds dialing and setting up (default 5s).
	ConnectTimeout time.Duration
	// OpenExisting binds to the streams and buckets of an existing
	// installation and creates none: for tools that only read. Dial then
	// fails with an error wrapping engine.ErrNoInstallation when the server
	// has none with Prefix.
	OpenExisting bool
}

// Client talks to one installation.
type Client struct {
	store    *engine.Store
	ownsConn bool
}

type (
	// RunInfo is a run's state (Describe, ListWorkflows), and the object
	// dfctl prints with -o json. The fields, with their JSON names:
	//
	//	type RunInfo struct {
	//		WorkflowID   string           // workflow_id
	//		RunID        string           // run_id
	//		Type         string           // type: the workflow type
	//		TaskQueue    string           // task_queue
	//		Status       Status           // status
	//		StartTime    time.Time        // start_time
	//		CloseTime    *time.Time       // close_time: nil while running
	//		LastEventSeq int64            // last_event_seq
	//		Result       json.RawMessage  // result: JSON, when completed
	//		Failure      *history.Failure // failure: when it did not complete
	//		// ContinuedFrom is the run this one continues (continue-as-new);
	//		// Next, for a run that continued as new, the run it continues in.
	//		ContinuedFrom string          // continued_from
	//		Next          string          // next_run_id
	//		Parent        *history.RunRef // parent: of a child workflow
	//		// Blocked says why a running run cannot make progress (an
	//		// unknown workflow type, non-deterministic code) until a worker
	//		// that can run it comes.
	//		Blocked   string // blocked
	//		StartTask uint64 // start_task_seq: internal
	//	}
	RunInfo = engine.RunInfo
	// Status of a run: "running", "completed", "failed", "canceled",
	// "terminated", "timed_out" (and "continued_as_new" for a run that
	// continued in a new one).
	Status = engine.Status
	// ListFilter selects runs (ListWorkflows): the latest run of each
	// workflow ID. Zero fields select everything. The main fields:
	//
	//	type ListFilter struct {
	//		Status Status // only runs in this status ("": any)
	//		Type   string // only runs of this workflow type ("": any)
	//		Limit  int    // at most this many runs (0: all)
	//		// StartedAfter and StartedBefore bound the run's start time
	//		// (zero: no bound): StartedAfter <= start < StartedBefore.
	//		StartedAfter, StartedBefore time.Time
	//		TaskQueue string // only runs of this task queue
	//		IDPrefix  string // only workflow IDs that start with it
	//		...
	//	}
	//
	// All of them: go doc github.com/durablefuture/durablefuture/pkg/engine ListFilter
	ListFilter = engine.ListFilter
)

// Dial connects and makes sure the streams and buckets exist (unless
// OpenExisting).
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	nc := o.Conn
	owns := false
	if nc == nil {
		url := o.URL
		if url == "" {
			url = nats.DefaultURL
		}
		opts := append([]nats.Option{nats.Timeout(o.ConnectTimeout), nats.Name("durablefuture")}, o.NatsOptions...)
		var err error
		nc, err = nats.Connect(url, opts...)
		if err != nil {
			return nil, fmt.Errorf("cannot connect to NATS at %s: %w (start a development server with `dfctl dev`, or pass --server)",
				natsurl.Redact(url), natsurl.RedactErr(err, url))
		}
		owns = true
	}
	sctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	open := engine.Open
	if o.OpenExisting {
		open = engine.OpenExisting
	}
	store, err := open(sctx, nc, engine.Config{Prefix: o.Prefix, Replicas: o.Replicas, Storage: o.Storage, Partitions: o.Partitions})
	if err != nil {
		connected, where := nc.IsConnected(), natsurl.Redact(nc.ConnectedUrl())
		if owns {
			nc.Close()
		}
		if errors.Is(err, context.DeadlineExceeded) && connected {
			return nil, fmt.Errorf("%w (is JetStream enabled on %s?)", err, where)
		}
		return nil, err
	}
	return &Client{store: store, ownsConn: owns}, nil
}

// Close closes the connection if the client opened it.
func (c *Client) Close() {
	c.store.Close()
	if c.ownsConn {
		c.store.NC.Close()
	}
}

// Store gives access to the engine (for workers built on this client).
func (c *Client) Store() *engine.Store { return c.store }

// StartOptions say how to start a run.
type StartOptions struct {
	// ID is the workflow ID (default: a new UUID). Starting an ID that has
	// a run open is refused with ErrWorkflowAlreadyRunning.
	ID string
	// TaskQueue of the workflow worker (default "default").
	TaskQueue string
	// WorkflowExecutionTimeout ends the run as timed_out if it is still
	// open this long after it started (0: no limit).
	WorkflowExecutionTimeout time.Duration
}

// WorkflowRun is a handle on one run.
type WorkflowRun interface {
	ID() string
	RunID() string
	// Get waits for the run to close and decodes its result into valuePtr
	// (which may be nil). A run that did not complete returns a
	// *WorkflowExecutionError wrapping the failure with its type and message.
	Get(ctx context.Context, valuePtr any) error
}

type workflowRun struct {
	c         *Client
	id, runID string
}

func (r *workflowRun) ID() string    { return r.id }
func (r *workflowRun) RunID() string { return r.runID }

func (r *workflowRun) Get(ctx context.Context, valuePtr any) error {
	ri, err := r.c.store.WaitClosed(ctx, r.id, r.runID)
	if err != nil {
		return err
	}
	if err := engine.ResultError(ri); err != nil {
		return err
	}
	return engine.DecodeResult("workflow "+r.id, ri.Result, valuePtr)
}

// ExecuteWorkflow starts a run of workflow (a function or a registered type
// name) with args and returns its handle without waiting.
func (c *Client) ExecuteWorkflow(ctx context.Context, o StartOptions, workflow any, args ...any) (WorkflowRun, error) {
	name := engine.FunctionName(workflow)
	input, err := engine.EncodeArgs("workflow", name, workflow, args)
	if err != nil {
		return nil, err
	}
	return c.StartJSON(ctx, o, name, input)
}

// StartJSON starts a run whose input is already a JSON array of arguments.
func (c *Client) StartJSON(ctx context.Context, o StartOptions, workflowType string, input json.RawMessage) (WorkflowRun, error) {
	ri, err := c.store.StartWorkflow(ctx, engine.StartRequest{WorkflowID: o.ID, TaskQueue: o.TaskQueue, Type: workflowType, Input: input,
		ExecutionTimeout: o.WorkflowExecutionTimeout})
	if err != nil {
		return nil, err
	}
	return &workflowRun{c: c, id: ri.WorkflowID, runID: ri.RunID}, nil
}

// SignalWorkflow sends the signal name with arg (any JSON-encodable value,
// or nil) to a running workflow (runID "": its latest run). A signal to a
// closed or unknown workflow is an error (ErrWorkflowClosed,
// ErrWorkflowNotFound).
func (c *Client) SignalWorkflow(ctx context.Context, id, runID, name string, arg any) error {
	input, err := json.Marshal(arg)
	if err != nil {
		return fmt.Errorf("signal %s: encode argument: %w", name, err)
	}
	return c.store.SignalWorkflow(ctx, id, runID, name, input)
}

// SignalWithStartWorkflow signals the workflow id if it is running, or
// starts it (o, workflow, args) and signals the new run.
func (c *Client) SignalWithStartWorkflow(ctx context.Context, id, name string, arg any, o StartOptions, workflow any, args ...any) (WorkflowRun, error) {
	sig, err := json.Marshal(arg)
	if err != nil {
		return nil, fmt.Errorf("signal %s: encode argument: %w", name, err)
	}
	typ := engine.FunctionName(workflow)
	input, err := engine.EncodeArgs("workflow", typ, workflow, args)
	if err != nil {
		return nil, err
	}
	ri, err := c.store.SignalWithStart(ctx, engine.StartRequest{WorkflowID: id, TaskQueue: o.TaskQueue, Type: typ, Input: input}, name, sig)
	if err != nil {
		return nil, err
	}
	return &workflowRun{c: c, id: ri.WorkflowID, runID: ri.RunID}, nil
}

// CancelWorkflow asks a running workflow to stop (runID "": the latest
// run): its context is cancelled and the code may clean up; the run ends as
// canceled unless the code completes otherwise.
func (c *Client) CancelWorkflow(ctx context.Context, id, runID, reason string) error {
	return c.store.CancelWorkflow(ctx, id, runID, reason)
}

// TerminateWorkflow ends a running workflow at once; no workflow code runs.
func (c *Client) TerminateWorkflow(ctx context.Context, id, runID, reason string) error {
	return c.store.TerminateWorkflow(ctx, id, runID, reason)
}

// GetWorkflow returns a handle on a run (runID "": the latest run of id).
func (c *Client) GetWorkflow(id, runID string) WorkflowRun {
	return &workflowRun{c: c, id: id, runID: runID}
}

// Describe returns a run's state (runID "": the latest run of id).
func (c *Client) Describe(ctx context.Context, id, runID string) (*RunInfo, error) {
	return c.store.Describe(ctx, id, runID)
}

// History returns a run's events (runID "": the latest run of id).
func (c *Client) History(ctx context.Context, id, runID string) ([]history.Event, error) {
	return c.store.History(ctx, id, runID)
}

// ListWorkflows returns the latest run of each matching workflow ID, newest first.
func (c *Client) ListWorkflows(ctx context.Context, f ListFilter) ([]RunInfo, error) {
	return c.store.ListRuns(ctx, f)
}

// PageWorkflows returns one page of the matching runs from the visibility
// index, most recently changed first, with the total that match and the
// cursor of the next page (ListFilter.After).
func (c *Client) PageWorkflows(ctx context.Context, f ListFilter) (*engine.RunPage, error) {
	return c.store.PageRuns(ctx, f)
}

// ScanWorkflows calls fn with every matching run from the visibility
// index, least recently changed first; an error from fn stops the scan.
func (c *Client) ScanWorkflows(ctx context.Context, f ListFilter, fn func(*RunInfo) error) error {
	return c.store.ScanRuns(ctx, f, fn)
}

// CountWorkflows returns how many runs match f.
func (c *Client) CountWorkflows(ctx context.Context, f ListFilter) (int, error) {
	return c.store.CountRuns(ctx, f)
}

// CountWorkflowsBy counts the matching runs by status and type.
func (c *Client) CountWorkflowsBy(ctx context.Context, f ListFilter) ([]engine.RunCount, int, error) {
	return c.store.CountRunsBy(ctx, f)
}

// DeleteWorkflow deletes a workflow ID whose latest run is closed: the
// history of all its runs and its index entries. A running run is refused.
func (c *Client) DeleteWorkflow(ctx context.Context, id string) (*RunInfo, error) {
	return c.store.DeleteRun(ctx, id)
}

// WaitClosed waits for a run to close and returns its final state.
func (c *Client) WaitClosed(ctx context.Context, id, runID string) (*RunInfo, error) {
	return c.store.WaitClosed(ctx, id, runID)
}
