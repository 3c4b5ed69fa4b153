package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
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
	// The history streams' handles (one per partition), for the direct get
	// of a run's last record (nil if one cannot be had now: the slower
	// batch read is used).
	hist := make([]jetstream.Stream, w.store.partitions())
	for p := range hist {
		st, err := w.store.JS.Stream(ctx, w.store.historyStreamOf(p))
		if err != nil {
			w.log.Warn("worker: queries: history stream", "stream", w.store.historyStreamOf(p), "err", err)
			continue
		}
		hist[p] = st
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
func (w *Worker) answerQuery(serving context.Context, m *nats.Msg, hist []jetstream.Stream) {
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
func (w *Worker) query(ctx context.Context, hists []jetstream.Stream, req queryRequest) (json.RawMessage, error) {
	subj, err := w.store.Log.Subject(req.WorkflowID, req.RunID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	e := w.cache.acquire(req.RunID)
	defer w.cache.release(e)
	if e.r != nil {
		last, err := w.lastRecordSeq(ctx, hists[w.store.partOf(req.WorkflowID)], subj, e.r.streamSeq)
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
	if req.Name == StackQuery {
		res, err := e.r.stack()
		if e.r.closed {
			e.drop()
		}
		return res, err
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
	ctx, cancel := withDefaultTimeout(ctx, DefaultQueryTimeout)
	defer cancel()
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
			what := fmt.Sprintf("answer the query %s of workflow %q", name, ri.WorkflowID)
			if name == StackQuery {
				what = fmt.Sprintf("say where the code of workflow %q waits", ri.WorkflowID)
			}
			return nil, &markedError{mark: ErrNoWorker, msg: fmt.Sprintf(
				"no worker of task queue %s is running to %s: start a worker that registers %s on task queue %s",
				ri.TaskQueue, what, ri.Type, ri.TaskQueue)}
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

// StackQuery is the built-in query that every run answers with where each
// of its workflow goroutines waits (dfctl stack): a WorkflowStack. Query
// names starting with "__" are the engine's.
const StackQuery = "__stack"

// WorkflowStack is where the code of a live run waits.
type WorkflowStack struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Type       string `json:"type"`
	// LastEventSeq is the last event the worker's copy of the run applied.
	LastEventSeq int64            `json:"last_event_seq"`
	Closed       bool             `json:"closed"`
	Coroutines   []CoroutineStack `json:"coroutines"`
	// SignalChannels are the run's signal channels with the signals
	// received and not yet taken by the code.
	SignalChannels []SignalChannelState `json:"signal_channels"`
	// Stopped says why no code of the run runs (non-determinism, a panic,
	// a deadlock), if so.
	Stopped string `json:"stopped,omitempty"`
}

// CoroutineStack is one workflow goroutine ("main", or one started with
// workflow.Go).
type CoroutineStack struct {
	Name string `json:"name"`
	// State is blocked, done or not_started.
	State string `json:"state"`
	// BlockedIn is the workflow call it blocks in (workflow.Sleep,
	// Future.Get, Channel.Receive, Selector.Select), WaitingFor what that
	// call waits for ("activity Charge (event 5)", "signal channel go").
	BlockedIn  string `json:"blocked_in,omitempty"`
	WaitingFor string `json:"waiting_for,omitempty"`
	// Function, File and Line are the user code's call; Frames the user
	// code's frames, innermost first (a few at most).
	Function string       `json:"function,omitempty"`
	File     string       `json:"file,omitempty"`
	Line     int          `json:"line,omitempty"`
	Frames   []StackFrame `json:"frames,omitempty"`
}

// StackFrame is one frame of user code.
type StackFrame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// SignalChannelState is a signal channel and its signals not yet received.
type SignalChannelState struct {
	Name     string `json:"name"`
	Buffered int    `json:"buffered"`
}

// stack answers StackQuery from the run the caller holds.
func (r *run) stack() (json.RawMessage, error) {
	if r.noCode {
		return nil, fmt.Errorf("%w %q: this worker does not register it, so no code of the run runs here", ErrUnknownWorkflowType, r.info.WorkflowType)
	}
	ws := WorkflowStack{WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, Type: r.info.WorkflowType, LastEventSeq: r.lastSeq,
		Closed: r.closed, Coroutines: []CoroutineStack{}, SignalChannels: []SignalChannelState{}}
	if err := r.stopped(); err != nil {
		ws.Stopped = err.Error()
	}
	for _, c := range r.disp.capture() {
		cs := CoroutineStack{Name: c.name, State: "blocked"}
		switch {
		case !c.started:
			cs.State = "not_started"
		case c.done:
			cs.State = "done"
		case c.abandoned.Load():
			cs.State = "abandoned"
		}
		if cs.State == "blocked" {
			cs.WaitingFor = r.describeWait(c.waitOn)
			r.resolveStack(&cs, c.pcs[:c.npcs])
		}
		ws.Coroutines = append(ws.Coroutines, cs)
	}
	for name, ch := range r.signals {
		ws.SignalChannels = append(ws.SignalChannels, SignalChannelState{Name: name, Buffered: len(ch.buf)})
	}
	sort.Slice(ws.SignalChannels, func(i, j int) bool { return ws.SignalChannels[i].Name < ws.SignalChannels[j].Name })
	return json.Marshal(ws)
}

// resolveStack fills in the workflow call a blocked coroutine is in (the
// outermost engine frame) and the user frames around it.
func (r *run) resolveStack(cs *CoroutineStack, pcs []uintptr) {
	frames := runtime.CallersFrames(pcs)
	for more := true; more; {
		var f runtime.Frame
		f, more = frames.Next()
		switch {
		case isEngineFrame(f.Function, f.File):
			if len(cs.Frames) > 0 {
				more = false // back in the engine: the coroutine's start
				break
			}
			cs.BlockedIn = apiName(f.Function)
		case strings.HasPrefix(f.Function, "runtime.") || strings.HasPrefix(f.Function, "reflect."):
		default:
			cs.Frames = append(cs.Frames, StackFrame{Function: shortFuncName(f.Function), File: f.File, Line: f.Line})
		}
	}
	if len(cs.Frames) > 0 {
		cs.Function, cs.File, cs.Line = cs.Frames[0].Function, cs.Frames[0].File, cs.Frames[0].Line
	}
}

// describeWait says in words what a coroutine blocks on.
func (r *run) describeWait(on any) string {
	switch w := on.(type) {
	case *future:
		return r.describeFuture(w)
	case *channel:
		switch {
		case w.signal:
			return fmt.Sprintf("signal channel %q", w.name)
		case w.r == nil:
			return "ctx.Done()"
		}
		return "a workflow channel"
	case *selector:
		parts := make([]string, 0, len(w.cases))
		for _, c := range w.cases {
			switch {
			case c.isDeflt:
			case c.ch != nil:
				parts = append(parts, r.describeWait(c.ch))
			case c.fut != nil:
				var f *future
				switch cf := c.fut.(type) {
				case *future:
					f = cf
				case childFuture:
					f = cf.future
				}
				if f != nil {
					parts = append(parts, r.describeFuture(f))
				}
			}
		}
		return "one of: " + strings.Join(parts, "; ")
	}
	return ""
}

func (r *run) describeFuture(f *future) string {
	for seq, a := range r.activities {
		if a.future == f {
			return fmt.Sprintf("activity %s (event %d)", a.name, seq)
		}
	}
	for seq, t := range r.timers {
		if t.future == f {
			if t.started.FireAt != nil {
				return fmt.Sprintf("timer (event %d) firing at %s", seq, t.started.FireAt.UTC().Format(time.RFC3339))
			}
			return fmt.Sprintf("timer (event %d)", seq)
		}
	}
	for seq, c := range r.children {
		if c.result == f || c.started == f {
			return fmt.Sprintf("%s %s (event %d)", f.what, c.ref.WorkflowID, seq)
		}
	}
	return f.what
}
