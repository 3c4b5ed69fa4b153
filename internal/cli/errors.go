package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Exit codes, documented in the root command's help.
const (
	ExitOK          = 0
	ExitRunFailed   = 1   // the workflow ended failed, canceled, terminated or timed out
	ExitUsage       = 2   // bad flags or arguments, malformed JSON or ID, refused request
	ExitServer      = 3   // cannot connect, or the server failed the request
	ExitNotFound    = 4   // no such workflow or run
	ExitNotReady    = 5   // `result` without --wait: the run is still running
	ExitBadData     = 6   // the run's history holds records that do not decode
	ExitWaitTimeout = 7   // --wait-timeout expired: the run is still running
	ExitBatchFailed = 8   // a batch action failed for some of the runs
	ExitInterrupt   = 130 // interrupted (Ctrl-C), as shells report SIGINT
	exitCodesDocs   = `Exit codes:
  0  success
  1  the workflow ended failed, canceled, terminated or timed out
  2  usage error: bad flags or arguments, malformed JSON input, malformed
     workflow ID or task queue, payload too large, workflow ID already
     running, signal to a closed workflow, a batch action without --yes
     when stdin is not a terminal (or not confirmed)
  3  cannot connect to NATS, connection lost, JetStream not enabled,
     JetStream storage full, or the server failed the request
  4  not found: no such workflow or run, or no DurableFuture installation
     with this prefix on the server (read-only commands create none)
  5  result without --wait: the run is still running
  6  the run's history holds records that do not decode (show prints the
     others and names each bad record by stream sequence); retrying
     cannot help
  7  execute or result --wait: --wait-timeout expired and the run is still
     running (it prints the run as it stands; wait again with result --wait)
  8  a batch action (terminate, cancel, signal or reset with filter flags)
     failed for some runs; the summary lists each with its error (runs that
     closed meanwhile are skipped, not failed)
  130 interrupted (Ctrl-C); a started workflow keeps running`
)

// ExitError carries an exit code. Silent errors have already been reported.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// errConnect is a connection failure (exit 3).
type connectError struct {
	url string
	err error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("cannot connect to NATS at %s: %v: start one with `dfctl dev`, or pass --server/--context", e.url, e.err)
}

func (e *connectError) Unwrap() error { return e.err }

// ExitCode maps an error to its documented exit code, by type and sentinel.
func ExitCode(err error) int {
	var ee *ExitError
	var ce *connectError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ce):
		return ExitServer
	case errors.As(err, new(*history.BadRecordError)):
		return ExitBadData
	case errors.Is(err, engine.ErrWorkflowNotFound), errors.Is(err, history.ErrNotFound),
		errors.Is(err, jetstream.ErrKeyNotFound):
		return ExitNotFound
	case errors.Is(err, engine.ErrWorkflowAlreadyRunning), errors.Is(err, engine.ErrPayloadTooLarge),
		errors.Is(err, engine.ErrUnknownWorkflowType), errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, engine.ErrInvalidArgument), errors.Is(err, engine.ErrWorkflowClosed),
		errors.Is(err, engine.ErrQueryNotFound):
		return ExitUsage
	case errors.Is(err, engine.ErrNoInstallation):
		return ExitNotFound
	case errors.Is(err, context.Canceled):
		return ExitInterrupt
	}
	return ExitServer
}

// storageFull reports whether err is JetStream saying it has no room, with
// the server's description (the codes are history.StorageFull's).
func storageFull(err error) (string, bool) { return history.StorageFull(err) }
