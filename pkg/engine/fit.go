package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// Every record fits (invariant 9). history.Log.Append stores large payloads
// out of line and refuses, with history.ErrRecordTooLarge, a record that
// cannot fit the server's max_payload even so. Here the worker keeps the
// one input that can grow without bound within a decision, the signals
// waiting for a run, to a budget, and blocks a run whose single decision
// still cannot be written instead of retrying it every second.

// signalEventOverhead is what a SignalReceived event costs in a record
// beside its input (seq, time, type, name, input id, signal seq).
const signalEventOverhead = 256

// signalsThatFit returns the longest prefix of sigs (at least one) whose
// events fit in half a record, counting each input at what it costs inline
// (a payload over the offload threshold costs about a reference). The
// other half is left for the commands the code produces in response.
func (w *Worker) signalsThatFit(sigs []history.Event) []history.Event {
	budget := w.store.Log.MaxRecordBytes() / 2
	used := 0
	for i, ev := range sigs {
		used += signalEventOverhead + len(ev.Name) + min(len(ev.Input), history.OffloadThreshold)
		if used > budget && i > 0 {
			return sigs[:i]
		}
	}
	return sigs
}

// wakeForMoreSignals asks for another decision on the run: the last one
// applied only part of the signals waiting (see signalsThatFit). The
// message id names the last signal applied, so a retry publishes nothing
// twice; a lost wake-up is harmless too, since the input that triggered
// the decision is acked only after this.
func (w *Worker) wakeForMoreSignals(ctx context.Context, r *run) error {
	task := workflowTask{V: 1, WorkflowID: r.info.WorkflowID, RunID: r.info.RunID, InputID: signalsInputID}
	id := fmt.Sprintf("%s:signals:after:%d", r.info.RunID, r.lastSignalSeq)
	_, err := w.store.JS.PublishMsg(ctx, newMsg(w.store.workflowTaskSubject(w.store.partOf(r.info.WorkflowID), r.info.TaskQueue), id, task))
	return err
}

// DecisionTooLargeError is why a run is blocked when one decision cannot
// be written as one message.
type DecisionTooLargeError struct {
	Err error // the *history.RecordTooLargeError
}

func (e *DecisionTooLargeError) Error() string {
	msg := e.Err.Error()
	var tl *history.RecordTooLargeError
	if errors.As(e.Err, &tl) {
		name := ""
		if tl.Biggest.Name != "" {
			name = " " + tl.Biggest.Name
		}
		msg = fmt.Sprintf("the decision (%d events) is a record of %d bytes, over the %d bytes a record may have "+
			"(server max_payload %d) even with payloads over %d bytes stored out of line; the biggest event is #%d %s%s (%d bytes)",
			tl.Events, tl.Size, tl.Limit, tl.MaxPayload, history.OffloadThreshold, tl.Biggest.Seq, tl.Biggest.Type, name, tl.BiggestSize)
	}
	return "decision too large: " + msg + ". Let the workflow do less between two waits (fewer commands, smaller values), or raise the server's max_payload"
}

func (e *DecisionTooLargeError) Unwrap() error { return e.Err }

// blockedType is the failure type recorded when a run is blocked by err.
func blockedType(err error) string {
	switch {
	case errors.Is(err, ErrUnknownWorkflowType):
		return "UnknownWorkflowType"
	case errors.Is(err, history.ErrRecordTooLarge):
		return "DecisionTooLarge"
	case errors.As(err, new(*WorkflowCodeError)):
		return "WorkflowCodeError"
	}
	return "NonDeterminismError"
}

// blockTooLarge blocks a run whose decision cannot be written (see block):
// one WorkflowTaskFailed note and the runs index say why, with sizes and
// limits; the input is retried with block's growing back-off, so a worker
// with code that decides less (or a server with a larger max_payload)
// continues the run by itself.
func (w *Worker) blockTooLarge(ctx context.Context, msg jetstream.Msg, task workflowTask, subj string, err error) outcome {
	recs, rerr := w.store.Log.ReadFrom(ctx, subj, 0)
	if rerr != nil {
		return retry(time.Second, "read history to record a blocked run", rerr)
	}
	if len(recs) == 0 {
		return retry(time.Second, "read history to record a blocked run", history.ErrNotFound)
	}
	return w.block(ctx, msg, task, subj, recs, &DecisionTooLargeError{Err: err})
}

// sameBlock reports whether a recorded failure already says why the run is
// blocked. A decision too large says so whatever its exact size, which
// varies a little between attempts with the events' times.
func sameBlock(f *history.Failure, cause error, why string) bool {
	if f.Message == why {
		return true
	}
	return f.Type == "DecisionTooLarge" && blockedType(cause) == "DecisionTooLarge"
}
