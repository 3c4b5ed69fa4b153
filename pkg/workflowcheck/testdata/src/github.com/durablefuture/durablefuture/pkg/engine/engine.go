// Package engine is a stub of the real pkg/engine for the checker's test
// corpus: the types and functions the checker knows, with the same import
// path, names and shapes (workflow.Context is an alias of engine.Context, as
// in the real SDK).
package engine

import (
	"log/slog"
	"time"
)

type Context interface {
	Value(key any) any
	Done() Channel
	Err() error
}

type Future interface {
	Get(ctx Context, valuePtr any) error
	IsReady() bool
}

type Channel interface {
	Send(ctx Context, v any)
	Receive(ctx Context, valuePtr any) (more bool)
	ReceiveAsync(valuePtr any) (ok bool)
	ReceiveWithError(ctx Context, valuePtr any) (more bool, err error)
	ReceiveAsyncWithError(valuePtr any) (ok bool, err error)
	Close()
}

type Selector interface {
	AddFuture(f Future, fn func(Future)) Selector
	AddReceive(c Channel, fn func(c Channel, more bool)) Selector
	Select(ctx Context)
}

type ActivityOptions struct{ StartToCloseTimeout time.Duration }

type EncodedValue interface{ Get(valuePtr any) error }

func ExecuteActivity(ctx Context, activity any, args ...any) Future               { return nil }
func ExecuteChildWorkflow(ctx Context, childWorkflow any, args ...any) Future     { return nil }
func WithActivityOptions(ctx Context, opts ActivityOptions) Context               { return ctx }
func NewTimer(ctx Context, d time.Duration) Future                                { return nil }
func Sleep(ctx Context, d time.Duration) error                                    { return nil }
func Go(ctx Context, fn func(ctx Context))                                        {}
func NewChannel(ctx Context) Channel                                              { return nil }
func NewSelector(ctx Context) Selector                                            { return nil }
func Now(ctx Context) time.Time                                                   { return time.Time{} }
func GetLogger(ctx Context) *slog.Logger                                          { return slog.Default() }
func GetSignalChannel(ctx Context, name string) Channel                           { return nil }
func SideEffect(ctx Context, f func(ctx Context) any) EncodedValue                { return nil }
func GetVersion(ctx Context, changeID string, minSupported, maxSupported int) int { return 0 }
