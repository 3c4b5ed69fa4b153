package client

import (
	"context"
	"encoding/json"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

var (
	// ErrNoWorker: no worker of the run's task queue answered a query
	// within the timeout (none is running, or all are stuck).
	ErrNoWorker = engine.ErrNoWorker
	// ErrQueryNotFound: the run has no handler for the query; the error's
	// message lists the handlers it has.
	ErrQueryNotFound = engine.ErrQueryNotFound
)

// DefaultQueryTimeout bounds a query whose context has no deadline.
const DefaultQueryTimeout = engine.DefaultQueryTimeout

// QueryValue is a query's result, still encoded.
type QueryValue json.RawMessage

// Get decodes the result into valuePtr.
func (v QueryValue) Get(valuePtr any) error {
	return engine.DecodeResult("query result", json.RawMessage(v), valuePtr)
}

// HasValue says whether the result is something other than null.
func (v QueryValue) HasValue() bool { return len(v) > 0 && string(v) != "null" }

// QueryWorkflow calls the query handler name (set with
// workflow.SetQueryHandler) of a run (runID "": the latest run of id) with
// args, and returns its result. A live worker of the run's task queue
// answers from the run's current state; a closed run answers from its end
// state. It waits until ctx's deadline, or DefaultQueryTimeout if ctx has
// none. Errors: ErrNoWorker if no worker answered in time,
// ErrQueryNotFound if the run has no such handler, ErrWorkflowNotFound for
// an unknown workflow or run, or the handler's own error.
func (c *Client) QueryWorkflow(ctx context.Context, id, runID, name string, args ...any) (QueryValue, error) {
	input, err := engine.EncodeArgs("query", name, nil, args)
	if err != nil {
		return nil, err
	}
	res, err := c.store.QueryWorkflow(ctx, id, runID, name, input)
	if err != nil {
		return nil, err
	}
	return QueryValue(res), nil
}
