package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is where a run stands.
type Status string

// Statuses, as written in the runs index and in every -o json output.
const (
	StatusRunning    Status = "running"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	StatusTerminated Status = "terminated"
	StatusTimedOut   Status = "timed_out"
	// StatusContinuedAsNew is the status of a run that goes on in a new run
	// of the same workflow ID (the runs index shows the new run).
	StatusContinuedAsNew Status = "continued_as_new"
)

// IsClosed reports whether a run in this status has ended.
func (s Status) IsClosed() bool { return s != StatusRunning && s != StatusBlocked && s != "" }

// RunInfo is a run's entry in the runs index (the latest run of a workflow
// ID) and the object dfctl prints for it.
type RunInfo struct {
	WorkflowID   string           `json:"workflow_id"`
	RunID        string           `json:"run_id"`
	Type         string           `json:"type"`
	TaskQueue    string           `json:"task_queue"`
	Status       Status           `json:"status"`
	StartTime    time.Time        `json:"start_time"`
	CloseTime    *time.Time       `json:"close_time,omitempty"`
	LastEventSeq int64            `json:"last_event_seq,omitempty"`
	Result       json.RawMessage  `json:"result,omitempty"`
	Failure      *history.Failure `json:"failure,omitempty"`
	// ContinuedFrom is the run this one continues (continue-as-new); Next,
	// for a run that continued as new, the run it continues in.
	ContinuedFrom string `json:"continued_from,omitempty"`
	Next          string `json:"next_run_id,omitempty"`
	// Parent is the run that started this one as its child.
	Parent *history.RunRef `json:"parent,omitempty"`
	// Blocked says why a running run cannot make progress (unknown workflow
	// type, non-deterministic code), until a worker that can run it comes.
	Blocked string `json:"blocked,omitempty"`
	// StartTask is the stream sequence of the run's start task (task
	// stream), written before the ID was reserved: whoever finds the run
	// reserved but without history completes its start from it (start.go).
	StartTask uint64 `json:"start_task_seq,omitempty"`
}

func (s *Store) runKey(workflowID string) (string, error) {
	return history.EncodeID(workflowID)
}

// createRun reserves the workflow ID for a new run: refused while a run of
// the same ID is running.
func (s *Store) createRun(ctx context.Context, info *RunInfo) error {
	_, err := s.createRunRev(ctx, info)
	return err
}

// createRunRev is createRun; it returns the revision of the entry it wrote
// (0: the entry was this run's already).
func (s *Store) createRunRev(ctx context.Context, info *RunInfo) (uint64, error) {
	key, err := s.runKey(info.WorkflowID)
	if err != nil {
		return 0, err
	}
	data := marshalRunInfo(info)
	for {
		rev, err := s.runs.Create(ctx, key, data)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("runs index: %w", err)
		}
		e, err := s.runs.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("runs index: %w", err)
		}
		var cur RunInfo
		if err := unmarshalRunInfo(e.Value(), &cur); err != nil {
			return 0, fmt.Errorf("runs index: entry for %q: %w", info.WorkflowID, err)
		}
		if cur.RunID == info.RunID {
			// Reserved by an earlier attempt of this very start, which may
			// have died before its index write.
			return 0, s.repairIndex(ctx, key, e)
		}
		if !cur.Status.IsClosed() {
			return 0, fmt.Errorf("%w: workflow %q has run %s (%s) open; wait for it, cancel or terminate it, or use another ID", ErrWorkflowAlreadyRunning, info.WorkflowID, cur.RunID, cur.Type)
		}
		if s.hasHistory(ctx, info) {
			// The run started already: a worker took its start task and
			// reserved the ID while this client was slow, and the run (or
			// the chain it continued as new into) has closed since. Taking
			// the ID again would show a closed run as running forever.
			return 0, nil
		}
		if rev, err := s.updateRunEntry(ctx, key, e.Value(), data, e.Revision()); err == nil {
			return rev, nil
		} else if !isWrongLastSeq(err) {
			return 0, fmt.Errorf("runs index: %w", err)
		}
	}
}

