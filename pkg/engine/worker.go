package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WorkerOptions tune a worker. Zero values take the defaults.
type WorkerOptions struct {
	// TaskQueues served (default: "default").
	TaskQueues []string
	// Identity names this worker in the history (default host:pid).
	Identity string
	// MaxConcurrentWorkflowTasks handled at once (default 64).
	MaxConcurrentWorkflowTasks int
	// MaxConcurrentActivities run at once (default 64).
	MaxConcurrentActivities int
	// WorkflowTaskTimeout: a workflow task not acked within it (a crashed
	// worker) is redelivered to another worker (default 10s).
	WorkflowTaskTimeout time.Duration
	// ActivityTaskTimeout: an activity task whose worker stops renewing it
	// for this long (the worker renews it four times as often while the
	// attempt runs) is redelivered to another worker, which records the
	// lost attempt as timed out and runs the next one (default 2s).
	ActivityTaskTimeout time.Duration
	// CacheSize is the most runs kept in memory, suspended where their code
	// waits, so that a task applies only its input instead of replaying the
	// history (default 5,000; beyond it the least recently used idle run
	// is evicted). A cached run costs about 8 KB (its goroutine and state).
	CacheSize int
	// CacheIdleTimeout evicts a cached run no task has touched for this
	// long: a run waiting on a signal, a long timer or a child holds no
	// memory meanwhile and replays from its history on its next task
	// (default 1 minute; negative: runs stay until CacheSize evicts them).
	CacheIdleTimeout time.Duration
	// ShutdownTimeout bounds how long Run waits for running activities
	// after its context is done; those still running are then cancelled and
	// released for redelivery (default 10s).
	ShutdownTimeout time.Duration
	// DeadlockTimeout: workflow code that runs this long without yielding
	// (time.Sleep, blocking I/O, a busy loop) is a deadlock (DF1006): its
	// run is blocked and the task slot freed (default 1s; negative: never).
	DeadlockTimeout time.Duration
	// WorkflowPanicPolicy says what a panic in workflow code (or a value
	// that does not decode into the code's types: its arguments, an
	// activity or child result) does to the run: BlockWorkflow (the
	// default) blocks it (DF1005) until a worker with other code takes it;
	// FailWorkflow fails the run with the panic.
	WorkflowPanicPolicy WorkflowPanicPolicy
	// LenientInputs names activities and workflows (child workflows,
	// continue-as-new) whose input replay does not compare with the one
	// recorded: by default a scheduling command whose input differs from
	// the recorded one (an argument added, a type changed) is a
	// non-determinism (DF1004), since the code would get the result
	// recorded for other arguments. Use it where you knowingly change an
	// argument of runs in flight; guarding the change with
	// workflow.GetVersion is the better way.
	LenientInputs []string
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// ClosedRunRetention, if positive, makes this worker delete closed runs
	// (history, runs-index state, index entries) once they closed longer
	// ago than this, sweeping every tenth of it (between a second and an
	// hour; Store.RunRetention). Every worker that sets it sweeps; the
	// deletes are idempotent. Zero (the default) keeps closed runs.
	ClosedRunRetention time.Duration
	// Observer, if set, is told about tasks, decisions, activity attempts,
	// blocked runs and the backlog (observe.go): pkg/sdk/metrics and
	// pkg/sdk/tracing implement it. Nil (the default) costs nothing.
	Observer Observer
}

// WorkflowPanicPolicy is what a panic in workflow code does to its run.
type WorkflowPanicPolicy int

const (
	// BlockWorkflow records the panic (text and stack) as a workflow-task
	// failure (WorkflowTaskFailed, DF1005) and leaves the run blocked: its
	// task is retried, so a worker with fixed code continues it from its
	// history. The default.
	BlockWorkflow WorkflowPanicPolicy = iota
	// FailWorkflow fails the run for good (WorkflowFailed with the panic).
	FailWorkflow
)

func (p WorkflowPanicPolicy) String() string {
	if p == FailWorkflow {
		return "FailWorkflow"
	}
	return "BlockWorkflow"
}

