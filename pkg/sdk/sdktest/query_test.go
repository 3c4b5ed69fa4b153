package sdktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/nats-io/nats.go"
)

func QueryStep(ctx context.Context, s string) (string, error) { return "step " + s, nil }

// QueryableWorkflow exposes its state through queries: "state" changes after
// an activity and with every "advance" signal, until the signal "done".
func QueryableWorkflow(ctx workflow.Context) (string, error) {
	state := "started"
	if err := workflow.SetQueryHandler(ctx, "state", func() (string, error) { return state, nil }); err != nil {
		return "", err
	}
	if err := workflow.SetQueryHandler(ctx, "repeat", func(s string, n int) (string, error) {
		return strings.Repeat(s, n) + " at " + state, nil
	}); err != nil {
		return "", err
	}
	if err := workflow.SetQueryHandler(ctx, "fail", func() (string, error) {
		return "", failure.NewApplicationError("cannot say", "NotNow")
	}); err != nil {
		return "", err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
	if err := workflow.SetQueryHandler(ctx, "panic", func() (string, error) { panic("query panic") }); err != nil {
		return "", err
	}
	if err := workflow.SetQueryHandler(ctx, "sneaky", func() (string, error) {
		workflow.ExecuteActivity(ctx, QueryStep, "sneaky") // not allowed: a query must not change the run
		return state, nil
	}); err != nil {
		return "", err
	}
	var out string
	if err := workflow.ExecuteActivity(ctx, QueryStep, "one").Get(ctx, &out); err != nil {
		return "", err
	}
	state = "after " + out
	ch := workflow.GetSignalChannel(ctx, "advance")
	for {
		var v string
		ch.Receive(ctx, &v)
		if v == "done" {
			break
		}
		state = v
	}
	state = "done"
	return state, nil
}

func registerQueryable(t *testing.T) func(w *worker.Worker) {
	return func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(QueryableWorkflow))
		testsrv.Must(t, w.RegisterActivity(QueryStep))
	}
}

// queryState queries "state"; ok is false while no worker answers yet (a
// worker just started subscribes at once, but Run is asynchronous).
func queryState(t *testing.T, ctx context.Context, c *client.Client, id string) (string, bool) {
	t.Helper()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := c.QueryWorkflow(qctx, id, "", "state")
	if errors.Is(err, client.ErrNoWorker) {
		return "", false
	}
	testsrv.Must(t, err)
	var s string
	testsrv.Must(t, v.Get(&s))
	return s, true
}

func waitState(t *testing.T, ctx context.Context, c *client.Client, id, want string) {
	t.Helper()
	testsrv.WaitFor(t, ctx, fmt.Sprintf("query state %q", want), func() bool {
		s, ok := queryState(t, ctx, c, id)
		return ok && s == want
	})
}

