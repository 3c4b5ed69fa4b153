package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type signalOptions struct {
	app *App

	ID    string
	Name  string
	RunID string
	Input string
	batch batchOptions
}

func newSignalCmd(app *App) *cobra.Command {
	o := &signalOptions{app: app}
	cmd := &cobra.Command{
		Use:   "signal (ID NAME [--run R] | NAME --type T --status S ... [--yes] [--dry-run]) [--input JSON]",
		Short: "Send a signal to running workflows",
		Long: `Send the signal NAME, with an optional JSON value as input, to the latest run
of workflow ID (or to run R). The workflow receives it on
workflow.GetSignalChannel(ctx, NAME). Signals to one run are applied in the
order they were accepted, each once.

A signal to a workflow that is closed exits 2; to an unknown one, 4.

With -o json, prints the acknowledgement {"workflow_id", "run_id", "action":
"signal", "signal": NAME, "accepted": true}.

` + batchHelp("signal", "signalled") + `
Every matching run gets the same signal NAME and --input.`,
		Example: `  dfctl signal expense-7 decision --input '{"approved":true,"by":"ann"}'

  # approve every waiting expense at once
  dfctl signal decision --type ExpenseApprovalWorkflow --input '{"approved":true,"by":"ops"}' --yes`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && !o.batch.filter.set() {
				return usageError("signal needs a workflow ID and a signal NAME (`dfctl signal ID NAME`), or NAME and filter flags (--type, --status, ...) to signal every matching run")
			}
			batch, err := o.batch.selected(cmd, len(args) == 2, "signal ID NAME")
			if err != nil {
				return err
			}
			if batch {
				o.Name = args[0]
				return runSignalBatch(cmd, o)
			}
			o.ID, o.Name = args[0], args[1]
			return runSignal(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVarP(&o.Input, "input", "i", "", "the signal's input, one JSON value (quote strings: --input '\"yes\"')")
	o.batch.addFlags(cmd, "signal")
	return cmd
}

// input is the checked --input value (nil: none).
func (o *signalOptions) input() (json.RawMessage, error) {
	if o.Name == "" {
		return nil, usageError("the signal name is empty")
	}
	if o.Input == "" {
		return nil, nil
	}
	if !json.Valid([]byte(o.Input)) {
		var v any
		err := json.Unmarshal([]byte(o.Input), &v)
		return nil, usageError("--input (%s) is not valid JSON: %v; quote strings: --input '\"text\"'", history.Truncate(o.Input, 40), err)
	}
	return json.RawMessage(o.Input), nil
}

func runSignal(cmd *cobra.Command, o *signalOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	input, err := o.input()
	if err != nil {
		return err
	}
	c, err := o.app.Client(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	runID, err := pinRun(ctx, c, o.ID, o.RunID)
	if err != nil {
		return err
	}
	if err := c.Store().SignalWorkflow(ctx, o.ID, runID, o.Name, input); err != nil {
		return err
	}
	if o.app.IO.ErrTTY {
		fmt.Fprintf(o.app.IO.ErrOut, "Signal %s sent to %s (run %s)\n", o.Name, o.ID, runID)
	}
	return writeAck(o.app, actionAck{WorkflowID: o.ID, RunID: runID, Action: "signal", Signal: o.Name, Accepted: true})
}

func runSignalBatch(cmd *cobra.Command, o *signalOptions) error {
	input, err := o.input()
	if err != nil {
		return err
	}
	return runBatch(cmd, o.app, &o.batch, batchAction{verb: "signal", past: "signalled",
		do: func(ctx context.Context, c *client.Client, ri *engine.RunInfo) error {
			return c.Store().SignalWorkflow(ctx, ri.WorkflowID, ri.RunID, o.Name, input)
		}})
}
