package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/google/uuid"
)

// ResetRequest says where to reset a run to.
type ResetRequest struct {
	WorkflowID, RunID string
	// ToEvent is the last event to keep; it is rounded down to the end of
	// the decision that contains it.
	ToEvent int64
	Reason  string
	// ReapplySignals sends the signals received after the kept part to the
	// new run again, in their order.
	ReapplySignals bool
}

// ResetResult says what a reset did.
type ResetResult struct {
	WorkflowID string `json:"workflow_id"`
	OldRunID   string `json:"old_run_id"`
	RunID      string `json:"run_id"`
	// Requested is the event asked for; KeptThrough the last event kept.
	Requested    int64 `json:"requested_event"`
	KeptThrough  int64 `json:"kept_through_event"`
	Reapplied    int   `json:"reapplied_signals"`
	OldTerminate bool  `json:"old_run_terminated"`
}

// ResetBoundary returns the records a reset to toEvent keeps and the last
// event kept. Whole records up to toEvent are kept; of a decision that
// toEvent cuts, its input events up to toEvent are kept (as an input
// record) and its commands dropped, so the code deployed now decides again
// from there. The start event is always kept.
func ResetBoundary(recs []history.Record, toEvent int64) ([]history.Record, int64) {
	var out []history.Record
	var kept int64
	for i, rec := range recs {
		if len(rec.Events) == 0 {
			continue
		}
		if last := rec.Events[len(rec.Events)-1]; last.Seq <= toEvent && !last.Type.IsClosing() || i == 0 {
			out = append(out, rec)
			kept = last.Seq
			continue
		}
		var inputs []history.Event
		for _, ev := range rec.Events {
			if ev.Seq > toEvent || ev.Type.IsCommand() || ev.Type.IsClosing() {
				break
			}
			inputs = append(inputs, ev)
		}
		if len(inputs) > 0 {
			out = append(out, history.Record{Kind: history.KindInput, Events: inputs})
			kept = inputs[len(inputs)-1].Seq
		}
		break
	}
	return out, kept
}

// ResetWorkflow starts a new run of the workflow whose history is the old
// run's up to a decision boundary, then continues with the code deployed
// now. Activities completed before the boundary are not run again. An open
// old run is terminated with a link to the new one.
func (s *Store) ResetWorkflow(ctx context.Context, req ResetRequest) (*ResetResult, error) {
	ri, err := s.Describe(ctx, req.WorkflowID, req.RunID)
	if err != nil {
		return nil, err
	}
	subj, _ := s.Log.Subject(ri.WorkflowID, ri.RunID)
	recs, err := s.Log.ReadFrom(ctx, subj, 0)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: workflow %q run %s has no history yet: its start has not been written (describe it again in a few seconds, or terminate it)", ErrRunStarting, ri.WorkflowID, ri.RunID)
	}
	if st := recs[0].Events[0]; st.Type == history.WorkflowStarted && st.Input == nil {
		return nil, invalidf("reset: workflow %q run %s never started (its start stopped before its input was stored): there is nothing to reset to", ri.WorkflowID, ri.RunID)
	}
	if req.ToEvent < 1 {
		return nil, invalidf("reset: event %d: events are numbered from 1", req.ToEvent)
	}
	keep, kept := ResetBoundary(recs, req.ToEvent)
	res := &ResetResult{WorkflowID: ri.WorkflowID, OldRunID: ri.RunID, Requested: req.ToEvent, KeptThrough: kept}
	newRun, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	res.RunID = newRun.String()
	reason := req.Reason
	if reason == "" {
		reason = "reset"
	}
	if !ri.Status.IsClosed() {
		err := s.TerminateWorkflow(ctx, ri.WorkflowID, ri.RunID, fmt.Sprintf("%s: reset to event %d as run %s", reason, kept, res.RunID))
		if err != nil && !errors.Is(err, ErrWorkflowClosed) {
			return nil, err
		}
		res.OldTerminate = err == nil
	}
	started := recs[0].Events[0]
	info := &RunInfo{WorkflowID: ri.WorkflowID, RunID: res.RunID, Type: ri.Type, TaskQueue: ri.TaskQueue,
		Status: StatusRunning, StartTime: time.Now().UTC(), LastEventSeq: kept, Parent: started.Parent}
	if err := s.createRun(ctx, info); err != nil {
		return nil, err
	}
	newSubj, _ := s.Log.Subject(info.WorkflowID, info.RunID)
	var last uint64
	for i := range keep {
		rec := history.Record{Kind: keep[i].Kind, Events: append([]history.Event(nil), keep[i].Events...)}
		if i == 0 {
			ev := &rec.Events[0]
			ev.RunID = info.RunID
			ev.ResetFrom = &history.RunRef{WorkflowID: ri.WorkflowID, RunID: ri.RunID, Seq: kept}
			ev.Reason = reason
		}
		if last, err = s.Log.Append(ctx, newSubj, history.Tail{Seq: last}, &rec); err != nil {
			return nil, fmt.Errorf("reset: copy the history: %w", err)
		}
	}
	task := workflowTask{V: 1, WorkflowID: info.WorkflowID, RunID: info.RunID, InputID: resetInputID}
	if _, err := s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(info.WorkflowID), info.TaskQueue), info.RunID+":"+resetInputID, task)); err != nil {
		return nil, err
	}
	if req.ReapplySignals {
		for _, ev := range history.Flatten(recs) {
			if ev.Seq > kept && ev.Type == history.SignalReceived {
				if err := s.SignalWorkflow(ctx, info.WorkflowID, info.RunID, ev.Name, ev.Input); err != nil {
					return res, fmt.Errorf("reset: re-apply signal %s (event %d): %w", ev.Name, ev.Seq, err)
				}
				res.Reapplied++
			}
		}
	}
	return res, nil
}
