package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queries are core NATS request/reply, not JetStream: a client asks on
// <prefix>.query.<task queue>, the workflow workers of that queue answer
// as one queue group, and the worker that gets the request answers from the
// run it holds in memory, or loads the run by replaying its history.
// Nothing is written: a query reads the run's state and changes nothing.

// DefaultQueryTimeout bounds a query whose context has no deadline.
const DefaultQueryTimeout = 5 * time.Second

// ErrNoWorker: no worker of the run's task queue answered a query in time.
var ErrNoWorker = errors.New("no worker answered")

// queryServeTimeout bounds the history reads of one query in a worker.
const queryServeTimeout = 30 * time.Second

// queryRequest is what a client sends to the workers of a task queue.
type queryRequest struct {
	V          int             `json:"v"`
	WorkflowID string          `json:"workflow_id"`
	RunID      string          `json:"run_id"`
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input,omitempty"` // JSON array of arguments
}

// queryReply is a worker's answer: the handler's result, or an error.
type queryReply struct {
	Result json.RawMessage  `json:"result,omitempty"`
	Error  *history.Failure `json:"error,omitempty"`
}

// Failure types of the errors a worker answers a query with, besides those
// of the handler's own errors.
const (
	queryNotFoundType    = "QueryNotFound"
	workflowNotFoundType = "WorkflowNotFound"
	unknownTypeType      = "UnknownWorkflowType"
	workerStoppingType   = "WorkerStopping"
)

func (s *Store) querySubject(queue string) string { return s.Config.Prefix + ".query." + queue }

// queryLoop subscribes the worker to the queries of one task queue at once
// and returns the loop that serves them until ctx is done; the loop then
// unsubscribes and waits for the queries being answered.
func (w *Worker) queryLoop(ctx context.Context, queue string) func() error {
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, w.opts.MaxConcurrentWorkflowTasks)
	// serving bounds the history reads of the queries in hand: cancelled if
	// they outlast the shutdown timeout.
	serving, abort := context.WithCancel(context.Background())
	// The history stream's handle, for the direct get of a run's last
	// record (nil if it cannot be had now: the slower batch read is used).
	hist, err := w.store.JS.Stream(ctx, w.store.historyStream())
	if err != nil {
		w.log.Warn("worker: queries: history stream", "err", err)
		hist = nil
	}
	sub, err := w.store.NC.QueueSubscribe(w.store.querySubject(queue), "df-query-"+queue, func(m *nats.Msg) {
		sem <- struct{}{} // at most that many at once; the rest wait in the subscription
		mu.Lock()
		if stopped {
			mu.Unlock()
			<-sem
			respondQuery(m, nil, &history.Failure{Message: "the worker is shutting down: query again", Type: workerStoppingType})
			return
		}
		wg.Add(1)
		mu.Unlock()
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.answerQuery(serving, m, hist)
		}()
	})
	if err != nil {
		abort()
		return func() error {
			return stoppedOr(ctx, fmt.Errorf("worker: subscribe to the queries of task queue %s: %w", queue, err))
		}
	}
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			_ = sub.Unsubscribe()
		}
	}
	// Also when Run fails to set up after this and never starts the loop.
	context.AfterFunc(ctx, stop)
	return func() error {
		defer abort()
		<-ctx.Done()
		stop()
		idle := make(chan struct{})
		go func() { wg.Wait(); close(idle) }()
		select {
		case <-idle:
		case <-time.After(w.opts.ShutdownTimeout):
			abort()
			select {
			case <-idle:
			case <-time.After(time.Second):
				// A handler that blocks (they must not): leave it.
				w.log.Warn("worker: a query handler is still running at shutdown", "task_queue", queue)
			}
		}
		return nil
	}
}

// answerQuery answers one request.
func (w *Worker) answerQuery(serving context.Context, m *nats.Msg, hist jetstream.Stream) {
	var req queryRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.RunID == "" || req.Name == "" {
		respondQuery(m, nil, &history.Failure{Message: fmt.Sprintf("malformed query request: %v", err), Type: "InvalidArgument"})
		return
	}
	ctx, cancel := context.WithTimeout(serving, queryServeTimeout)
	defer cancel()
	res, err := w.query(ctx, hist, req)
	if err != nil {
		f := ToFailure(err)
		switch {
		case errors.Is(err, ErrQueryNotFound):
			f = &history.Failure{Message: err.Error(), Type: queryNotFoundType}
		case errors.Is(err, ErrWorkflowNotFound):
			f = &history.Failure{Message: err.Error(), Type: workflowNotFoundType}
		case errors.Is(err, ErrUnknownWorkflowType):
			f = &history.Failure{Message: err.Error(), Type: unknownTypeType}
		}
		respondQuery(m, nil, f)
		return
	}
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	respondQuery(m, res, nil)
}

func respondQuery(m *nats.Msg, res json.RawMessage, f *history.Failure) {
	data, _ := json.Marshal(queryReply{Result: res, Error: f})
	_ = m.Respond(data)
}

