package cli

import (
	"encoding/json"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/spf13/cobra"
)

type signalOptions struct {
	app *App

	ID    string
	Name  string
	RunID string
	Input string
}

func newSignalCmd(app *App) *cobra.Command {
	o := &signalOptions{app: app}
	cmd := &cobra.Command{
		Use:   "signal ID NAME [--input JSON] [--run R]",
		Short: "Send a signal to a running workflow",
		Long: `Send the signal NAME, with an optional JSON value as input, to the latest run
of workflow ID (or to run R). The workflow receives it on
workflow.GetSignalChannel(ctx, NAME). Signals to one run are applied in the
order they were accepted, each once.

A signal to a workflow that is closed exits 2; to an unknown one, 4.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID, o.Name = args[0], args[1]
			return runSignal(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVarP(&o.Input, "input", "i", "", "the signal's input, one JSON value (quote strings: --input '\"yes\"')")
	return cmd
}

func runSignal(cmd *cobra.Command, o *signalOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	var input json.RawMessage
	if o.Input != "" {
		if !json.Valid([]byte(o.Input)) {
			var v any
			err := json.Unmarshal([]byte(o.Input), &v)
			return usageError("--input (%s) is not valid JSON: %v; quote strings: --input '\"text\"'", history.Truncate(o.Input, 40), err)
		}
		input = json.RawMessage(o.Input)
	}
	c, err := o.app.Client(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	if err := c.Store().SignalWorkflow(ctx, o.ID, o.RunID, o.Name, input); err != nil {
		return err
	}
	if o.app.IO.ErrTTY {
		fmt.Fprintf(o.app.IO.ErrOut, "Signal %s sent to %s\n", o.Name, o.ID)
	}
	return nil
}
