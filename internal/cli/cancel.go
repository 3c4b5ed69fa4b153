package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// closeOptions are the flags of cancel and terminate.
type closeOptions struct {
	app *App

	ID     string
	RunID  string
	Reason string
}

func newCancelCmd(app *App) *cobra.Command {
	return newCloseCmd(app, "cancel", "Ask a running workflow to stop", `Ask the latest run of workflow ID (or run R) to stop: the workflow's context
is cancelled, so its code can clean up (compensate with a disconnected
context) and return. The run ends as canceled unless the code completes
otherwise. A workflow that is already closed exits 2; an unknown one, 4.`,
		func(cmd *cobra.Command, o *closeOptions) error {
			c, err := o.app.Client(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := o.app.requestContext(cmd)
			defer cancel()
			return c.CancelWorkflow(ctx, o.ID, o.RunID, o.Reason)
		})
}

func newTerminateCmd(app *App) *cobra.Command {
	cmd := newCloseCmd(app, "terminate", "End a running workflow at once", `End the latest run of workflow ID (or run R) at once: no workflow code runs,
the reason is recorded in its history and the run ends as terminated. A
workflow that is already closed exits 2; an unknown one, 4.`,
		func(cmd *cobra.Command, o *closeOptions) error {
			c, err := o.app.Client(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := o.app.requestContext(cmd)
			defer cancel()
			return c.TerminateWorkflow(ctx, o.ID, o.RunID, o.Reason)
		})
	return cmd
}

func newCloseCmd(app *App, verb, short, long string, do func(*cobra.Command, *closeOptions) error) *cobra.Command {
	o := &closeOptions{app: app}
	cmd := &cobra.Command{
		Use:   verb + " ID [--reason R] [--run RUN]",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if err := validateID(o.ID); err != nil {
				return err
			}
			if err := do(cmd, o); err != nil {
				return err
			}
			if o.app.IO.ErrTTY {
				fmt.Fprintf(o.app.IO.ErrOut, "%s requested for %s\n", verb, o.ID)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, recorded in the history")
	return cmd
}