func (o WorkerOptions) normalize() (WorkerOptions, error) {
	if len(o.TaskQueues) == 0 {
		o.TaskQueues = []string{DefaultTaskQueue}
	}
	for _, q := range o.TaskQueues {
		if err := ValidateTaskQueue(q); err != nil {
			return o, err
		}
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.MaxConcurrentWorkflowTasks <= 0 {
		o.MaxConcurrentWorkflowTasks = 64
	}
	if o.MaxConcurrentActivities <= 0 {
		o.MaxConcurrentActivities = 64
	}
	if o.WorkflowTaskTimeout <= 0 {
		o.WorkflowTaskTimeout = 10 * time.Second
	}
	if o.ActivityTaskTimeout <= 0 {
		o.ActivityTaskTimeout = 2 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheIdleTimeout == 0 {
		o.CacheIdleTimeout = DefaultCacheIdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.DeadlockTimeout == 0 {
		o.DeadlockTimeout = DefaultDeadlockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Worker pulls workflow and activity tasks from its task queues and runs
// the registered code.
type Worker struct {
	store *Store
	reg   *Registry
	opts  WorkerOptions
	log   *slog.Logger
	cache *runCache
	// running are the activity attempts in progress, for cancellation.
	running runningActivities
	// fullBlocked are the runs this worker marked blocked because
	// JetStream storage was full (run ID → true), cleared on their next
	// committed decision.
	fullBlocked sync.Map
	// startWaits: waits for clients' start records (startwait.go).
	startWaits startWaits
}

// NewWorker returns a worker for the registry's workflows and activities.
func NewWorker(store *Store, reg *Registry, opts WorkerOptions) (*Worker, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return &Worker{store: store, reg: reg, opts: opts, log: opts.Logger, cache: newRunCache(opts.CacheSize)}, nil
}

// Identity is the worker's name in the history.
func (w *Worker) Identity() string { return w.opts.Identity }

// Run serves the task queues until ctx is done, then shuts down gracefully:
// it stops pulling, finishes the tasks in hand and releases the rest for
// redelivery. It returns nil after a graceful shutdown.
func (w *Worker) Run(ctx context.Context) error {
	serveWF := len(w.reg.WorkflowNames()) > 0
	serveAct := len(w.reg.ActivityNames()) > 0
	if !serveWF && !serveAct {
		return errors.New("worker: nothing registered: call RegisterWorkflow or RegisterActivity before Run")
	}
	// Activities may outlive ctx by ShutdownTimeout; hard stops them after.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	if serveAct {
		unsubscribe, err := w.subscribeActivityCancels(ctx)
		if err != nil {
			return stoppedOr(ctx, err)
		}
		defer unsubscribe()
	}
	var loops []func() error
	var backlog []backlogSource // sampled for the Observer (observe.go)
	for _, q := range w.opts.TaskQueues {
		// One consumer of each kind per partition (partition.go); the
		// limits on concurrent tasks apply to each.
		if serveWF {
			src := backlogSource{kind: "workflow", queue: q}
			for p := range w.store.partitions() {
				c, err := w.consumer(ctx, "wf", q, p, w.opts.WorkflowTaskTimeout)
				if err != nil {
					return stoppedOr(ctx, err)
				}
				src.cs = append(src.cs, c)
				loops = append(loops, func() error {
					return w.pull(ctx, c, w.opts.MaxConcurrentWorkflowTasks, func(m jetstream.Msg) {
						w.processWorkflowTask(hard, m)
					})
				})
			}
			backlog = append(backlog, src)
			loops = append(loops, w.queryLoop(ctx, q)) // queries of the runs of q (query.go)
			replays, err := w.serveReplays(ctx, q)     // replay checks (replay.go)
			if err != nil {
				return stoppedOr(ctx, err)
			}
			loops = append(loops, replays)
		}
		if serveAct {
			src := backlogSource{kind: "activity", queue: q}
			for p := range w.store.partitions() {
				c, err := w.consumer(ctx, "act", q, p, w.opts.ActivityTaskTimeout)
				if err != nil {
					return stoppedOr(ctx, err)
				}
				src.cs = append(src.cs, c)
				loops = append(loops, func() error {
					return w.fetch(ctx, c, w.opts.MaxConcurrentActivities, func(m jetstream.Msg) {
						w.processActivityTask(ctx, hard, m)
					}, w.releaseUnstarted)
				})
			}
			backlog = append(backlog, src)
		}
	}
	if w.opts.Observer != nil {
		loops = append(loops, w.sampleBacklog(ctx, backlog))
	}
	if w.opts.CacheIdleTimeout > 0 {
		loops = append(loops, w.evictIdleRuns(ctx))
	}
	if w.opts.ClosedRunRetention > 0 {
		loops = append(loops, func() error {
			w.store.RunRetention(ctx, w.opts.ClosedRunRetention, 0, w.log)
			return nil
		})
	}
	w.log.Info("worker started", "identity", w.opts.Identity, "task_queues", w.opts.TaskQueues,
		"workflows", w.reg.WorkflowNames(), "activities", w.reg.ActivityNames())
	// Announced for dfctl task-queue describe (presence.go); the entries
	// are deleted when Run returns.
	stopPresence := w.announce(ctx)
	defer stopPresence()
	errs := make(chan error, len(loops))
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loop()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
		case <-time.After(w.opts.ShutdownTimeout):
			w.log.Warn("worker: shutdown timeout: cancelling running activities, releasing their tasks")
			cancelHard()
			<-done
		}
	}
	w.cache.clear()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// consumer gets the durable consumer of a kind of task of queue q in
// partition p, as Run starts. A server that does not answer in time (a
// cluster electing leaders, a node restarting, a loaded machine: creating
// a replicated consumer takes a round of consensus) is tried again, with
// a warning, until ctx is done: a worker does not give up for good on a
// hiccup of the server, as its pulls do not once it runs.
func (w *Worker) consumer(ctx context.Context, kind, q string, p int, ackWait time.Duration) (jetstream.Consumer, error) {
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := w.store.consumer(ctx, kind, q, p, ackWait, 10000)
		if err == nil || ctx.Err() != nil || !transientServerError(err) {
			return c, err
		}
		w.log.Warn("worker: the server did not answer the creation of a consumer in time; trying again",
			"kind", kind, "task_queue", q, "partition", p, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// transientServerError: the server did not answer in time, or answered
// that the JetStream cluster is not ready; another try may succeed.
func transientServerError(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.As(err, &apiErr) && apiErr.Code == 503
}

// stoppedOr is nil when ctx was cancelled (asked to stop while setting
// up is not a failure), else err.
func stoppedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// pull feeds messages of one consumer to handle, at most conc at once, until
// ctx is done; then it drains what was already pulled and waits for the
// handlers.
func (w *Worker) pull(ctx context.Context, c jetstream.Consumer, conc int, handle func(jetstream.Msg)) error {
	// A short pull expiry and heartbeat: after a consumer leader moves (a
	// cluster node dies) the pull is renewed within seconds, not 30 s.
	it, err := c.Messages(jetstream.PullMaxMessages(conc), jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second))
	if err != nil {
		return fmt.Errorf("worker: pull: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	sem := make(chan struct{}, conc)
	tasks := handlers(conc, sem, handle)
	defer tasks.stop()
	for {
		sem <- struct{}{}
		msg, err := it.Next()
		if err != nil {
			<-sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("worker: %w", err)
			}
			// Lost the server for a moment: back off a little, then go on
			// (the iterator reconnects with the connection).
			w.log.Warn("worker: pull", "err", err)
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		tasks.give(msg)
	}
}

// taskHandlers are long-lived goroutines that handle the messages of one
// consumer: a goroutine per message would grow a fresh stack for every
// task (4.5% of a loaded worker's CPU, issue 12). They are started as the
// load needs them, up to one per slot of sem; a handler frees its slot when
// it is done with a message.
type taskHandlers struct {
	ch      chan jetstream.Msg
	sem     chan struct{}
	handle  func(jetstream.Msg)
	started int // only the feeding goroutine (give) reads and writes it
	wg      sync.WaitGroup
}

func handlers(conc int, sem chan struct{}, handle func(jetstream.Msg)) *taskHandlers {
	return &taskHandlers{ch: make(chan jetstream.Msg), sem: sem, handle: handle}
}

// give hands msg, for which a slot of sem was taken, to an idle handler,
// or to a new one while fewer than the slots run. With every handler
// started, one is idle or about to be (a slot was free), so the send
// waits at most for it to come back to the channel.
func (t *taskHandlers) give(msg jetstream.Msg) {
	select {
	case t.ch <- msg:
		return
	default:
	}
	if t.started < cap(t.sem) {
		t.started++
		t.wg.Add(1)
		go t.loop(msg)
		return
	}
	t.ch <- msg
}

func (t *taskHandlers) loop(msg jetstream.Msg) {
	defer t.wg.Done()
	for {
		t.handle(msg)
		<-t.sem
		var ok bool
		if msg, ok = <-t.ch; !ok {
			return
		}
	}
}

// stop waits for the messages in hand and ends the handlers.
func (t *taskHandlers) stop() {
	close(t.ch)
	t.wg.Wait()
}

// fetch feeds messages of one consumer to handle, at most conc at once,
// until ctx is done, asking the server for exactly as many messages as
// there are free slots. Unlike pull, no message waits in a client buffer
// while its ack timer runs: activity tasks have a short ack wait (renewed
// with InProgress while they run, so that a crashed attempt is retried
// within seconds), and a task buffered past it would be redelivered to
// another worker while this one still holds it.
func (w *Worker) fetch(ctx context.Context, c jetstream.Consumer, conc int, handle, release func(jetstream.Msg)) error {
	sem := make(chan struct{}, conc)
	tasks := handlers(conc, sem, handle)
	defer tasks.stop()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		free := 1
	more:
		for free < conc {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break more
			}
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := c.Fetch(free, jetstream.FetchContext(fctx))
		got := 0
		if err == nil {
			for msg := range batch.Messages() {
				got++
				if ctx.Err() != nil {
					release(msg) // shutting down: give it back at once
					<-sem
					continue
				}
				tasks.give(msg)
			}
			err = batch.Error()
		}
		cancel()
		for ; got < free; got++ {
			<-sem
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		case errors.Is(err, nats.ErrConnectionClosed):
			return fmt.Errorf("worker: %w", err)
		default:
			// Lost the server for a moment: back off a little, then go on.
			w.log.Warn("worker: fetch", "err", err)
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

// publishAll publishes msgs concurrently and waits for every ack.
func (w *Worker) publishAll(ctx context.Context, msgs []*nats.Msg) error {
	return publishAll(ctx, w.store.JS, msgs)
}

func publishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		_, err := js.PublishMsg(ctx, msgs[0])
		return err
	}
	futs := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func newMsg(subject, msgID string, v any) *nats.Msg {
	data := marshalTask(v)
	m := nats.NewMsg(subject)
	m.Data = data
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	return m
}

// withLazy is log.With(args...) that does the handler's work (formatting
// the attributes) only when a line is written: a task's logger is built for
// every task and used for few.
func withLazy(log *slog.Logger, args ...any) *slog.Logger {
	return slog.New(&lazyAttrs{h: log.Handler(), args: args})
}

type lazyAttrs struct {
	h    slog.Handler
	args []any
}

func (l *lazyAttrs) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

// Handle writes the record with the attributes first, as With would.
func (l *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.Add(l.args...)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return l.h.Handle(ctx, out)
}

// WithAttrs and WithGroup build the eager handler: only a logger that is
// used gets them.
func (l *lazyAttrs) WithAttrs(as []slog.Attr) slog.Handler { return l.eager().WithAttrs(as) }
func (l *lazyAttrs) WithGroup(name string) slog.Handler    { return l.eager().WithGroup(name) }
func (l *lazyAttrs) eager() slog.Handler                   { return slog.New(l.h).With(l.args...).Handler() }
