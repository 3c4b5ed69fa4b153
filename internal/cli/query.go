package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/spf13/cobra"
)

type queryOptions struct {
	app *App

	ID     string
	Name   string
	RunID  string
	Inputs []string
}

func newQueryCmd(app *App) *cobra.Command {
	o := &queryOptions{app: app}
	cmd := &cobra.Command{
		Use:   "query ID NAME [--input JSON]... [--run R]",
		Short: "Ask a workflow for its current state with a query handler",
		Long: `Call the query handler NAME (set with workflow.SetQueryHandler) of the latest
run of workflow ID (or of run R) and print its result as JSON. A live worker
of the run's task queue answers from the run's current state, without
changing it; a closed run answers from its end state. Each --input is one
argument of the handler, as a JSON value: quote strings, --input '"x"'.

The answer is awaited for 5s, or for --timeout when it is given.

Exit codes:
  0  the result is printed on stdout
  1  the query handler returned an error (or panicked)
  2  usage error; the run has no handler NAME (the error lists those it has),
     or the handler does not take these arguments
  3  no worker of the run's task queue answered in time (is one running?),
     or the server failed the request
  4  no such workflow or run`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID, o.Name = args[0], args[1]
			return runQuery(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringArrayVarP(&o.Inputs, "input", "i", nil, "one argument of the handler as a JSON value (repeat for each argument, in order)")
	return cmd
}

func runQuery(cmd *cobra.Command, o *queryOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	if o.Name == "" {
		return usageError("query name is empty")
	}
	input, err := (&startOptions{Inputs: o.Inputs}).input()
	if err != nil {
		return err
	}
	res, err := queryRun(cmd, o.app, o.ID, o.RunID, o.Name, input)
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch {
	case o.app.Output == outJSON:
		return writeJSON(ios.Out, res)
	case o.app.Output == outJSONL:
		return writeJSONL(ios.Out, res)
	case ios.OutTTY:
		fmt.Fprintln(ios.Out, prettyJSON(res))
	default:
		fmt.Fprintln(ios.Out, history.CompactJSON(res))
	}
	return nil
}

// queryRun asks a run's worker the query name (dfctl query, dfctl stack),
// waiting --timeout when the user set it, else the query default.
func queryRun(cmd *cobra.Command, app *App, id, runID, name string, input json.RawMessage) (json.RawMessage, error) {
	c, err := app.ReadClient(cmd)
	if err != nil {
		return nil, err
	}
	timeout := engine.DefaultQueryTimeout
	if cmd.Flags().Changed("timeout") {
		timeout = app.Timeout
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	res, err := c.Store().QueryWorkflow(ctx, id, runID, name, input)
	if err != nil {
		return nil, queryExitError(err)
	}
	return res, nil
}

// queryExitError gives the handler's own errors their exit code; the
// others (not found, no worker, server) keep the general mapping.
func queryExitError(err error) error {
	if errors.Is(err, engine.ErrNoWorker) {
		return &ExitError{Code: ExitServer, Err: err}
	}
	if failure.IsApplicationError(err) || failure.IsPanicError(err) {
		if failure.Type(err) == "ArgumentError" {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return &ExitError{Code: ExitRunFailed, Err: err}
	}
	return err
}
