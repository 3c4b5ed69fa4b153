package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/google/uuid"
)

// ParentClosePolicy says what happens to a running child when its parent
// closes.
type ParentClosePolicy string

// Parent close policies (Temporal's): the default terminates the child.
const (
	ParentCloseTerminate     ParentClosePolicy = "terminate"
	ParentCloseRequestCancel ParentClosePolicy = "request_cancel"
	ParentCloseAbandon       ParentClosePolicy = "abandon"
)

// ChildWorkflowOptions say how a child workflow starts.
type ChildWorkflowOptions struct {
	// WorkflowID (default: the parent's ID + "_child_" + a counter).
	WorkflowID string
	// TaskQueue (default: the parent's).
	TaskQueue string
	// ParentClosePolicy (default: terminate).
	ParentClosePolicy ParentClosePolicy
}

type childOptionsKey struct{}

// WithChildOptions returns a context whose child workflows use opts.
func WithChildOptions(ctx Context, opts ChildWorkflowOptions) Context {
	return WithValue(ctx, childOptionsKey{}, opts)
}

// WorkflowExecution identifies a run.
type WorkflowExecution struct {
	ID    string `json:"workflow_id"`
	RunID string `json:"run_id"`
}

// ChildWorkflowFuture is the result of a child workflow; its
// GetChildWorkflowExecution future is ready once the child has started.
type ChildWorkflowFuture interface {
	Future
	GetChildWorkflowExecution() Future
}

type childFuture struct {
	*future
	started *future
}

func (f childFuture) GetChildWorkflowExecution() Future { return f.started }

type childState struct {
	result      *future
	started     *future
	ref         history.RunRef
	policy      ParentClosePolicy
	done        bool
	scheduled   history.Event
	scheduledIn uint64
	cancelIn    uint64 // stream seq of the decision that asked it to stop
}

// childRunID is the run ID of a child: derived from the parent's run and
// the child's workflow ID, so that re-publishing a decision's requirements
// never starts a second run.
func childRunID(parentRunID, childWorkflowID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("durablefuture:"+parentRunID+"/"+childWorkflowID)).String()
}