// query answers req from the run's current state. It holds the run's cache
// entry meanwhile, so no workflow task of the run runs: the state is the one
// after a decision. A cached run that is behind the history (another
// worker decided since) is reloaded; a run not cached is loaded by replay
// and stays cached while it is open.
func (w *Worker) query(ctx context.Context, hist jetstream.Stream, req queryRequest) (json.RawMessage, error) {
	subj, err := w.store.Log.Subject(req.WorkflowID, req.RunID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	e := w.cache.acquire(req.RunID)
	defer w.cache.release(e)
	if e.r != nil {
		last, err := w.lastRecordSeq(ctx, hist, subj, e.r.streamSeq)
		if err != nil {
			return nil, err
		}
		if last != e.r.streamSeq {
			e.drop()
		}
	}
	if e.r == nil {
		r, _, err := w.loadRun(ctx, subj)
		if errors.Is(err, history.ErrNotFound) {
			return nil, fmt.Errorf("%w: workflow %q has no run %s", ErrWorkflowNotFound, req.WorkflowID, req.RunID)
		}
		if err != nil {
			return nil, fmt.Errorf("load workflow %q run %s: %w", req.WorkflowID, req.RunID, err)
		}
		e.r = r
	}
	pending, closing := len(e.r.pending), e.r.closeCmd
	res, err := e.r.query(req.Name, req.Input)
	var pe *PanicError
	switch {
	case len(e.r.pending) != pending || e.r.closeCmd != closing:
		// The handler asked for work (an activity, a timer): that must
		// never reach a decision. Forget this copy of the run.
		e.drop()
		return nil, NewNonRetryableApplicationError(fmt.Sprintf(
			"query handler %s of workflow %s scheduled workflow work; a query handler only reads the workflow's state", req.Name, req.WorkflowID), "QueryHandlerError")
	case errors.As(err, &pe):
		e.drop() // it may have left the state half changed
	case e.r.closed:
		e.drop() // like a workflow task, a worker keeps only open runs
	}
	return res, err
}

// lastRecordSeq is the stream sequence of the last record on a run's
// subject: one direct get of the last message (about 0.1 ms on a local
// server, where reading an empty tail in a batch takes about 1 ms).
func (w *Worker) lastRecordSeq(ctx context.Context, hist jetstream.Stream, subj string, known uint64) (uint64, error) {
	if hist != nil {
		m, err := hist.GetLastMsgForSubject(ctx, subj)
		if err == nil {
			return m.Sequence, nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, fmt.Errorf("read the last record of %s: %w", subj, err)
		}
		return 0, nil
	}
	newer, err := w.store.Log.ReadRaw(ctx, subj, known)
	if err != nil {
		return 0, err
	}
	if len(newer) > 0 {
		return newer[len(newer)-1].Sequence, nil
	}
	return known, nil
}

// QueryWorkflow asks a live worker of the run's task queue to answer the
// query name with input (a JSON array of arguments; empty for none) from
// the run's current state (runID "": the latest run). A closed run answers
// from its end state. It waits until ctx's deadline, or DefaultQueryTimeout
// if ctx has none, and returns ErrNoWorker if no worker answered by then,
// ErrQueryNotFound if the run has no handler for name, ErrWorkflowNotFound
// for an unknown workflow or run, or the handler's error.
func (s *Store) QueryWorkflow(ctx context.Context, workflowID, runID, name string, input json.RawMessage) (json.RawMessage, error) {
	began := time.Now()
	if name == "" {
		return nil, invalidf("query name is empty")
	}
	if len(input) == 0 {
		input = json.RawMessage("[]")
	}
	var args []json.RawMessage
	if err := json.Unmarshal(input, &args); err != nil {
		return nil, invalidf("query input must be a JSON array of arguments: %v", err)
	}
	if err := checkPayload("query "+name+" input", input); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultQueryTimeout)
		defer cancel()
	}
	ri, err := s.Describe(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(queryRequest{V: 1, WorkflowID: ri.WorkflowID, RunID: ri.RunID, Name: name, Input: input})
	deadline, _ := ctx.Deadline()
	m, err := s.NC.RequestWithContext(ctx, s.querySubject(ri.TaskQueue), data)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return nil, &markedError{mark: ErrNoWorker, msg: fmt.Sprintf(
				"no worker of task queue %s is running to answer the query %s of workflow %q: start a worker that registers %s",
				ri.TaskQueue, name, ri.WorkflowID, ri.Type)}
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
			return nil, &markedError{mark: ErrNoWorker, msg: fmt.Sprintf(
				"no worker of task queue %s answered the query within %s: is a worker running?",
				ri.TaskQueue, roundTimeout(deadline.Sub(began)))}
		}
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	var rep queryReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return nil, fmt.Errorf("query %s: malformed reply: %w", name, err)
	}
	if rep.Error == nil {
		if len(rep.Result) == 0 {
			rep.Result = json.RawMessage("null")
		}
		return rep.Result, nil
	}
	f := rep.Error
	switch f.Type {
	case queryNotFoundType:
		return nil, &markedError{msg: f.Message, mark: ErrQueryNotFound}
	case workflowNotFoundType:
		return nil, &markedError{msg: f.Message, mark: ErrWorkflowNotFound}
	case unknownTypeType:
		return nil, &markedError{msg: f.Message, mark: ErrUnknownWorkflowType}
	case workerStoppingType:
		return nil, &markedError{msg: f.Message, mark: ErrNoWorker}
	}
	return nil, fmt.Errorf("query %s of workflow %q: %w", name, ri.WorkflowID, FromFailure(f))
}

// markedError keeps a worker's message and is the sentinel it names.
type markedError struct {
	msg  string
	mark error
}

func (e *markedError) Error() string { return e.msg }
func (e *markedError) Unwrap() error { return e.mark }

func roundTimeout(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
