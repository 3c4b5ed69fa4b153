package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// claimAttempt gives one delivery of an activity task its attempt number,
// and makes it the only delivery with that number, before anything runs.
//
// The number is JetStream's delivery count (after AttemptsBefore), but that
// count is not durable: a consumer writes its state to disk at most every
// 100 ms, so a server killed and restarted can deliver a message again with
// a count it already gave out (seen in the chaos suite: two deliveries both
// attempt 2, one of them running 59 ms after the other's outcome was
// recorded). Two live deliveries with one number defeat the fence that keeps
// an activity from running after its outcome is recorded: each takes the
// other for nothing to wait for.
//
// So each delivery creates the key <run>.<seq>.claim.<n> in the heartbeats
// bucket (a create fails if the key exists; an acknowledged write survives a
// server crash). If the count's number is taken, the delivery takes the next
// free one, and the earlier holder is an attempt before it: taken for lost
// only after the grace and the fence of beforeRedelivery, or its outcome
// wins. A claim lives as long as an attempt can run and report (claimTTL),
// then expires with no trace. It returns false when the task was given back.
func (w *Worker) claimAttempt(ctx context.Context, msg jetstream.Msg, t activityTask) (int, bool) {
	first := t.attempt(msg)
	ttl := claimTTL(t.Options)
	for n := first; n < first+maxClaimSkips; n++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := w.store.kvCreate(cctx, w.store.heartbeats, claimKey(t.RunID, t.ScheduledSeq, n), nil, ttl)
		cancel()
		switch {
		case err == nil:
			if n > first {
				w.log.Info("activity: attempt number already claimed by another delivery (the server lost its delivery count in a restart): this delivery is a later attempt",
					"activity", t.Name, "run_id", t.RunID, "delivery_attempt", first, "attempt", n)
			}
			return n, true
		case errors.Is(err, jetstream.ErrKeyExists):
			continue
		case ctx.Err() != nil:
			_ = msg.Nak() // shutting down: nothing ran
			return 0, false
		default:
			w.log.Warn("activity: claim the attempt", "activity", t.Name, "run_id", t.RunID, "attempt", n, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return 0, false
		}
	}
	w.log.Warn("activity: no free attempt number", "activity", t.Name, "run_id", t.RunID, "from", first, "to", first+maxClaimSkips-1)
	_ = msg.NakWithDelay(time.Second)
	return 0, false
}

// maxClaimSkips bounds how many taken attempt numbers one delivery skips.
const maxClaimSkips = 64

// claimTTL is how long an attempt's claim must outlive its start: the
// longest the attempt may run, and time for its report to be recorded.
func claimTTL(o *history.ActivityOptions) time.Duration {
	return startToClose(o) + claimReportMargin
}

// claimReportMargin covers a report sent after the attempt's deadline (a
// worker reconnecting, a server stalled).
const claimReportMargin = 10 * time.Minute

func claimKey(runID string, seq int64, attempt int) string {
	return fmt.Sprintf("%s.claim.%d", activityKey(runID, seq), attempt)
}