// ExecuteChildWorkflow starts a child workflow (a function or a registered
// type name) with args; its future gives the child's result or failure.
func ExecuteChildWorkflow(ctx Context, childWorkflow any, args ...any) ChildWorkflowFuture {
	r := ctx.run()
	name := FunctionName(childWorkflow)
	f := childFuture{future: &future{what: "child workflow " + name}, started: &future{what: "child workflow " + name + " start"}}
	fail := func(err error) ChildWorkflowFuture {
		f.future.set(nil, err)
		f.started.set(nil, err)
		return f
	}
	input, err := EncodeArgs("workflow", name, childWorkflow, args)
	if err == nil {
		err = checkPayload("child workflow "+name+" input", input)
	}
	if err != nil {
		return fail(NewNonRetryableApplicationError(err.Error(), "ArgumentError"))
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	o, _ := ctx.Value(childOptionsKey{}).(ChildWorkflowOptions)
	r.childCount++
	if o.WorkflowID == "" {
		o.WorkflowID = fmt.Sprintf("%s_child_%d", r.info.WorkflowID, r.childCount)
	}
	if o.TaskQueue == "" {
		o.TaskQueue = r.info.TaskQueue
	}
	if o.ParentClosePolicy == "" {
		o.ParentClosePolicy = ParentCloseTerminate
	}
	if err := history.ValidateWorkflowID(o.WorkflowID); err != nil {
		return fail(NewNonRetryableApplicationError(err.Error(), "ArgumentError"))
	}
	if err := ValidateTaskQueue(o.TaskQueue); err != nil {
		return fail(NewNonRetryableApplicationError(err.Error(), "ArgumentError"))
	}
	ref := history.RunRef{WorkflowID: o.WorkflowID, RunID: childRunID(r.info.RunID, o.WorkflowID), TaskQueue: o.TaskQueue}
	cs := &childState{result: f.future, started: f.started, ref: ref, policy: o.ParentClosePolicy}
	cmd := &command{event: history.Event{Type: history.ChildWorkflowScheduled, Name: name, Input: input,
		Child: &ref, ParentClosePolicy: string(o.ParentClosePolicy)}, future: f.future}
	cmd.onBind = func(seq int64) { r.children[seq] = cs }
	r.addCommand(cmd)
	cmd.unregister = ctx.onCancel(func() {
		if cs.done {
			return
		}
		if r.removePending(cmd) || cmd.seq == 0 {
			cs.done = true
			f.future.set(nil, ErrCanceled)
			if !f.started.ready {
				f.started.set(nil, ErrCanceled)
			}
			return
		}
		// Ask the child to stop; the future resolves when it closes.
		r.addCommand(&command{event: history.Event{Type: history.ChildWorkflowCancelRequested, Name: name, Cause: cmd.seq}})
	})
	return f
}

// applyChild applies a child's start or close to the parent's run.
func (r *run) applyChild(ev history.Event) {
	cs := r.children[ev.Cause]
	if cs == nil || cs.done {
		return
	}
	switch ev.Type {
	case history.ChildWorkflowStarted:
		if !cs.started.ready {
			b, _ := json.Marshal(WorkflowExecution{ID: cs.ref.WorkflowID, RunID: cs.ref.RunID})
			cs.started.set(b, nil)
		}
	case history.ChildWorkflowStartFailed, history.ChildWorkflowFailed:
		cs.done = true
		err := &ChildWorkflowError{WorkflowID: cs.ref.WorkflowID, RunID: cs.ref.RunID, Type: cs.scheduled.Name, Cause: FromFailure(ev.Failure)}
		if !cs.started.ready {
			cs.started.set(nil, err)
		}
		cs.result.set(nil, err)
	case history.ChildWorkflowCompleted:
		cs.done = true
		if !cs.started.ready {
			// The child's completion can overtake the note that it started
			// (both are inputs from different writers): a child that
			// completed has started.
			b, _ := json.Marshal(WorkflowExecution{ID: cs.ref.WorkflowID, RunID: cs.ref.RunID})
			cs.started.set(b, nil)
		}
		cs.result.set(ev.Result, nil)
	}
	r.runCode()
}

// ChildWorkflowError is a child's failure as its parent sees it.
type ChildWorkflowError struct {
	WorkflowID, RunID, Type string
	Cause                   error
}

func (e *ChildWorkflowError) Error() string {
	return fmt.Sprintf("child workflow %s (%s, run %s) failed: %v", e.WorkflowID, e.Type, e.RunID, e.Cause)
}

func (e *ChildWorkflowError) Unwrap() error { return e.Cause }

// startChild starts the child run a decision scheduled, idempotently, and
// tells the parent it started (or why it could not).
func (w *Worker) startChild(ctx context.Context, r *run, seq int64, cs *childState) error {
	req := StartRequest{WorkflowID: cs.ref.WorkflowID, TaskQueue: cs.ref.TaskQueue, Type: cs.scheduled.Name,
		Input: cs.scheduled.Input, RunID: cs.ref.RunID,
		Parent: &history.RunRef{WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, TaskQueue: r.info.TaskQueue, Seq: seq}}
	_, err := w.store.StartWorkflow(ctx, req)
	ev := history.Event{Type: history.ChildWorkflowStarted, Cause: seq, Child: &cs.ref}
	inputID := fmt.Sprintf("child:%d:started", seq)
	if err != nil {
		if !errors.Is(err, ErrWorkflowAlreadyRunning) && !errors.Is(err, ErrInvalidArgument) {
			return err
		}
		ev = history.Event{Type: history.ChildWorkflowStartFailed, Cause: seq, Child: &cs.ref, Failure: ToFailure(err)}
		inputID = fmt.Sprintf("child:%d:done", seq)
	}
	return w.store.sendInput(ctx, r.info.WorkflowID, r.info.RunID, r.info.TaskQueue, inputID, ev)
}

// sendInput publishes an input for a run's workflow worker, with a stable
// message id.
func (s *Store) sendInput(ctx context.Context, workflowID, runID, queue, inputID string, ev history.Event) error {
	task := workflowTask{V: 1, WorkflowID: workflowID, RunID: runID, InputID: inputID, Event: &ev}
	_, err := s.JS.PublishMsg(ctx, newMsg(s.workflowTaskSubject(s.partOf(workflowID), queue), runID+":"+inputID, task))
	return err
}

// notifyParent tells a child's parent how the child closed.
func (s *Store) notifyParent(ctx context.Context, parent *history.RunRef, self history.RunRef, closing *history.Event) error {
	if parent == nil || closing == nil {
		return nil
	}
	ev := history.Event{Type: history.ChildWorkflowCompleted, Cause: parent.Seq, Child: &self, Result: closing.Result}
	if closing.Type != history.WorkflowCompleted {
		f := closing.Failure
		if f == nil {
			f = &history.Failure{Message: string(closing.Type)}
		}
		ev = history.Event{Type: history.ChildWorkflowFailed, Cause: parent.Seq, Child: &self, Failure: f}
	}
	return s.sendInput(ctx, parent.WorkflowID, parent.RunID, parent.TaskQueue, fmt.Sprintf("child:%d:done", parent.Seq), ev)
}

// closeChildren applies the parent close policy to children still open.
func (s *Store) closeChildren(ctx context.Context, children []*childState) error {
	for _, cs := range children {
		var err error
		switch cs.policy {
		case ParentCloseAbandon:
			continue
		case ParentCloseRequestCancel:
			err = s.CancelWorkflow(ctx, cs.ref.WorkflowID, cs.ref.RunID, "parent closed")
		default:
			err = s.TerminateWorkflow(ctx, cs.ref.WorkflowID, cs.ref.RunID, "parent closed")
		}
		if err != nil && !errors.Is(err, ErrWorkflowClosed) && !errors.Is(err, ErrWorkflowNotFound) {
			return fmt.Errorf("parent close policy for child %s: %w", cs.ref.WorkflowID, err)
		}
	}
	return nil
}

// withChildStartsFrom puts a ChildWorkflowStarted before the outcome of a child
// whose start note has not been recorded yet: the child's close can
// overtake the note (both are inputs from different writers), and a
// history records a child's start before its outcome, once.
//
// from (the source of each event, processWorkflowTask) is kept aligned: a
// start takes its completion's.
func (r *run) withChildStartsFrom(evs []history.Event, from []int) ([]history.Event, []int) {
	var out []history.Event
	var of []int
	for i, ev := range evs {
		if ev.Type == history.ChildWorkflowCompleted || ev.Type == history.ChildWorkflowFailed {
			if cs := r.children[ev.Cause]; cs != nil && !cs.done && !cs.started.ready {
				if out == nil {
					out = append([]history.Event(nil), evs[:i]...)
					of = append([]int(nil), from[:i]...)
				}
				ref := cs.ref
				out = append(out, history.Event{Type: history.ChildWorkflowStarted, Cause: ev.Cause, Child: &ref,
					InputID: fmt.Sprintf("child:%d:started", ev.Cause)})
				of = append(of, from[i])
			}
		}
		if out != nil {
			out = append(out, ev)
			of = append(of, from[i])
		}
	}
	if out == nil {
		return evs, from
	}
	return out, of
}
