// Package tracing emits OpenTelemetry spans for workflow runs and their
// activities. It is opt-in: a worker that does not set
// worker.Options.Observer links neither this package nor OpenTelemetry.
//
// Each run gets one span, "workflow <Type>", from its WorkflowStarted event
// to its closing event, and each activity one span, "activity <Name>",
// from its ActivityScheduled event to its outcome (ActivityCompleted or
// ActivityFailed), a child of its run's span, with the number of attempts
// and the outcome as attributes. Times are those of the recorded events.
//
// A span is emitted by the worker that records its closing event, right
// after the decision holding it is committed, and never when a run is
// replayed: a run reloaded by another worker after a crash or by this one
// after a cache eviction, a `dfctl replay` check and the replayer emit
// nothing. (A worker that dies between the commit and the export loses
// those spans; it never repeats them.) The IDs are derived from the
// workflow ID, run ID and event seq, so a span emitted twice by any path
// would carry the same IDs. They take effect when the tracer provider uses
// IDGenerator:
//
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithIDGenerator(tracing.IDGenerator{}),
//		sdktrace.WithBatcher(exporter),
//	)
//	w := worker.New(c, worker.Options{Observer: tracing.New(tracing.Options{TracerProvider: tp})})
//
// Without it, spans get random IDs and activity spans point to a parent
// span that is never exported. A child run's span starts a trace of its
// own, linked to its parent run's span.
package tracing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"strconv"
	"sync"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/durablefuture/durablefuture/pkg/sdk/tracing"

// Attribute keys set on the spans.
const (
	AttrWorkflowID   = attribute.Key("durablefuture.workflow_id")
	AttrRunID        = attribute.Key("durablefuture.run_id")
	AttrWorkflowType = attribute.Key("durablefuture.workflow_type")
	AttrTaskQueue    = attribute.Key("durablefuture.task_queue")
	AttrActivity     = attribute.Key("durablefuture.activity")
	AttrAttempts     = attribute.Key("durablefuture.attempts")
	AttrOutcome      = attribute.Key("durablefuture.outcome")
	AttrEventSeq     = attribute.Key("durablefuture.event_seq")
)

// Options configure an Observer.
type Options struct {
	// TracerProvider makes the tracer (default: otel.GetTracerProvider()).
	// Give it IDGenerator for the derived span IDs.
	TracerProvider trace.TracerProvider
	// Logger tells, once, that the provider does not use IDGenerator
	// (default slog.Default()).
	Logger *slog.Logger
}

// Observer emits the spans of the runs and activities a worker records.
// Set it as worker.Options.Observer; one Observer may serve many workers.
type Observer struct {
	engine.NopObserver
	tracer trace.Tracer
	log    *slog.Logger
	warn   sync.Once
}

var _ engine.Observer = (*Observer)(nil)

// New returns an Observer that emits spans with o.TracerProvider.
func New(o Options) *Observer {
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Observer{tracer: o.TracerProvider.Tracer(ScopeName), log: o.Logger}
}

// EventsRecorded implements engine.Observer: it emits the span of each
// activity and of the run that the decision's events close.
func (o *Observer) EventsRecorded(e engine.RecordedEvents) {
	for _, ev := range e.Events {
		switch {
		case ev.Type == history.ActivityCompleted || ev.Type == history.ActivityFailed:
			if sched, ok := e.Scheduled(ev.Cause); ok {
				o.activitySpan(e.Run, sched, ev)
			}
		case ev.Type.IsClosing():
			o.workflowSpan(e.Run, e.Parent, ev)
		}
	}
}

func (o *Observer) workflowSpan(run engine.Info, parent *history.RunRef, closing history.Event) {
	want := WorkflowSpanContext(run.WorkflowID, run.RunID)
	opts := []trace.SpanStartOption{
		trace.WithTimestamp(run.StartTime),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			AttrWorkflowID.String(run.WorkflowID), AttrRunID.String(run.RunID),
			AttrWorkflowType.String(run.WorkflowType), AttrTaskQueue.String(run.TaskQueue),
			AttrOutcome.String(outcome(closing.Type)),
		),
		trace.WithNewRoot(),
	}
	if parent != nil {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: WorkflowSpanContext(parent.WorkflowID, parent.RunID)}))
	}
	ctx := withIDs(context.Background(), want)
	_, span := o.tracer.Start(ctx, "workflow "+run.WorkflowType, opts...)
	if closing.Failure != nil {
		span.SetStatus(codes.Error, closing.Failure.Message)
	} else if closing.Type == history.WorkflowTimedOut {
		span.SetStatus(codes.Error, "timed out")
	}
	o.check(span, want)
	span.End(trace.WithTimestamp(closing.Time))
}

