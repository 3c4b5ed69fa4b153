package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/activity"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/tracing"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// failedOnce remembers the (run, step) pairs whose first attempt failed.
var failedOnce sync.Map

// stepSpans holds the span ID each step found in its context, by
// workflow ID and step.
var stepSpans sync.Map

// Step fails the first attempt of step 2 of each workflow.
func Step(ctx context.Context, workflowID string, n int) (int, error) {
	stepSpans.Store(fmt.Sprintf("%s/%d", workflowID, n), trace.SpanContextFromContext(ctx).SpanID())
	if _, had := failedOnce.LoadOrStore(fmt.Sprintf("%s/%d", activity.GetInfo(ctx).RunID, n), true); !had && n == 2 {
		return 0, errors.New("step 2 fails once")
	}
	return n, nil
}

// TracedWorkflow runs two steps, waits for the signal "go", runs a third.
func TracedWorkflow(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &workflow.RetryPolicy{InitialInterval: 20 * time.Millisecond, MaximumAttempts: 3},
	})
	id := workflow.GetInfo(ctx).WorkflowID
	total := 0
	for n := 1; n <= 3; n++ {
		if n == 3 {
			workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		}
		var out int
		if err := workflow.ExecuteActivity(ctx, Step, id, n).Get(ctx, &out); err != nil {
			return 0, err
		}
		total += out
	}
	return total, nil
}

func register(t *testing.T) func(w *worker.Worker) {
	return func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(TracedWorkflow))
		testsrv.Must(t, w.RegisterActivity(Step))
	}
}

// TestNoDuplicateSpansOnReplay runs workflows with the tracing observer,
// then makes them replay every way a run replays: on a new worker with an
// empty cache (as after a crash), through cache evictions (a cache of one
// run, two runs in turn), through a live replay check (dfctl replay) and
// the offline replayer. The exporter must hold exactly one span per run
// and per activity, each activity's a child of its run's, with the times
// of the recorded events.
func TestNoDuplicateSpansOnReplay(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(tracing.IDGenerator{}))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs := tracing.New(tracing.Options{TracerProvider: tp})
	const queue = "traced"
	ctx := testsrv.Context(t, 60*time.Second)

	// Worker A runs steps 1 and 2 of both runs; the runs then wait.
	stopA := testsrv.RunWorker(t, c, worker.Options{Observer: obs, TaskQueues: []string{queue}}, register(t))
	ids := []string{"traced-a", "traced-b"}
	runs := map[string]client.WorkflowRun{}
	for _, id := range ids {
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id, TaskQueue: queue}, TracedWorkflow)
		testsrv.Must(t, err)
		runs[id] = run
	}
	testsrv.WaitFor(t, ctx, "steps 1 and 2 of both runs", func() bool { return len(exp.GetSpans()) == 4 })
	stopA()

	// Worker B starts with an empty cache that holds one run: each signal
	// makes it load its run from the history (a replay), and the other
	// run's next task evicts it.
	testsrv.RunWorker(t, c, worker.Options{Observer: obs, TaskQueues: []string{queue}, CacheSize: 1}, register(t))
	for _, id := range ids {
		testsrv.Must(t, c.SignalWorkflow(ctx, id, "", "go", nil))
	}
	for _, id := range ids {
		var got int
		testsrv.Must(t, runs[id].Get(ctx, &got))
		if got != 6 {
			t.Fatalf("%s returned %d, want 6", id, got)
		}
	}

	// Replay checks: live (a worker of the queue, as dfctl replay asks)
	// and offline (the replayer).
	files := map[string]*history.File{}
	for _, id := range ids {
		recs, bad, err := c.Store().HistoryTolerant(ctx, id, runs[id].RunID())
		testsrv.Must(t, err)
		if len(bad) > 0 {
			t.Fatalf("bad records: %v", bad)
		}
		f := history.NewFile(recs)
		files[id] = f
		res, err := c.Store().ReplayFile(ctx, queue, f)
		testsrv.Must(t, err)
		if !res.Deterministic {
			t.Fatalf("live replay of %s: %+v", id, res.Mismatch)
		}
		r := replayer.New()
		testsrv.Must(t, r.RegisterWorkflow(TracedWorkflow))
		testsrv.Must(t, r.ReplayHistory(f))
	}

	spans := exp.GetSpans()
	if len(spans) != 2*4 {
		for _, sp := range spans {
			t.Logf("span %s %s parent %s", sp.Name, sp.SpanContext.SpanID(), sp.Parent.SpanID())
		}
		t.Fatalf("exported %d spans, want 8: one per run and per activity (2 runs x (1 + 3 activities))", len(spans))
	}
	seen := map[trace.SpanID]bool{}
	for _, sp := range spans {
		if seen[sp.SpanContext.SpanID()] {
			t.Fatalf("span %s exported twice", sp.SpanContext.SpanID())
		}
		seen[sp.SpanContext.SpanID()] = true
	}
	for _, id := range ids {
		f := files[id]
		step := 0
		wf := tracing.WorkflowSpanContext(f.WorkflowID, f.RunID)
		var wfSpan *tracetest.SpanStub
		for i := range spans {
			if spans[i].SpanContext.SpanID() == wf.SpanID() {
				wfSpan = &spans[i]
			}
		}
		if wfSpan == nil {
			t.Fatalf("%s: no workflow span with the derived span ID %s", id, wf.SpanID())
		}
		evs := f.Events
		if wfSpan.Name != "workflow TracedWorkflow" || wfSpan.Parent.IsValid() || wfSpan.SpanContext.TraceID() != wf.TraceID() {
			t.Errorf("%s: workflow span %q parent %v trace %s", id, wfSpan.Name, wfSpan.Parent, wfSpan.SpanContext.TraceID())
		}
		if !wfSpan.StartTime.Equal(evs[0].Time) || !wfSpan.EndTime.Equal(evs[len(evs)-1].Time) {
			t.Errorf("%s: workflow span %v..%v, want %v..%v", id, wfSpan.StartTime, wfSpan.EndTime, evs[0].Time, evs[len(evs)-1].Time)
		}
		outcomes := map[int64]history.Event{}
		for _, ev := range evs {
			if ev.Type == history.ActivityCompleted {
				outcomes[ev.Cause] = ev
			}
		}
		for _, ev := range evs {
			if ev.Type != history.ActivityScheduled {
				continue
			}
			want := tracing.ActivitySpanContext(f.WorkflowID, f.RunID, ev.Seq)
			var act *tracetest.SpanStub
			for i := range spans {
				if spans[i].SpanContext.SpanID() == want.SpanID() {
					act = &spans[i]
				}
			}
			if act == nil {
				t.Fatalf("%s: no span for the activity scheduled at seq %d", id, ev.Seq)
			}
			// The activity's code had the span in its context.
			step++
			if got, _ := stepSpans.Load(fmt.Sprintf("%s/%d", id, step)); got != want.SpanID() {
				t.Errorf("%s: step %d ran with span %v in its context, want %s", id, step, got, want.SpanID())
			}
			if act.Parent.SpanID() != wf.SpanID() || act.SpanContext.TraceID() != wf.TraceID() {
				t.Errorf("%s: activity span at seq %d has parent %s in trace %s, want %s in %s", id, ev.Seq,
					act.Parent.SpanID(), act.SpanContext.TraceID(), wf.SpanID(), wf.TraceID())
			}
			done := outcomes[ev.Seq]
			if !act.StartTime.Equal(ev.Time) || !act.EndTime.Equal(done.Time) {
				t.Errorf("%s: activity span %v..%v, want %v..%v", id, act.StartTime, act.EndTime, ev.Time, done.Time)
			}
			if got := attr(act.Attributes, tracing.AttrAttempts); got.AsInt64() != int64(done.Attempt) {
				t.Errorf("%s: activity at seq %d: attempts %v, want %d", id, ev.Seq, got, done.Attempt)
			}
			if got := attr(act.Attributes, tracing.AttrOutcome); got.AsString() != "completed" {
				t.Errorf("%s: activity at seq %d: outcome %v", id, ev.Seq, got)
			}
		}
	}
	// Step 2 failed once: its span says two attempts.
	twice := 0
	for _, sp := range spans {
		if attr(sp.Attributes, tracing.AttrAttempts).AsInt64() == 2 {
			twice++
		}
	}
	if twice != 2 {
		t.Errorf("%d activity spans with 2 attempts, want 2 (step 2 of each run)", twice)
	}
}

