package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkWorkflowSpan is the cost of the spans of a run that closes
// (the workflow span; activity spans need the run's state and are
// measured by the end-to-end benchmark), behind a batch span processor.
func BenchmarkWorkflowSpan(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewInMemoryExporter()), sdktrace.WithIDGenerator(tracing.IDGenerator{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs := tracing.New(tracing.Options{TracerProvider: tp})
	now := time.Now()
	done := engine.RecordedEvents{
		Run:    engine.Info{WorkflowID: "w", RunID: "r", WorkflowType: "BenchWorkflow", TaskQueue: "default", StartTime: now},
		Events: []history.Event{{Seq: 4, Type: history.WorkflowCompleted, Time: now}},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		obs.EventsRecorded(done)
	}
}
