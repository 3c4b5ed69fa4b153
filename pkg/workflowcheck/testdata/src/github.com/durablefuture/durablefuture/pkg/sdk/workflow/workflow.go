// Package workflow is a stub of the real pkg/sdk/workflow for the checker's
// test corpus: aliases of the engine's types and thin wrappers, as there.
package workflow

import (
	"log/slog"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

type (
	Context         = engine.Context
	Future          = engine.Future
	Channel         = engine.Channel
	Selector        = engine.Selector
	ActivityOptions = engine.ActivityOptions
	EncodedValue    = engine.EncodedValue
)

func ExecuteActivity(ctx Context, activity any, args ...any) Future {
	return engine.ExecuteActivity(ctx, activity, args...)
}
func ExecuteChildWorkflow(ctx Context, child any, args ...any) Future {
	return engine.ExecuteChildWorkflow(ctx, child, args...)
}
func WithActivityOptions(ctx Context, opts ActivityOptions) Context {
	return engine.WithActivityOptions(ctx, opts)
}
func NewTimer(ctx Context, d time.Duration) Future      { return engine.NewTimer(ctx, d) }
func Sleep(ctx Context, d time.Duration) error          { return engine.Sleep(ctx, d) }
func Go(ctx Context, fn func(ctx Context))              { engine.Go(ctx, fn) }
func NewChannel(ctx Context) Channel                    { return engine.NewChannel(ctx) }
func NewSelector(ctx Context) Selector                  { return engine.NewSelector(ctx) }
func Now(ctx Context) time.Time                         { return engine.Now(ctx) }
func GetLogger(ctx Context) *slog.Logger                { return engine.GetLogger(ctx) }
func GetSignalChannel(ctx Context, name string) Channel { return engine.GetSignalChannel(ctx, name) }
func SideEffect(ctx Context, f func(ctx Context) any) EncodedValue {
	return engine.SideEffect(ctx, f)
}
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int {
	return engine.GetVersion(ctx, changeID, minSupported, maxSupported)
}
