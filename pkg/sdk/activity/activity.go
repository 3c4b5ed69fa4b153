// Package activity is what activity code imports. Activities are plain
// functions, func(context.Context, args...) (T, error) or
// func(context.Context, args...) error; they may do anything (I/O, clocks,
// randomness). They run at least once: make them idempotent, for example
// with GetInfo's WorkflowID, RunID and ScheduledSeq as an idempotency key.
package activity

import (
	"context"
	"log/slog"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

// Info describes the running attempt.
type Info = engine.ActivityInfo

// GetInfo returns the info of the running attempt.
func GetInfo(ctx context.Context) Info { return engine.GetActivityInfo(ctx) }

// GetLogger returns a logger tagged with the activity and its run.
func GetLogger(ctx context.Context) *slog.Logger { return engine.GetActivityLogger(ctx) }
