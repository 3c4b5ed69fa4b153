package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartRequest describes a run to start.
type StartRequest struct {
	// WorkflowID (default: a new UUID).
	WorkflowID string
	// TaskQueue of the workflow worker (default "default").
	TaskQueue string
	// Type is the registered workflow type name.
	Type string
	// Input is the JSON array of arguments.
	Input json.RawMessage
	// RunID and Parent are set for a child run: its run ID is derived from
	// the parent's, so that starting it again is a no-op.
	RunID  string
	Parent *history.RunRef
	// ExecutionTimeout ends the run as timed_out when it is still open
	// this long after its start (0: no limit). The limit is a scheduled
	// message in JetStream.
	ExecutionTimeout time.Duration
}

// StartWorkflow starts a run: it stores the run's start task, reserves the
// workflow ID in the runs index (refused while a run of the ID is open) and
// appends WorkflowStarted to the new run's history, in this order, so that
// a start that stops half way is completed by a worker (start.go).
func (s *Store) StartWorkflow(ctx context.Context, req StartRequest) (*RunInfo, error) {
	if req.WorkflowID == "" {
		req.WorkflowID = uuid.NewString()
	}
	if err := history.ValidateWorkflowID(req.WorkflowID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if req.TaskQueue == "" {
		req.TaskQueue = DefaultTaskQueue
	}
	if err := ValidateTaskQueue(req.TaskQueue); err != nil {
		return nil, err
	}
	if req.Type == "" {
		return nil, invalidf("workflow type is empty")
	}
	if len(req.Input) == 0 {
		req.Input = json.RawMessage("[]")
	}
	var args []json.RawMessage
	if err := json.Unmarshal(req.Input, &args); err != nil {
		return nil, invalidf("workflow input must be a JSON array of arguments: %v", err)
	}
	if err := checkPayload("workflow input", req.Input); err != nil {
		return nil, err
	}
	runID := req.RunID
	if runID == "" {
		v7, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		runID = v7.String()
	}
	now := time.Now().UTC()
	started := history.Event{
		Seq: 1, Time: now, Type: history.WorkflowStarted, InputID: startInputID,
		Name: req.Type, WorkflowID: req.WorkflowID, RunID: runID, TaskQueue: req.TaskQueue, Input: req.Input,
		Parent: req.Parent, WorkflowTimeout: history.Duration(req.ExecutionTimeout),
	}
	return s.startRun(ctx, runInfoForStart(&started), started)
}

// scheduleRunTimeout publishes the run's execution timeout as a scheduled
// WorkflowTimedOut input; closing the run purges it with its timers.
func (s *Store) scheduleRunTimeout(ctx context.Context, info *RunInfo, at time.Time, limit time.Duration) error {
	task := workflowTask{V: 1, WorkflowID: info.WorkflowID, RunID: info.RunID, InputID: "timeout",
		Event: &history.Event{Type: history.WorkflowTimedOut, Failure: ToFailure(NewTimeoutError(TimeoutWorkflowExecution,
			fmt.Sprintf("workflow exceeded its execution timeout of %s", limit), nil))}}
	p := s.partOf(info.WorkflowID)
	m := newMsg(fmt.Sprintf("%s.sched.%s.timeout", s.taskPrefix(p), info.RunID), "", task)
	m.Header.Set(jetstream.ScheduleHeader, "@at "+at.UTC().Format(time.RFC3339Nano))
	m.Header.Set(jetstream.ScheduleTargetHeader, s.workflowTaskSubject(p, info.TaskQueue))
	_, err := s.JS.PublishMsg(ctx, m)
	return err
}

// SignalWorkflow delivers a signal called name with input (one JSON value,
// empty for null) to a running workflow (runID "": its latest run). The
// signal is accepted once it is stored on the run's signal subject: signals
// are applied in the order they were accepted, each once, even if a worker
// dies meanwhile.
func (s *Store) SignalWorkflow(ctx context.Context, workflowID, runID, name string, input json.RawMessage) error {
	if name == "" {
		return invalidf("signal name is empty")
	}
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if !json.Valid(input) {
		return invalidf("signal %s input is not valid JSON", name)
	}
	if err := checkPayload("signal "+name+" input", input); err != nil {
		return err
	}
	ri, err := s.describe(ctx, workflowID, runID, settleAct)
	if err != nil {
		return err
	}
	if ri.Status.IsClosed() {
		return fmt.Errorf("%w: workflow %q (run %s) is %s; signals reach only running workflows", ErrWorkflowClosed, workflowID, ri.RunID, ri.Status)
	}
	subj, err := s.Log.SignalSubject(ri.WorkflowID, ri.RunID)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(signalMessage{V: 1, Name: name, Input: input})
	ack, err := s.JS.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{uuid.NewString()}}})
	if err != nil {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	task := workflowTask{V: 1, WorkflowID: ri.WorkflowID, RunID: ri.RunID, InputID: signalsInputID}
	if _, err := s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(ri.WorkflowID), ri.TaskQueue), fmt.Sprintf("%s:signals:%d", ri.RunID, ack.Sequence), task)); err != nil {
		return fmt.Errorf("signal %s: stored, but waking the run failed (the next task of the run applies it): %w", name, err)
	}
	return nil
}

