package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// ContinueAsNewError, returned by a workflow, ends its run and starts a
// fresh run of the same workflow ID with new input and an empty history.
type ContinueAsNewError struct {
	WorkflowType string
	Input        json.RawMessage
}

func (e *ContinueAsNewError) Error() string {
	return "continue as new: " + e.WorkflowType
}

// NewContinueAsNewError returns the error that continues the workflow as a
// new run of workflow (a function or a type name) with args.
func NewContinueAsNewError(ctx Context, workflow any, args ...any) error {
	name := FunctionName(workflow)
	input, err := EncodeArgs("workflow", name, workflow, args)
	if err == nil {
		err = checkPayload("continue-as-new input", input)
	}
	if err != nil {
		return NewNonRetryableApplicationError(err.Error(), "ArgumentError")
	}
	return &ContinueAsNewError{WorkflowType: name, Input: input}
}

// nextRunID derives the run a run continues in, so that re-publishing the
// closing decision's requirements never starts two.
func nextRunID(runID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("durablefuture:"+runID+"/continue-as-new")).String()
}

// continueAsNew starts the next run of a run that continued as new: its
// start task is stored, the runs index entry moves to the new run (only
// from this run), then the new run's WorkflowStarted is written (start.go).
// Each step is idempotent.
func (s *Store) continueAsNew(ctx context.Context, r *run, ev *history.Event) error {
	next := ev.Next
	key, err := s.runKey(next.WorkflowID)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	started := history.Event{
		Seq: 1, Time: now, Type: history.WorkflowStarted, InputID: startInputID,
		Name: ev.Name, WorkflowID: next.WorkflowID, RunID: next.RunID, TaskQueue: next.TaskQueue, Input: ev.Input,
		Parent: r.parent, ContinuedFrom: r.info.RunID,
	}
	taskSeq, err := s.publishStart(ctx, started)
	if err != nil {
		return err
	}
	info := RunInfo{WorkflowID: next.WorkflowID, RunID: next.RunID, Type: ev.Name, TaskQueue: next.TaskQueue,
		Status: StatusRunning, StartTime: now, LastEventSeq: 1, Parent: r.parent, ContinuedFrom: r.info.RunID, StartTask: taskSeq}
	for {
		e, err := s.getRunEntry(ctx, key) // repairs the index entry (index.go)
		if err != nil {
			return fmt.Errorf("runs index: %w", err)
		}
		var cur RunInfo
		if err := unmarshalRunInfo(e.Value(), &cur); err != nil {
			return fmt.Errorf("runs index: %w", err)
		}
		if cur.RunID == next.RunID {
			break // moved already
		}
		if cur.RunID != r.info.RunID {
			return fmt.Errorf("continue as new: the runs index of %q names run %s, not %s", next.WorkflowID, cur.RunID, r.info.RunID)
		}
		data := marshalRunInfo(&info)
		if _, err := s.updateRunEntry(ctx, key, e.Value(), data, e.Revision()); err == nil {
			break
		} else if !isWrongLastSeq(err) {
			return fmt.Errorf("runs index: %w", err)
		}
	}
	_, err = s.appendStart(ctx, started, nil)
	return err
}

// purgeSchedules drops every scheduled message of a run.
func (s *Store) purgeSchedules(ctx context.Context, workflowID, runID string) error {
	p := s.partOf(workflowID)
	if err := s.tasksOf(p).Purge(ctx, jetstream.WithPurgeSubject(s.schedulesFilter(p, runID))); err != nil {
		return fmt.Errorf("drop the schedules of run %s: %w", runID, err)
	}
	return nil
}