func attr(kvs []attribute.KeyValue, k attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestDerivedIDs: the IDs are a function of the run and event, the same
// on every worker and every emission.
func TestDerivedIDs(t *testing.T) {
	a, b := tracing.WorkflowSpanContext("wf", "run-1"), tracing.WorkflowSpanContext("wf", "run-1")
	if !a.Equal(b) || !a.IsValid() {
		t.Fatalf("workflow span contexts differ or are invalid: %v %v", a, b)
	}
	if tracing.WorkflowSpanContext("wf", "run-2").TraceID() == a.TraceID() {
		t.Fatal("two runs share a trace ID")
	}
	act := tracing.ActivitySpanContext("wf", "run-1", 2)
	if act.TraceID() != a.TraceID() || act.SpanID() == a.SpanID() {
		t.Fatalf("activity span context %v vs run %v", act, a)
	}
	var g tracing.IDGenerator
	t1, s1 := g.NewIDs(context.Background())
	t2, s2 := g.NewIDs(context.Background())
	if !t1.IsValid() || !s1.IsValid() || t1 == t2 || s1 == s2 {
		t.Fatalf("random IDs: %s/%s %s/%s", t1, s1, t2, s2)
	}
}

// TestWarnsWithoutIDGenerator: a provider that does not take the derived
// IDs is named in the log, once; a provider that does, and a no-op one,
// are not.
func TestWarnsWithoutIDGenerator(t *testing.T) {
	now := time.Now()
	closing := engine.RecordedEvents{
		Run:    engine.Info{WorkflowID: "w", RunID: "r", WorkflowType: "T", TaskQueue: "q", StartTime: now},
		Events: []history.Event{{Seq: 2, Type: history.WorkflowCompleted, Time: now}},
	}
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
		want int
	}{
		{"random IDs", sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter())), 1},
		{"IDGenerator", sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()), sdktrace.WithIDGenerator(tracing.IDGenerator{})), 0},
		{"no-op", noop.NewTracerProvider(), 0},
	} {
		logger, logs := testsrv.CaptureLogs(t)
		obs := tracing.New(tracing.Options{TracerProvider: tc.tp, Logger: logger})
		obs.EventsRecorded(closing)
		obs.EventsRecorded(closing)
		if got := logs.Count(func(r testsrv.LogRecord) bool { return r.Level == slog.LevelWarn }); got != tc.want {
			t.Errorf("%s: %d warnings, want %d", tc.name, got, tc.want)
		}
	}
}