// openRun returns the state of a run that must still be open.
func (s *Store) openRun(ctx context.Context, workflowID, runID, what string, mode settleMode) (*RunInfo, error) {
	ri, err := s.describe(ctx, workflowID, runID, mode)
	if err != nil {
		return nil, err
	}
	if ri.Status.IsClosed() {
		return nil, fmt.Errorf("%w: workflow %q (run %s) is %s; only a running workflow can be %s", ErrWorkflowClosed, workflowID, ri.RunID, ri.Status, what)
	}
	return ri, nil
}

// CancelWorkflow asks a running workflow to stop: its context is cancelled,
// so the code can clean up (with a disconnected context) and return; the
// run ends as canceled if the code returns the cancellation error.
func (s *Store) CancelWorkflow(ctx context.Context, workflowID, runID, reason string) error {
	ri, err := s.openRun(ctx, workflowID, runID, "cancelled", settleAct)
	if err != nil {
		return err
	}
	task := workflowTask{V: 1, WorkflowID: ri.WorkflowID, RunID: ri.RunID, InputID: "cancel",
		Event: &history.Event{Type: history.WorkflowCancelRequested, Reason: reason}}
	_, err = s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(ri.WorkflowID), ri.TaskQueue), ri.RunID+":cancel", task))
	return err
}

