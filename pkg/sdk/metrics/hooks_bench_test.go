package metrics_test

import (
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkHooks is the cost of the hooks a one-activity workflow calls:
// three workflow tasks, three decisions (start, schedule; complete), one
// activity attempt.
func BenchmarkHooks(b *testing.B) {
	obs, err := metrics.New(metrics.Options{Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	run := engine.Info{WorkflowID: "w", RunID: "r", WorkflowType: "BenchWorkflow", TaskQueue: "default", StartTime: now}
	sched := engine.RecordedEvents{Run: run, Events: []history.Event{{Seq: 2, Type: history.ActivityScheduled, Time: now}}}
	done := engine.RecordedEvents{Run: run, Events: []history.Event{
		{Seq: 3, Type: history.ActivityCompleted, Cause: 2, Time: now},
		{Seq: 4, Type: history.WorkflowCompleted, Time: now},
	}}
	task := engine.WorkflowTaskDone{WorkflowType: "BenchWorkflow", TaskQueue: "default", Latency: time.Millisecond, Outcome: engine.TaskCompleted}
	att := engine.ActivityAttempt{Activity: "BenchNoop", TaskQueue: "default", Attempt: 1, Latency: time.Millisecond, Outcome: engine.AttemptCompleted}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		obs.WorkflowTaskHandled(task)
		obs.EventsRecorded(sched)
		obs.ActivityAttemptStarted(att)
		obs.ActivityAttemptFinished(att)
		obs.WorkflowTaskHandled(task)
		obs.EventsRecorded(done)
	}
}
