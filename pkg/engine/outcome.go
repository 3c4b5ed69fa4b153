package engine

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// outcomeKind is what becomes of a task message.
type outcomeKind int

const (
	// taskDone: the task's work is recorded; the message is acked.
	taskDone outcomeKind = iota
	// taskRetry: something failed that may succeed later (a read that
	// timed out, a write the server refused for now, a blocked run); the
	// message is nak'ed with a delay and comes back.
	taskRetry
	// taskDrop: the message can never be applied (malformed, its run
	// proven absent); it is terminated. Only a permanent reason may drop:
	// a failed read never does.
	taskDrop
	// taskClosedRun: the task's run is closed; the message is acked and
	// nothing is applied.
	taskClosedRun
	// taskAbandoned: the handler simulated a crash (tests); the message is
	// left for redelivery by its ack timeout.
	taskAbandoned
)

// outcome is a task handler's verdict on one message: handlers return it,
// and settle is the only place that acks, naks or terms.
type outcome struct {
	kind  outcomeKind
	delay time.Duration // taskRetry: when the message comes back
	why   string        // what failed (retry) or why dropping is permanent
	err   error
	// quiet: the handler has logged already (a blocked run).
	quiet bool
}

func done() outcome      { return outcome{kind: taskDone} }
func closedRun() outcome { return outcome{kind: taskClosedRun} }
func abandoned() outcome { return outcome{kind: taskAbandoned} }
func drop(why string) outcome {
	return outcome{kind: taskDrop, why: why}
}
func retry(delay time.Duration, why string, err error) outcome {
	return outcome{kind: taskRetry, delay: delay, why: why, err: err}
}

func (o outcome) String() string {
	switch o.kind {
	case taskDone:
		return "done"
	case taskRetry:
		return fmt.Sprintf("retry in %s: %s: %v", o.delay, o.why, o.err)
	case taskDrop:
		return "drop: " + o.why
	case taskClosedRun:
		return "closed run"
	}
	return "abandoned"
}

// settle acts on a handler's outcome.
func (w *Worker) settle(msg jetstream.Msg, o outcome, log *slog.Logger) {
	switch o.kind {
	case taskDone:
		_ = msg.Ack()
	case taskClosedRun:
		log.Debug("task of a closed run: nothing to apply, dropped")
		_ = msg.Ack()
	case taskRetry:
		if !o.quiet {
			log.Warn("task will be retried", "in", o.delay, "step", o.why, "err", o.err)
		}
		_ = msg.NakWithDelay(o.delay)
	case taskDrop:
		log.Error("task dropped", "subject", msg.Subject(), "reason", o.why)
		_ = msg.Term()
	case taskAbandoned:
	}
}