// TerminateWorkflow ends a running workflow at once: WorkflowTerminated is
// appended to its history (no code runs), its timers are dropped and the
// runs index says terminated.
func (s *Store) TerminateWorkflow(ctx context.Context, workflowID, runID, reason string) error {
	ri, err := s.openRun(ctx, workflowID, runID, "terminated", settleNone)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "no reason given"
	}
	subj, _ := s.Log.Subject(ri.WorkflowID, ri.RunID)
	for attempt := 0; ; attempt++ {
		// Tolerant: a run blocked by a record that does not decode can
		// still be terminated (after the bad record).
		recs, bad, err := s.Log.ReadTolerant(ctx, subj, 0)
		if err != nil {
			return unavailable(err)
		}
		tail := history.TailOf(recs)
		if n := len(bad); n > 0 && bad[n-1].Seq > tail.Seq {
			tail = history.Tail{Seq: bad[n-1].Seq}
		}
		evs := history.Flatten(recs)
		var pre []history.Event
		if len(recs) == 0 {
			// The run's start stopped before its history was written: its
			// WorkflowStarted is written with the termination, in one record.
			pre = []history.Event{s.unstartedStart(ctx, ri)}
			evs = pre
		}
		if t := evs[len(evs)-1].Type; t.IsClosing() {
			return fmt.Errorf("%w: workflow %q (run %s) closed meanwhile (%s)", ErrWorkflowClosed, workflowID, ri.RunID, t)
		}
		ev := history.Event{Seq: evs[len(evs)-1].Seq + 1, Time: time.Now().UTC(), Type: history.WorkflowTerminated,
			Reason: reason, Failure: &history.Failure{Message: "terminated: " + reason, Type: "Terminated"}}
		rec := history.Record{Kind: history.KindInput, Events: append(pre, ev)}
		_, err = s.Log.Append(ctx, subj, tail, &rec)
		if errors.Is(err, history.ErrConflict) && attempt < 10 {
			continue // a worker decided meanwhile: read again
		}
		if err != nil {
			return err
		}
		if err := s.purgeSchedules(ctx, ri.WorkflowID, ri.RunID); err != nil {
			return err
		}
		if err := s.closeRun(ctx, ri.WorkflowID, ri.RunID, &ev); err != nil {
			return err
		}
		// Running activities of the run: their attempts' contexts end.
		_ = s.NC.Publish(s.activityCancelRunSubject(ri.RunID), nil)
		self := history.RunRef{WorkflowID: ri.WorkflowID, RunID: ri.RunID, TaskQueue: ri.TaskQueue}
		if err := s.notifyParent(ctx, evs[0].Parent, self, &ev); err != nil {
			return err
		}
		return s.closeChildren(ctx, openChildren(evs))
	}
}

// openChildren lists the children a history scheduled and did not see close.
func openChildren(evs []history.Event) []*childState {
	open := map[int64]*childState{}
	var order []int64
	for _, ev := range evs {
		switch ev.Type {
		case history.ChildWorkflowScheduled:
			if ev.Child != nil {
				open[ev.Seq] = &childState{ref: *ev.Child, policy: ParentClosePolicy(ev.ParentClosePolicy)}
				order = append(order, ev.Seq)
			}
		case history.ChildWorkflowCompleted, history.ChildWorkflowFailed, history.ChildWorkflowStartFailed:
			delete(open, ev.Cause)
		}
	}
	var out []*childState
	for _, seq := range order {
		if cs := open[seq]; cs != nil {
			out = append(out, cs)
		}
	}
	return out
}

// SignalWithStart signals the workflow if it is running, and otherwise
// starts it (with req) and then signals the new run.
func (s *Store) SignalWithStart(ctx context.Context, req StartRequest, name string, input json.RawMessage) (*RunInfo, error) {
	for attempt := 0; attempt < 3; attempt++ {
		ri, err := s.GetRun(ctx, req.WorkflowID)
		if err != nil && !errors.Is(err, ErrWorkflowNotFound) {
			return nil, err
		}
		if ri == nil || ri.Status.IsClosed() {
			ri, err = s.StartWorkflow(ctx, req)
			if errors.Is(err, ErrWorkflowAlreadyRunning) {
				continue // started meanwhile: signal that run
			}
			if err != nil {
				return nil, err
			}
		}
		err = s.SignalWorkflow(ctx, ri.WorkflowID, ri.RunID, name, input)
		if errors.Is(err, ErrWorkflowClosed) {
			continue // closed meanwhile: start a new run
		}
		return ri, err
	}
	return nil, fmt.Errorf("signal-with-start %q: the workflow kept changing state; try again", req.WorkflowID)
}

// Describe returns a run's state: the index entry for the latest run (runID
// "" or the latest), else one derived from the run's history.
func (s *Store) Describe(ctx context.Context, workflowID, runID string) (*RunInfo, error) {
	return s.describe(ctx, workflowID, runID, settleLook)
}

