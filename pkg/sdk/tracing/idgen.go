package tracing

import (
	"context"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
)

// IDGenerator gives the spans of this package the IDs derived from their
// run and event (so a span emitted twice keeps its IDs, and an activity's
// span names its run's span as parent before that span is emitted), and
// every other span random IDs. It implements the OpenTelemetry SDK's
// IDGenerator: pass it with sdktrace.WithIDGenerator(tracing.IDGenerator{}).
type IDGenerator struct{}

type idsKey struct{}

// withIDs asks IDGenerator for sc's IDs for the span started with ctx.
func withIDs(ctx context.Context, sc trace.SpanContext) context.Context {
	return context.WithValue(ctx, idsKey{}, sc)
}

// NewIDs returns a trace ID and span ID for a root span.
func (IDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if sc, ok := ctx.Value(idsKey{}).(trace.SpanContext); ok {
		return sc.TraceID(), sc.SpanID()
	}
	var tid trace.TraceID
	var sid trace.SpanID
	for !tid.IsValid() {
		binaryRandom(tid[:])
	}
	for !sid.IsValid() {
		binaryRandom(sid[:])
	}
	return tid, sid
}

// NewSpanID returns a span ID for a span in the trace traceID.
func (IDGenerator) NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID {
	if sc, ok := ctx.Value(idsKey{}).(trace.SpanContext); ok && sc.TraceID() == traceID {
		return sc.SpanID()
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		binaryRandom(sid[:])
	}
	return sid
}

func randUint64() uint64 { return rand.Uint64() }