// isWrongLastSeq: a compare-and-set on the runs bucket lost a race.
func isWrongLastSeq(err error) bool {
	return history.IsWrongLastSeq(err) || errors.Is(err, jetstream.ErrKeyExists)
}

// updateRun applies change to the index entry of the run, if it is still the
// workflow's latest run; it is a no-op otherwise (a later run took the ID).
func (s *Store) updateRun(ctx context.Context, workflowID, runID string, change func(*RunInfo) bool) error {
	return s.updateRunFrom(ctx, workflowID, runID, change, nil)
}

// updateRunFrom is updateRun, trying first the entry first delivers (nil:
// none), read a moment ago: a compare-and-set from it fails if the entry
// changed since, and then the entry is read again. Only a change is
// made from it: an entry it says needs none is read again first.
func (s *Store) updateRunFrom(ctx context.Context, workflowID, runID string, change func(*RunInfo) bool, first *entryFetch) error {
	key, err := s.runKey(workflowID)
	if err != nil {
		return err
	}
	for {
		var e jetstream.KeyValueEntry
		prefetched := first != nil
		if prefetched {
			e, err = first.get()
			first = nil
			if err != nil {
				continue // read it now
			}
		} else {
			e, err = s.runs.Get(ctx, key)
		}
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("runs index: %w", err)
		}
		var cur RunInfo
		if err := unmarshalRunInfo(e.Value(), &cur); err != nil {
			return fmt.Errorf("runs index: %w", err)
		}
		changed := cur.RunID == runID && change(&cur)
		if prefetched && !changed {
			continue // decided on the entry as it is now
		}
		if !changed {
			// Nothing to change: a retry of a change whose index write
			// was lost (index.go) repairs it here.
			return s.repairIndex(ctx, key, e)
		}
		data := marshalRunInfo(&cur)
		if _, err := s.updateRunEntry(ctx, key, e.Value(), data, e.Revision()); err == nil {
			return nil
		} else if !isWrongLastSeq(err) {
			return fmt.Errorf("runs index: %w", err)
		}
	}
}

// closeRun records a closing event in the index.
func (s *Store) closeRun(ctx context.Context, workflowID, runID string, ev *history.Event) error {
	return s.closeRunFrom(ctx, workflowID, runID, ev, nil)
}

// closeRunFrom is closeRun, from the entry first read a moment ago (nil:
// none).
func (s *Store) closeRunFrom(ctx context.Context, workflowID, runID string, ev *history.Event, first *entryFetch) error {
	return s.updateRunFrom(ctx, workflowID, runID, func(ri *RunInfo) bool {
		if ri.Status.IsClosed() {
			return false
		}
		t := ev.Time
		ri.CloseTime = &t
		ri.LastEventSeq = ev.Seq
		ri.Blocked = ""
		ri.Status, ri.Result, ri.Failure = closedStatus(ev)
		return true
	}, first)
}

// entryFetch is a read of a runs entry under way.
type entryFetch struct {
	done chan struct{}
	e    jetstream.KeyValueEntry
	err  error
}

// get waits for the read.
func (f *entryFetch) get() (jetstream.KeyValueEntry, error) {
	<-f.done
	return f.e, f.err
}

// prefetchRunEntry starts reading the runs entry of a workflow ID, for a
// change that is to follow a write under way (the close of a run follows
// the append of its closing record: one round trip less before its
// result is seen). nil: an ID with no key.
func (s *Store) prefetchRunEntry(ctx context.Context, workflowID string) *entryFetch {
	key, err := s.runKey(workflowID)
	if err != nil {
		return nil
	}
	f := &entryFetch{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.e, f.err = s.runs.Get(ctx, key)
	}()
	return f
}