// describe is Describe; a latest run found reserved without history is
// settled (settleStart) as mode says.
func (s *Store) describe(ctx context.Context, workflowID, runID string, mode settleMode) (*RunInfo, error) {
	ri, err := s.GetRun(ctx, workflowID)
	if err != nil && !errors.Is(err, ErrWorkflowNotFound) || err != nil && runID == "" {
		return nil, err
	}
	if ri != nil && (runID == "" || ri.RunID == runID) {
		return s.settleIndexed(ctx, ri, mode)
	}
	// Tolerant: a record that does not decode blocks the run, and says so.
	recs, bad, err := s.HistoryTolerant(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	d := RunInfoFromHistory(history.Flatten(recs))
	if len(bad) > 0 {
		d.WorkflowID, d.RunID = workflowID, runID
		if !d.Status.IsClosed() {
			d.Blocked = bad[0].Error()
		}
	}
	return &d, nil
}

// History returns every event of a run (runID "": the latest run).
func (s *Store) History(ctx context.Context, workflowID, runID string) ([]history.Event, error) {
	if runID == "" {
		ri, err := s.GetRun(ctx, workflowID)
		if err != nil {
			return nil, err
		}
		runID = ri.RunID
	}
	evs, err := s.Log.Read(ctx, workflowID, runID)
	if errors.Is(err, history.ErrNotFound) {
		return nil, fmt.Errorf("%w: workflow %q has no run %s", ErrWorkflowNotFound, workflowID, runID)
	}
	return evs, unavailable(err)
}

// HistoryTolerant returns what can be read of a run's history: the records
// that decode, and each message of the run's subject that does not (a
// *history.BadRecordError naming its stream sequence and why). For readers
// that show a history; a worker never decides on a partial one.
func (s *Store) HistoryTolerant(ctx context.Context, workflowID, runID string) ([]history.Record, []*history.BadRecordError, error) {
	subj, err := s.Log.Subject(workflowID, runID)
	if err != nil {
		return nil, nil, invalidf("%v", err)
	}
	recs, bad, err := s.Log.ReadTolerant(ctx, subj, 0)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if len(recs) == 0 && len(bad) == 0 {
		return nil, nil, fmt.Errorf("%w: workflow %q has no run %s", ErrWorkflowNotFound, workflowID, runID)
	}
	return recs, bad, nil
}

// RunInfoFromHistory derives a run's state from its events (for runs that
// are no longer the latest of their ID, and to rebuild the index).
func RunInfoFromHistory(evs []history.Event) RunInfo {
	var ri RunInfo
	for _, ev := range evs {
		ri.LastEventSeq = ev.Seq
		switch ev.Type {
		case history.WorkflowStarted:
			ri.WorkflowID, ri.RunID, ri.Type, ri.TaskQueue, ri.Parent = ev.WorkflowID, ev.RunID, ev.Name, ev.TaskQueue, ev.Parent
			ri.ContinuedFrom = ev.ContinuedFrom
			ri.Status, ri.StartTime = StatusRunning, ev.Time
		case history.WorkflowCompleted, history.WorkflowFailed, history.WorkflowCanceled, history.WorkflowTerminated,
			history.WorkflowContinuedAsNew, history.WorkflowTimedOut:
			t := ev.Time
			ri.Status, ri.Result, ri.Failure = closedStatus(&ev)
			ri.CloseTime, ri.Blocked = &t, ""
			if ev.Next != nil {
				ri.Next = ev.Next.RunID
			}
		case history.WorkflowTaskFailed:
			if ev.Failure != nil {
				ri.Blocked = ev.Failure.Message
			}
		default:
			ri.Blocked = ""
		}
	}
	return ri
}

// ResultError returns the error a closed run's Get reports, or nil when it
// completed.
func ResultError(ri *RunInfo) error {
	if ri.Status == StatusCompleted {
		return nil
	}
	var cause error = errors.New(string(ri.Status))
	if ri.Failure != nil {
		cause = FromFailure(ri.Failure)
	}
	return &WorkflowExecutionError{WorkflowID: ri.WorkflowID, RunID: ri.RunID, Type: ri.Type, Status: ri.Status, Cause: cause}
}
