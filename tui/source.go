package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Source is what the inspector reads: the runs index and run histories.
// dfctl passes a StoreSource; tests pass fakes.
type Source interface {
	// ListRuns returns the latest run of every workflow ID, newest first.
	ListRuns(ctx context.Context) ([]engine.RunInfo, error)
	// Describe returns a run's state (runID "": the latest run).
	Describe(ctx context.Context, workflowID, runID string) (*engine.RunInfo, error)
	// ReadPage returns at most limit records of a run stored after stream
	// sequence after; fewer means the end of the log as it is now.
	ReadPage(ctx context.Context, workflowID, runID string, after uint64, limit int) ([]history.Record, error)
	// CountRecords returns how many records a run's log holds.
	CountRecords(ctx context.Context, workflowID, runID string) (uint64, error)
	// Follow yields the records stored after stream sequence after, then
	// each new one, until ctx ends.
	Follow(ctx context.Context, workflowID, runID string, after uint64) iter.Seq2[history.Record, error]

	// Signal sends a signal with a JSON value to a running workflow.
	Signal(ctx context.Context, workflowID, runID, name string, input json.RawMessage) error
	// Cancel asks a running workflow to stop; its code may clean up.
	Cancel(ctx context.Context, workflowID, runID, reason string) error
	// Terminate ends a running workflow at once.
	Terminate(ctx context.Context, workflowID, runID, reason string) error

	// ReplayRun asks a live worker of the run's task queue to replay its
	// history against the code it runs now (engine.ErrNoWorker: none
	// answered).
	ReplayRun(ctx context.Context, workflowID, runID string) (*engine.ReplayResult, error)
	// Reset starts a new run of a workflow from its run's history up to an
	// event (rounded down to a decision boundary); an open run is
	// terminated.
	Reset(ctx context.Context, req engine.ResetRequest) (*engine.ResetResult, error)

	// ActivityHeartbeat returns when a running activity (the seq of its
	// ActivityScheduled event) last heartbeat; ok is false if it never did.
	// The history does not record heartbeats.
	ActivityHeartbeat(ctx context.Context, runID string, seq int64) (at time.Time, ok bool, err error)
	// Stack asks a live worker of the run's task queue where the run's
	// workflow goroutines wait (the built-in query engine.StackQuery, as
	// dfctl stack; engine.ErrNoWorker: none answered).
	Stack(ctx context.Context, workflowID, runID string) (*engine.WorkflowStack, error)
}

// ConnectionState is what a Source that knows its connection tells: whether
// it is connected, and if not, what to show. The inspector asks it on every
// tick, so a lost server shows at once rather than when a read times out.
type ConnectionState interface {
	Connected() (ok bool, why string)
}

// StoreSource reads an engine store.
type StoreSource struct{ Store *engine.Store }

// ListRuns implements Source.
func (s StoreSource) ListRuns(ctx context.Context) ([]engine.RunInfo, error) {
	return s.Store.ListRuns(ctx, engine.ListFilter{})
}

// Describe implements Source.
func (s StoreSource) Describe(ctx context.Context, workflowID, runID string) (*engine.RunInfo, error) {
	return s.Store.Describe(ctx, workflowID, runID)
}

// ReadPage implements Source.
func (s StoreSource) ReadPage(ctx context.Context, workflowID, runID string, after uint64, limit int) ([]history.Record, error) {
	subj, err := s.Store.Log.Subject(workflowID, runID)
	if err != nil {
		return nil, err
	}
	return s.Store.Log.ReadPage(ctx, subj, after, limit)
}

// CountRecords implements Source.
func (s StoreSource) CountRecords(ctx context.Context, workflowID, runID string) (uint64, error) {
	subj, err := s.Store.Log.Subject(workflowID, runID)
	if err != nil {
		return 0, err
	}
	return s.Store.Log.CountRecords(ctx, subj)
}

// Follow implements Source.
func (s StoreSource) Follow(ctx context.Context, workflowID, runID string, after uint64) iter.Seq2[history.Record, error] {
	subj, err := s.Store.Log.Subject(workflowID, runID)
	if err != nil {
		return func(yield func(history.Record, error) bool) { yield(history.Record{}, err) }
	}
	return s.Store.Log.Follow(ctx, subj, after)
}

// Signal implements Source.
func (s StoreSource) Signal(ctx context.Context, workflowID, runID, name string, input json.RawMessage) error {
	return s.Store.SignalWorkflow(ctx, workflowID, runID, name, input)
}

// Cancel implements Source.
func (s StoreSource) Cancel(ctx context.Context, workflowID, runID, reason string) error {
	return s.Store.CancelWorkflow(ctx, workflowID, runID, reason)
}

// Terminate implements Source.
func (s StoreSource) Terminate(ctx context.Context, workflowID, runID, reason string) error {
	return s.Store.TerminateWorkflow(ctx, workflowID, runID, reason)
}

// ReplayRun implements Source.
func (s StoreSource) ReplayRun(ctx context.Context, workflowID, runID string) (*engine.ReplayResult, error) {
	return s.Store.ReplayRun(ctx, workflowID, runID)
}

// Reset implements Source.
func (s StoreSource) Reset(ctx context.Context, req engine.ResetRequest) (*engine.ResetResult, error) {
	return s.Store.ResetWorkflow(ctx, req)
}

// ActivityHeartbeat implements Source.
func (s StoreSource) ActivityHeartbeat(ctx context.Context, runID string, seq int64) (time.Time, bool, error) {
	_, at, ok, err := s.Store.ActivityHeartbeat(ctx, runID, seq)
	return at, ok, err
}

// Stack implements Source.
func (s StoreSource) Stack(ctx context.Context, workflowID, runID string) (*engine.WorkflowStack, error) {
	raw, err := s.Store.QueryWorkflow(ctx, workflowID, runID, engine.StackQuery, nil)
	if err != nil {
		return nil, err
	}
	var ws engine.WorkflowStack
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, fmt.Errorf("stack of workflow %q: the worker's answer does not decode (an older worker?): %w", workflowID, err)
	}
	return &ws, nil
}

// Connected implements ConnectionState.
func (s StoreSource) Connected() (bool, string) {
	if s.Store.NC == nil || s.Store.NC.IsConnected() {
		return true, ""
	}
	return false, "server connection " + strings.ToLower(s.Store.NC.Status().String()) + ": showing what was read; reading again once it is back"
}
