package sdktest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func Upper(ctx context.Context, s string) (string, error) {
	return fmt.Sprintf("<%s>", s), nil
}

// PipelineWorkflow: workflow goroutines produce into a channel, the main
// goroutine consumes through a selector that also watches a future.
func PipelineWorkflow(ctx workflow.Context, words []string) ([]string, error) {
	ch := workflow.NewChannel(ctx)
	done := workflow.NewChannel(ctx)
	for _, w := range words {
		workflow.Go(ctx, func(ctx workflow.Context) {
			var out string
			if err := workflow.ExecuteActivity(ctx, Upper, w).Get(ctx, &out); err != nil {
				out = "error: " + err.Error()
			}
			ch.Send(ctx, out)
		})
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		// A buffered channel and Len/ReceiveAsync on the way.
		b := workflow.NewBufferedChannel(ctx, 2)
		b.Send(ctx, 1)
		b.Send(ctx, 2)
		var x, y int
		b.ReceiveAsync(&x)
		b.Receive(ctx, &y)
		done.Send(ctx, x+y)
	})
	side := workflow.ExecuteActivity(ctx, Upper, "side")
	var got []string
	var sum int
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.Channel, more bool) {
		var s string
		c.Receive(ctx, &s)
		got = append(got, s)
	})
	sel.AddReceive(done, func(c workflow.Channel, more bool) { c.Receive(ctx, &sum) })
	sel.AddFuture(side, func(f workflow.Future) {
		var s string
		_ = f.Get(ctx, &s)
		got = append(got, "side="+s)
	})
	for len(got) < len(words)+1 || sum == 0 {
		sel.Select(ctx)
	}
	got = append(got, fmt.Sprint("sum=", sum))
	return got, nil
}

func TestGoChannelSelector(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(PipelineWorkflow))
		testsrv.Must(t, w.RegisterActivity(Upper))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "pipeline"}, PipelineWorkflow, []string{"a", "b", "c"})
	testsrv.Must(t, err)
	var got []string
	testsrv.Must(t, run.Get(ctx, &got))
	if len(got) != 5 || got[4] != "sum=3" {
		t.Fatalf("got %v", got)
	}
	seen := map[string]bool{}
	for _, s := range got[:4] {
		seen[s] = true
	}
	for _, want := range []string{"<a>", "<b>", "<c>", "side=<side>"} {
		if !seen[want] {
			t.Fatalf("missing %s in %v", want, got)
		}
	}
	// Replaying the whole history (a worker with an empty cache) gives the
	// same result: run the workflow again on a fresh worker from scratch.
	evs, err := c.History(ctx, "pipeline", "")
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
}

func OtherQueueWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: "gpu"})
	var out string
	err := workflow.ExecuteActivity(ctx, Upper, "x").Get(ctx, &out)
	return out, err
}

func TestActivityOnAnotherTaskQueue(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterWorkflow(OtherQueueWorkflow)) })
	w := worker.New(c, worker.Options{TaskQueues: []string{"gpu", "spare"}, Logger: testsrv.Logger(t)})
	testsrv.Must(t, w.RegisterActivity(Upper))
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{}, OtherQueueWorkflow)
	testsrv.Must(t, err)
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	if out != "<x>" {
		t.Fatalf("got %q", out)
	}
}

type captureHandler struct {
	mu   *sync.Mutex
	msgs *[]string
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "step" {
			*h.msgs = append(*h.msgs, fmt.Sprint(r.Message, a.Value))
		}
		return true
	})
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

var logGate = make(chan struct{})

func LogGate(ctx context.Context) error {
	select {
	case <-logGate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func LoggedWorkflow(ctx workflow.Context) error {
	log := workflow.GetLogger(ctx)
	log.Info("at", "step", 1)
	if err := workflow.ExecuteActivity(ctx, LogGate).Get(ctx, nil); err != nil {
		return err
	}
	log.Info("at", "step", 2)
	return nil
}

func TestLoggerSilentWhileReplaying(t *testing.T) {
	logGate = make(chan struct{})
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) { testsrv.Must(t, w.RegisterActivity(LogGate)) })
	var mu sync.Mutex
	var first, second []string
	w1 := worker.New(c, worker.Options{Logger: slog.New(captureHandler{&mu, &first})})
	testsrv.Must(t, w1.RegisterWorkflow(LoggedWorkflow))
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { done1 <- w1.Run(ctx1) }()
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "logged"}, LoggedWorkflow)
	testsrv.Must(t, err)
	testsrv.WaitFor(t, ctx, "step 1 logged", func() bool { mu.Lock(); defer mu.Unlock(); return len(first) == 1 })
	stop1()
	testsrv.Must(t, <-done1)

	w2 := worker.New(c, worker.Options{Logger: slog.New(captureHandler{&mu, &second})})
	testsrv.Must(t, w2.RegisterWorkflow(LoggedWorkflow))
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- w2.Run(ctx2) }()
	t.Cleanup(func() { stop2(); <-done2 })
	close(logGate)
	testsrv.Must(t, run.Get(ctx, nil))
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(first) != "[at1]" || fmt.Sprint(second) != "[at2]" {
		t.Fatalf("first worker logged %v, second %v; want [at1] and [at2] (step 1 replayed silently)", first, second)
	}
}

var policyCalls sync.Map // error type -> *atomic.Int32

func FailWith(ctx context.Context, errType string) error {
	v, _ := policyCalls.LoadOrStore(errType, new(atomic.Int32))
	v.(*atomic.Int32).Add(1)
	return failure.NewApplicationError("failing with "+errType, errType)
}

func PolicyWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{RetryPolicy: &workflow.RetryPolicy{
		InitialInterval: 10 * time.Millisecond, MaximumAttempts: 3, NonRetryableErrorTypes: []string{"Fatal"},
	}})
	errFatal := workflow.ExecuteActivity(ctx, FailWith, "Fatal").Get(ctx, nil)
	errFlaky := workflow.ExecuteActivity(ctx, FailWith, "Flaky").Get(ctx, nil)
	return failure.Type(errFatal) + "," + failure.Type(errFlaky), nil
}

// A listed non-retryable type stops at once; others stop at MaximumAttempts.
func TestRetryPolicyLimits(t *testing.T) {
	policyCalls.Clear()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	startWorker(t, c, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(PolicyWorkflow))
		testsrv.Must(t, w.RegisterActivity(FailWith))
	})
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{}, PolicyWorkflow)
	testsrv.Must(t, err)
	var got string
	testsrv.Must(t, run.Get(ctx, &got))
	if got != "Fatal,Flaky" {
		t.Fatalf("error types seen by the workflow: %q", got)
	}
	fatal, _ := policyCalls.Load("Fatal")
	flaky, _ := policyCalls.Load("Flaky")
	if n1, n2 := fatal.(*atomic.Int32).Load(), flaky.(*atomic.Int32).Load(); n1 != 1 || n2 != 3 {
		t.Fatalf("Fatal ran %d times (want 1), Flaky %d (want 3)", n1, n2)
	}
}
