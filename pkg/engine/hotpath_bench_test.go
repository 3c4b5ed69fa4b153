package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// The hot paths of a workflow worker, measured apart (issue 12):
//
//	go test -run '^$' -bench 'Decision|Replay' -benchmem ./pkg/engine/

// benchStep is the activity of the benchmark workflows; it never runs here.
func benchStep(ctx context.Context, i int) (int, error) { return i + 1, nil }

// benchLoop runs n activities one after the other (n < 0: for ever).
func benchLoop(ctx Context, n int) error {
	ctx = WithActivityOptions(ctx, ActivityOptions{StartToCloseTimeout: time.Minute})
	for i := 0; n < 0 || i < n; i++ {
		if err := ExecuteActivity(ctx, benchStep, i).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func benchRegistry(tb testing.TB) *Registry {
	tb.Helper()
	reg := NewRegistry()
	if err := reg.RegisterWorkflow(benchLoop, ""); err != nil {
		tb.Fatal(err)
	}
	if err := reg.RegisterActivity(benchStep, ""); err != nil {
		tb.Fatal(err)
	}
	return reg
}

// benchTaskMsg stands for the task message: a decision that succeeds never
// looks at it.
type benchTaskMsg struct{ jetstream.Msg }

// benchLoopRun starts benchLoop(-1) on an embedded server and makes its
// first decision (which schedules event 2); complete then applies the
// completion of the open activity, as one workflow task, and checks that
// the decision was made.
func benchLoopRun(b *testing.B) (w *Worker, complete func(), events func() int64) {
	store := openTestStore(b, devserver.Options{InProcessOnly: true})
	ctx := context.Background()
	w, err := NewWorker(store, benchRegistry(b), WorkerOptions{TaskQueues: []string{"bench"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	input, _ := json.Marshal([]int{-1})
	ri, err := store.StartWorkflow(ctx, StartRequest{WorkflowID: "loop", TaskQueue: "bench", Type: FunctionName(benchLoop), Input: input})
	if err != nil {
		b.Fatal(err)
	}
	c, err := store.consumer(ctx, "wf", "bench", 0, 10*time.Second, 10000)
	if err != nil {
		b.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		b.Fatal(err)
	}
	w.processWorkflowTask(ctx, msg) // the first decision schedules event 2
	name := FunctionName(benchStep)
	seq := int64(2)
	complete = func() {
		ev := history.Event{Type: history.ActivityCompleted, Cause: seq, Name: name, Attempt: 1, Result: json.RawMessage(`1`)}
		task := workflowTask{V: 1, WorkflowID: "loop", RunID: ri.RunID, InputID: fmt.Sprintf("act:%d:done", seq), Event: &ev}
		if o := w.handleWorkflowTask(ctx, benchTaskMsg{}, task, w.log, nil, nil); o.kind != taskDone {
			b.Fatalf("decision after event %d: %v", seq, o)
		}
		seq += 2 // the completion, then the next ActivityScheduled
	}
	return w, complete, func() int64 { return seq }
}

// BenchmarkDecisionCachedRun is one workflow task on a run the worker holds
// in memory: apply an activity's completion, run the code until it
// schedules the next activity, append the decision record (one JetStream
// write, embedded server) and publish the activity task.
func BenchmarkDecisionCachedRun(b *testing.B) {
	_, complete, _ := benchLoopRun(b)
	b.ReportAllocs()
	for b.Loop() {
		complete()
	}
}

// BenchmarkColdResume10000 is one workflow task on a run of 10,000 events
// that the worker does not hold (a new worker, or the run was evicted): read
// the history from the stream (embedded server), decode it, replay it,
// apply the activity's completion, append the decision and publish the
// next activity task. The target is <= 80 ms.
func BenchmarkColdResume10000(b *testing.B) {
	w, complete, events := benchLoopRun(b)
	for events() < 10_000 { // the history, built through the cached path
		complete()
	}
	b.ReportAllocs()
	for b.Loop() {
		w.cache.clear() // as a worker that has never seen the run
		complete()
	}
	b.ReportMetric(float64(events()), "events")
}

// benchHistory is the history of benchLoop(n) run to completion: 2n+2
// events in n+2 records, as a worker writes them.
func benchHistory(n int) []history.Record {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	input, _ := json.Marshal([]int{n})
	name := FunctionName(benchStep)
	opts := &history.ActivityOptions{TaskQueue: "bench", StartToCloseTimeout: history.Duration(time.Minute)}
	seq := int64(1)
	ev := func(e history.Event) history.Event {
		e.Seq, e.Time = seq, t0.Add(time.Duration(seq)*time.Millisecond)
		seq++
		return e
	}
	scheduled := func(i int) history.Event {
		in, _ := json.Marshal([]int{i})
		return ev(history.Event{Type: history.ActivityScheduled, Name: name, Input: in, InputDigest: inputDigest(in), ActivityOptions: opts})
	}
	recs := []history.Record{{Kind: history.KindInput, Events: []history.Event{ev(history.Event{Type: history.WorkflowStarted, InputID: startInputID,
		Name: FunctionName(benchLoop), WorkflowID: "loop", RunID: "run-1", TaskQueue: "bench", Input: input})}}}
	if n == 0 {
		return append(recs, history.Record{Kind: history.KindDecision, Events: []history.Event{ev(history.Event{Type: history.WorkflowCompleted})}})
	}
	recs = append(recs, history.Record{Kind: history.KindDecision, Events: []history.Event{scheduled(0)}})
	for i := range n {
		cause := seq - 1
		done := ev(history.Event{Type: history.ActivityCompleted, InputID: fmt.Sprintf("act:%d:done", cause), Cause: cause, Name: name, Attempt: 1, Result: json.RawMessage(fmt.Sprint(i + 1))})
		next := history.Event{Type: history.WorkflowCompleted}
		if i+1 < n {
			next = scheduled(i + 1)
		} else {
			next = ev(next)
		}
		recs = append(recs, history.Record{Kind: history.KindDecision, Events: []history.Event{done, next}})
	}
	for i := range recs {
		recs[i].StreamSeq = uint64(i + 1)
	}
	return recs
}

// BenchmarkReplay10000 replays a 10,000-event history with the replayer's
// judge (ReplayRecords, what pkg/sdk/replayer and a worker loading a run
// call): the target is <= 20 ms.
func BenchmarkReplay10000(b *testing.B) {
	reg := benchRegistry(b)
	recs := benchHistory(4999) // 2*4999+2 = 10,000 events
	if err := ReplayRecords(reg, recs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := ReplayRecords(reg, recs); err != nil {
			b.Fatal(err)
		}
	}
}
