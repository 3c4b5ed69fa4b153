// Package activity is what activity code imports. Activities are plain
// functions, func(context.Context, args...) (T, error) or
// func(context.Context, args...) error; they may do anything (I/O, clocks,
// randomness). They run at least once: make them idempotent, for example
// with GetInfo's WorkflowID, RunID and ScheduledSeq as an idempotency key.
//
// # Timeouts
//
// The workflow sets them in workflow.ActivityOptions:
//
//   - StartToCloseTimeout bounds one attempt (default 10 minutes). The
//     attempt's context is done at its deadline (Info.Deadline) and the
//     attempt fails with a TimeoutError of type StartToClose, retried per
//     the retry policy.
//   - ScheduleToCloseTimeout bounds the whole activity, every attempt and
//     back-off included, from when the workflow scheduled it. An attempt's
//     deadline is the sooner of the two; a retry that would start after it
//     is not made and a task delivered after it fails without running: the
//     activity fails for good with a TimeoutError of type ScheduleToClose.
//   - HeartbeatTimeout: an attempt that does not call RecordHeartbeat for
//     this long (counted from its start, then from each heartbeat) has its
//     context cancelled and fails with a TimeoutError of type Heartbeat,
//     retried per the retry policy. Set it for long activities, so that a
//     stuck attempt is noticed well before its start-to-close timeout.
//
// The workflow tests what it got with failure.IsTimeoutError and
// failure.TimeoutType. The context's cause (context.Cause) is the same
// TimeoutError, so an activity may return context.Cause(ctx).
//
// # Heartbeats
//
// RecordHeartbeat(ctx, details...) tells the worker that the attempt is
// alive and keeps the latest details (JSON-encodable values, such as the
// position reached). They are written to the JetStream KV bucket
// <prefix>_heartbeats (at most one write per max(1s, HeartbeatTimeout/3)
// per attempt, and always the last details when the attempt fails or its
// worker stops), so the next attempt, on any worker and also after a crash,
// resumes from them:
//
//	func Import(ctx context.Context, rows int) (int, error) {
//		start := 0
//		if activity.HasHeartbeatDetails(ctx) {
//			if err := activity.GetHeartbeatDetails(ctx, &start); err != nil {
//				return 0, err
//			}
//		}
//		for i := start; i < rows; i++ {
//			if err := importRow(ctx, i); err != nil {
//				return 0, err
//			}
//			activity.RecordHeartbeat(ctx, i+1)
//			if ctx.Err() != nil {
//				return 0, ctx.Err()
//			}
//		}
//		return rows, nil
//	}
//
// After a crash the next attempt sees the details of the last write, which
// may be up to one write interval behind. The details are deleted when the
// activity completes or fails for good (and expire after 7 days anyway).
//
// # Cancellation
//
// When the workflow cancels the context it passed to ExecuteActivity (or
// the run is cancelled, terminated or closes while the activity runs), the
// worker running the attempt cancels the attempt's context: ctx.Done is
// closed and context.Cause(ctx) is a cancellation (failure.IsCanceledError
// is true). An activity that heartbeats sees ctx.Err() != nil after its next
// RecordHeartbeat at the latest; it should stop and return. The attempt is
// reported as a non-retryable CanceledError, which the workflow ignores.
package activity

import (
	"context"
	"log/slog"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

// Info describes the running attempt (GetInfo). The fields:
//
//	type Info struct {
//		WorkflowID    string // the run that scheduled the activity
//		RunID         string
//		WorkflowType  string
//		ActivityName  string // the registered name
//		ScheduledSeq  int64  // the ActivityScheduled event
//		Attempt       int    // 1 for the first attempt
//		TaskQueue     string // of the activity worker
//		ScheduledTime time.Time
//		StartedTime   time.Time // of this attempt
//		// Deadline is when the attempt times out: its start-to-close
//		// timeout, or the activity's schedule-to-close deadline if sooner.
//		Deadline time.Time
//		// HeartbeatTimeout: the attempt fails if it does not call
//		// RecordHeartbeat for this long (0: no heartbeat needed).
//		HeartbeatTimeout  time.Duration
//		WorkerIdentity    string // the worker running the attempt
//		WorkflowTaskQueue string // the task queue of the workflow
//	}
type Info = engine.ActivityInfo

// GetInfo returns the info of the running attempt.
func GetInfo(ctx context.Context) Info { return engine.GetActivityInfo(ctx) }

// GetLogger returns a logger tagged with the activity and its run.
func GetLogger(ctx context.Context) *slog.Logger { return engine.GetActivityLogger(ctx) }

// RecordHeartbeat marks the running attempt alive (see HeartbeatTimeout) and,
// given details, keeps them as the latest details for the next attempt. It
// never blocks on the network. After a cancellation or a timeout the
// attempt's ctx is done: check ctx.Err() and return. Outside an activity it
// does nothing.
func RecordHeartbeat(ctx context.Context, details ...any) {
	engine.RecordActivityHeartbeat(ctx, details...)
}

// HasHeartbeatDetails reports whether an earlier attempt of this activity
// recorded heartbeat details.
func HasHeartbeatDetails(ctx context.Context) bool {
	return engine.HasActivityHeartbeatDetails(ctx)
}

// GetHeartbeatDetails decodes the details the last heartbeating attempt
// recorded into ptrs, in the order they were given to RecordHeartbeat. It
// returns ErrNoHeartbeatDetails if there are none. The details of the
// running attempt's own heartbeats are for the next attempt; they do not
// change what this returns.
func GetHeartbeatDetails(ctx context.Context, ptrs ...any) error {
	return engine.GetActivityHeartbeatDetails(ctx, ptrs...)
}

// ErrNoHeartbeatDetails is returned by GetHeartbeatDetails when no earlier
// attempt recorded details.
var ErrNoHeartbeatDetails = engine.ErrNoHeartbeatDetails
