package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type resultOptions struct {
	app *App

	ID    string
	RunID string
	Wait  bool
}

func newResultCmd(app *App) *cobra.Command {
	o := &resultOptions{app: app}
	cmd := &cobra.Command{
		Use:   "result ID [--run R] [--wait]",
		Short: "Print a workflow's result",
		Long: `Print the result (JSON) of the latest run of workflow ID, or of run R.

A run that failed, was canceled, terminated or timed out prints its failure
on stderr and exits 1. A run still running exits 5 with a message, unless
--wait is given: then result waits for the run to close (not bounded by
--timeout). With -o json, prints the run state object instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runResult(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().BoolVarP(&o.Wait, "wait", "w", false, "wait for a running workflow to close")
	return cmd
}

func runResult(cmd *cobra.Command, o *resultOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	ri, err := c.Describe(ctx, o.ID, o.RunID)
	cancel()
	if err != nil {
		return err
	}
	if !ri.Status.IsClosed() {
		if !o.Wait {
			return &ExitError{Code: ExitNotReady, Err: fmt.Errorf("workflow %s (run %s) is still running: use --wait to wait for its result", ri.WorkflowID, ri.RunID)}
		}
		if ri.Blocked != "" {
			fmt.Fprintf(o.app.IO.ErrOut, "%s %s\n", o.app.IO.ErrStyles().warn.Render("Blocked:"), ri.Blocked)
		}
		ri, err = c.WaitClosed(cmd.Context(), ri.WorkflowID, ri.RunID)
		if err != nil {
			return err
		}
	}
	return reportClosed(o.app, ri, false)
}