func TestQueries(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 60*time.Second)

	// No worker at all: a clear error, at once (the server knows there is
	// no responder).
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "q-1"}, QueryableWorkflow)
	testsrv.Must(t, err)
	start := time.Now()
	_, err = c.QueryWorkflow(ctx, "q-1", "", "state")
	if !errors.Is(err, client.ErrNoWorker) || !strings.Contains(err.Error(), "task queue default") {
		t.Fatalf("query without a worker: %v", err)
	}
	if d := time.Since(start); d > client.DefaultQueryTimeout {
		t.Fatalf("query without a worker took %s", d)
	}
	t.Logf("no worker: %v (after %s)", err, time.Since(start).Round(time.Microsecond))

	stop := testsrv.RunWorker(t, c, worker.Options{}, registerQueryable(t))
	waitState(t, ctx, c, "q-1", "after step one")
	testsrv.Must(t, c.SignalWorkflow(ctx, "q-1", "", "advance", "waiting"))
	waitState(t, ctx, c, "q-1", "waiting")

	// Arguments, the run's state inside the handler.
	v, err := c.QueryWorkflow(ctx, "q-1", run.RunID(), "repeat", "ab", 3)
	testsrv.Must(t, err)
	var got string
	testsrv.Must(t, v.Get(&got))
	if got != "ababab at waiting" {
		t.Fatalf("repeat: %q", got)
	}
	// Wrong arguments, an unknown query, a handler's error.
	if _, err := c.QueryWorkflow(ctx, "q-1", "", "repeat", "ab"); failure.Type(err) != "ArgumentError" {
		t.Fatalf("repeat with one argument: %v", err)
	}
	_, err = c.QueryWorkflow(ctx, "q-1", "", "nope")
	if !errors.Is(err, client.ErrQueryNotFound) || !strings.Contains(err.Error(), "[fail panic repeat sneaky state]") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown query: %v", err)
	}
	_, err = c.QueryWorkflow(ctx, "q-1", "", "fail")
	if failure.Type(err) != "NotNow" || !strings.Contains(err.Error(), "cannot say") {
		t.Fatalf("failing handler: %v", err)
	}
	if _, err := c.QueryWorkflow(ctx, "q-1", "", "panic"); !failure.IsPanicError(err) || !strings.Contains(err.Error(), "query panic") {
		t.Fatalf("panicking handler: %v", err)
	}
	if _, err := c.QueryWorkflow(ctx, "q-1", "", "sneaky"); failure.Type(err) != "QueryHandlerError" {
		t.Fatalf("handler that schedules an activity: %v", err)
	}
	waitState(t, ctx, c, "q-1", "waiting") // the run goes on from its history
	if _, err := c.QueryWorkflow(ctx, "nobody", "", "state"); !errors.Is(err, failure.ErrWorkflowNotFound) {
		t.Fatalf("query of an unknown workflow: %v", err)
	}

	// Cached: the worker holds the run.
	const n = 200
	start = time.Now()
	for range n {
		if s, _ := queryState(t, ctx, c, "q-1"); s != "waiting" {
			t.Fatalf("cached query: %q", s)
		}
	}
	t.Logf("cached query: %s on average over %d", (time.Since(start) / n).Round(time.Microsecond), n)

	// A new worker has no run in memory: it loads it by replay.
	stop()
	if _, err := c.QueryWorkflow(ctx, "q-1", "", "state"); !errors.Is(err, client.ErrNoWorker) {
		t.Fatalf("query after the worker stopped: %v", err)
	}
	stop = testsrv.RunWorker(t, c, worker.Options{}, registerQueryable(t))
	var st string
	testsrv.WaitFor(t, ctx, "a worker answering", func() bool {
		start = time.Now()
		var ok bool
		st, ok = queryState(t, ctx, c, "q-1")
		return ok
	})
	t.Logf("uncached query (replay of %d-event history): %s", historyLen(t, c, "q-1"), time.Since(start).Round(time.Microsecond))
	if st != "waiting" {
		t.Fatalf("query after a worker restart: %q, want %q", st, "waiting")
	}

	// A closed run answers from its end state.
	testsrv.Must(t, c.SignalWorkflow(ctx, "q-1", "", "advance", "done"))
	testsrv.Must(t, run.Get(ctx, &got))
	evs, err := c.History(ctx, "q-1", run.RunID())
	testsrv.Must(t, err)
	checkWellFormed(t, evs)
	for _, ev := range evs {
		if strings.Contains(string(ev.Input), "sneaky") {
			t.Fatalf("the work a query handler asked for reached the history: %+v", ev)
		}
	}
	start = time.Now()
	if s, _ := queryState(t, ctx, c, "q-1"); s != "done" {
		t.Fatalf("query of a closed run: %q", s)
	}
	t.Logf("query of a closed run (replayed): %s", time.Since(start).Round(time.Microsecond))
	// Also with no worker that ever held it, and by run ID after a new run.
	stop()
	testsrv.RunWorker(t, c, worker.Options{}, registerQueryable(t))
	run2, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "q-1"}, QueryableWorkflow)
	testsrv.Must(t, err)
	waitState(t, ctx, c, "q-1", "after step one")
	v, err = c.QueryWorkflow(ctx, "q-1", run.RunID(), "state")
	testsrv.Must(t, err)
	testsrv.Must(t, v.Get(&got))
	if got != "done" || run2.RunID() == run.RunID() {
		t.Fatalf("query of the closed first run: %q", got)
	}
}

func historyLen(t *testing.T, c *client.Client, id string) int {
	evs, err := c.History(context.Background(), id, "")
	testsrv.Must(t, err)
	return len(evs)
}

// TestQueryTwoWorkers: two workers share a task queue and both decide for
// the run; whichever answers a query answers the latest state, never the
// one it held in memory before the other worker moved the run on.
func TestQueryTwoWorkers(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	c2 := testsrv.ClientURL(t, s.ClientURL())
	ctx := testsrv.Context(t, 60*time.Second)
	testsrv.RunWorker(t, c, worker.Options{}, registerQueryable(t))
	testsrv.RunWorker(t, c2, worker.Options{}, registerQueryable(t))
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "q-2"}, QueryableWorkflow)
	testsrv.Must(t, err)
	waitState(t, ctx, c, "q-2", "after step one")
	for i := range 8 {
		want := fmt.Sprintf("v%d", i)
		testsrv.Must(t, c.SignalWorkflow(ctx, "q-2", "", "advance", want))
		waitState(t, ctx, c, "q-2", want)
		for range 10 {
			if got, _ := queryState(t, ctx, c, "q-2"); got != want {
				t.Fatalf("after %q was answered once, a query answered %q", want, got)
			}
		}
	}
}

// TestQueryNoAnswer: a responder that never answers (a stuck worker) ends in
// ErrNoWorker at the context's deadline, with the time waited.
func TestQueryNoAnswer(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	ctx := testsrv.Context(t, 30*time.Second)
	_, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "q-3"}, QueryableWorkflow)
	testsrv.Must(t, err)
	sub, err := c.Store().NC.QueueSubscribe("df.query.default", "df-query-default", func(m *nats.Msg) {})
	testsrv.Must(t, err)
	defer sub.Unsubscribe()
	qctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.QueryWorkflow(qctx, "q-3", "", "state")
	d := time.Since(start)
	if !errors.Is(err, client.ErrNoWorker) || !strings.Contains(err.Error(), "answered the query within 700ms") {
		t.Fatalf("query to a stuck worker: %v", err)
	}
	if d < 600*time.Millisecond || d > 3*time.Second {
		t.Fatalf("query to a stuck worker ended after %s", d)
	}
}