func (o *Observer) activitySpan(run engine.Info, sched, outcomeEv history.Event) {
	parent := WorkflowSpanContext(run.WorkflowID, run.RunID)
	want := ActivitySpanContext(run.WorkflowID, run.RunID, sched.Seq)
	queue := run.TaskQueue
	if sched.ActivityOptions != nil && sched.ActivityOptions.TaskQueue != "" {
		queue = sched.ActivityOptions.TaskQueue
	}
	attempts := outcomeEv.Attempt
	if attempts == 0 {
		attempts = 1
	}
	ctx := withIDs(trace.ContextWithRemoteSpanContext(context.Background(), parent), want)
	_, span := o.tracer.Start(ctx, "activity "+sched.Name,
		trace.WithTimestamp(sched.Time),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			AttrWorkflowID.String(run.WorkflowID), AttrRunID.String(run.RunID),
			AttrWorkflowType.String(run.WorkflowType), AttrActivity.String(sched.Name),
			AttrTaskQueue.String(queue), AttrEventSeq.Int64(sched.Seq),
			AttrAttempts.Int(attempts), AttrOutcome.String(outcome(outcomeEv.Type)),
		),
	)
	if outcomeEv.Failure != nil {
		span.SetStatus(codes.Error, outcomeEv.Failure.Message)
	}
	o.check(span, want)
	span.End(trace.WithTimestamp(outcomeEv.Time))
}

// check warns once when the provider did not take the derived IDs. Call
// it before End: an ended span no longer says it records.
func (o *Observer) check(span trace.Span, want trace.SpanContext) {
	if !span.IsRecording() || span.SpanContext().SpanID() == want.SpanID() {
		return // a no-op provider, sampled out, or as derived
	}
	o.warn.Do(func() {
		o.log.Warn("tracing: the tracer provider does not use tracing.IDGenerator: span IDs are random and activity spans are not nested in their run's span (sdktrace.WithIDGenerator(tracing.IDGenerator{}))")
	})
}

func outcome(t history.EventType) string {
	switch t {
	case history.ActivityCompleted, history.WorkflowCompleted:
		return "completed"
	case history.ActivityFailed, history.WorkflowFailed:
		return "failed"
	case history.WorkflowCanceled:
		return "canceled"
	case history.WorkflowContinuedAsNew:
		return "continued_as_new"
	case history.WorkflowTimedOut:
		return "timed_out"
	case history.WorkflowTerminated:
		return "terminated"
	}
	return string(t)
}

// TraceID is the trace of a run: derived from its workflow ID and run ID.
func TraceID(workflowID, runID string) trace.TraceID {
	sum := sha256.Sum256([]byte(workflowID + "\x00" + runID))
	var id trace.TraceID
	copy(id[:], sum[:16])
	if !id.IsValid() {
		id[15] = 1
	}
	return id
}

// spanID derives the span of event seq of a run: 1 (its WorkflowStarted)
// for the run's span, the ActivityScheduled seq for an activity's.
func spanID(workflowID, runID string, seq int64) trace.SpanID {
	sum := sha256.Sum256([]byte(workflowID + "\x00" + runID + "\x00" + strconv.FormatInt(seq, 10)))
	var id trace.SpanID
	copy(id[:], sum[:8])
	if !id.IsValid() {
		id[7] = 1
	}
	return id
}

// WorkflowSpanContext is the span context of a run's span: link to it, or
// find it in a trace store, knowing only the workflow and run IDs.
func WorkflowSpanContext(workflowID, runID string) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: TraceID(workflowID, runID), SpanID: spanID(workflowID, runID, 1),
		TraceFlags: trace.FlagsSampled, Remote: true,
	})
}

// ActivitySpanContext is the span context of the span of the activity
// scheduled by event seq of a run.
func ActivitySpanContext(workflowID, runID string, seq int64) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: TraceID(workflowID, runID), SpanID: spanID(workflowID, runID, seq),
		TraceFlags: trace.FlagsSampled, Remote: true,
	})
}

// binaryRandom makes the random IDs of spans this package does not derive.
func binaryRandom(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], randUint64())
		copy(b[i:], w[:])
	}
}

// ActivityContext implements engine.ActivityContexter: the context of an
// activity attempt carries the span context of the activity's span (as a
// remote parent: the span itself is emitted when the activity closes),
// so spans the activity code starts with it are children of the
// activity's span.
func (o *Observer) ActivityContext(ctx context.Context, info engine.ActivityInfo) context.Context {
	return trace.ContextWithRemoteSpanContext(ctx, ActivitySpanContext(info.WorkflowID, info.RunID, info.ScheduledSeq))
}