// closedStatus is the status, result and failure a closing event gives.
func closedStatus(ev *history.Event) (Status, json.RawMessage, *history.Failure) {
	switch ev.Type {
	case history.WorkflowCompleted:
		return StatusCompleted, ev.Result, nil
	case history.WorkflowCanceled:
		return StatusCanceled, nil, ev.Failure
	case history.WorkflowTerminated:
		return StatusTerminated, nil, ev.Failure
	case history.WorkflowContinuedAsNew:
		return StatusContinuedAsNew, nil, nil
	case history.WorkflowTimedOut:
		return StatusTimedOut, nil, ev.Failure
	}
	return StatusFailed, nil, ev.Failure
}

// setBlocked records (or clears, with "") why a run cannot progress.
func (s *Store) setBlocked(ctx context.Context, workflowID, runID, why string) error {
	return s.updateRun(ctx, workflowID, runID, func(ri *RunInfo) bool {
		if ri.Status.IsClosed() || ri.Blocked == why {
			return false
		}
		ri.Blocked = why
		return true
	})
}

// GetRun returns the index entry of a workflow ID (its latest run).
func (s *Store) GetRun(ctx context.Context, workflowID string) (*RunInfo, error) {
	key, err := s.runKey(workflowID)
	if err != nil {
		return nil, err
	}
	e, err := s.runs.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: no workflow with ID %q (dfctl list shows the known ones)", ErrWorkflowNotFound, workflowID)
	}
	if err != nil {
		return nil, fmt.Errorf("runs index: read %q: %w", workflowID, unavailable(err))
	}
	var ri RunInfo
	if err := unmarshalRunInfo(e.Value(), &ri); err != nil {
		return nil, fmt.Errorf("runs index: entry for %q: %w", workflowID, err)
	}
	return &ri, nil
}

// ListFilter selects runs: the latest run of each workflow ID. Zero
// fields select everything.
type ListFilter struct {
	// Status: a run status, or StatusBlocked (running runs that cannot
	// progress); StatusRunning includes the blocked ones.
	Status Status
	Type   string
	Limit  int
	// StartedAfter and StartedBefore bound the run's start time (zero: no
	// bound): StartedAfter <= start < StartedBefore.
	StartedAfter, StartedBefore time.Time
	// TaskQueue selects the runs of one task queue.
	TaskQueue string
	// IDPrefix selects the workflow IDs that start with it.
	IDPrefix string
	// ClosedAfter and ClosedBefore bound the close time (either set: closed
	// runs only): ClosedAfter <= close < ClosedBefore.
	ClosedAfter, ClosedBefore time.Time
	// After is the cursor of PageRuns: RunPage.Next of the page before.
	After string
}

// ListRuns returns the latest run of each workflow ID that matches, newest
// (start time) first. It reads the runs bucket itself, so it sees every
// change as soon as it is made; PageRuns, ScanRuns and CountRuns
// (index_query.go) read the visibility index and scale.
func (s *Store) ListRuns(ctx context.Context, f ListFilter) ([]RunInfo, error) {
	if err := ValidateStatusFilter(f.Status); err != nil {
		return nil, err
	}
	// One watcher reads the whole bucket in a single pass (no Get per key).
	w, err := s.runs.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("runs index: %w", err)
	}
	defer w.Stop()
	var out []RunInfo
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, fmt.Errorf("runs index: %w", ctx.Err())
		}
		if e == nil {
			break
		}
		var ri RunInfo
		if unmarshalRunInfo(e.Value(), &ri) != nil {
			continue
		}
		if f.matches(&ri) {
			out = append(out, ri)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartTime.Equal(out[j].StartTime) {
			return out[i].StartTime.After(out[j].StartTime)
		}
		return out[i].WorkflowID < out[j].WorkflowID
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func decodeRunInfo(data []byte) (RunInfo, error) {
	var ri RunInfo
	if err := unmarshalRunInfo(data, &ri); err != nil {
		return ri, fmt.Errorf("runs index: %w", err)
	}
	return ri, nil
}
