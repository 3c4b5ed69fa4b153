package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type resultOptions struct {
	app *App

	ID          string
	RunID       string
	Wait        bool
	WaitTimeout time.Duration
}

func newResultCmd(app *App) *cobra.Command {
	o := &resultOptions{app: app}
	cmd := &cobra.Command{
		Use:   "result ID [--run R] [--wait [--wait-timeout D]]",
		Short: "Print a workflow's result",
		Long: `Print the result (JSON) of the latest run of workflow ID, or of run R.

A run that failed, was canceled, terminated or timed out prints its failure
on stderr and exits 1. A run still running exits 5 with a message, unless
--wait is given: then result waits for the run to close (not bounded by
--timeout, which bounds each request). --wait-timeout D (implies --wait)
bounds the wait: when D passes and the run is still running, result exits 7,
says so on stderr with the command that waits again, and with -o json prints
the run state object as it stands (status running).

With -o json, prints the run state object (see describe) instead of the
result, whatever the status.`,
		Example: `  # the result of a completed run, for a script
  dfctl result order-42

  # wait at most 30s; exit 7 if the run is still running then
  dfctl result order-42 --wait --wait-timeout 30s -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runResult(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().BoolVarP(&o.Wait, "wait", "w", false, "wait for a running workflow to close")
	cmd.Flags().DurationVar(&o.WaitTimeout, "wait-timeout", 0, "stop waiting after `DURATION` (implies --wait): exit 7 if the run is still running (0: wait until it closes)")
	return cmd
}

func runResult(cmd *cobra.Command, o *resultOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	if err := checkWaitTimeout(o.WaitTimeout); err != nil {
		return err
	}
	if o.WaitTimeout > 0 {
		o.Wait = true
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
			if err := writeRunJSON(o.app, ri); err != nil {
				return err
			}
			return &ExitError{Code: ExitNotReady, Err: fmt.Errorf("workflow %s (run %s) is still running: use --wait to wait for its result", ri.WorkflowID, ri.RunID)}
		}
		if ri.Blocked != "" {
			fmt.Fprintf(o.app.IO.ErrOut, "%s %s\n", o.app.IO.ErrStyles().warn.Render("Blocked:"), ri.Blocked)
		}
		wctx, wcancel := waitContext(cmd.Context(), o.WaitTimeout)
		defer wcancel()
		id, runID := ri.WorkflowID, ri.RunID
		ri, err = c.WaitClosed(wctx, id, runID)
		if err != nil {
			if waitExpired(cmd.Context(), wctx) {
				return stillRunning(cmd, o.app, c, id, runID, o.WaitTimeout)
			}
			return err
		}
	}
	return reportClosed(o.app, ri, false)
}

// checkWaitTimeout checks a --wait-timeout value.
func checkWaitTimeout(d time.Duration) error {
	if d < 0 {
		return usageError("--wait-timeout %s: use a positive duration such as 30s or 5m (0: no limit)", d)
	}
	return nil
}

// waitContext bounds a wait for a run by --wait-timeout (0: no bound).
func waitContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// waitExpired says whether a wait ended because --wait-timeout passed, not
// because the command was interrupted or lost its connection.
func waitExpired(cmdCtx, waitCtx context.Context) bool {
	return cmdCtx.Err() == nil && errors.Is(waitCtx.Err(), context.DeadlineExceeded)
}

// writeRunJSON prints a run state object with -o json or jsonl; text output
// prints nothing.
func writeRunJSON(app *App, ri *engine.RunInfo) error {
	switch app.Output {
	case outJSON:
		return writeJSON(app.IO.Out, ri)
	case outJSONL:
		return writeJSONL(app.IO.Out, ri)
	}
	return nil
}

// stillRunning reports a run that --wait-timeout stopped waiting for: the
// run as it stands (with -o json), a message on stderr with the command
// that waits again, and exit 7. A run that closed just as the wait ended
// is reported as closed.
func stillRunning(cmd *cobra.Command, app *App, c *client.Client, id, runID string, waited time.Duration) error {
	ctx, cancel := app.requestContext(cmd)
	defer cancel()
	ri, err := c.Describe(ctx, id, runID)
	// A continue-as-new chain: the run it stands at now.
	for hops := 0; err == nil && ri.Status == engine.StatusContinuedAsNew && ri.Next != "" && hops < 100; hops++ {
		ri, err = c.Describe(ctx, id, ri.Next)
	}
	if err != nil {
		return err
	}
	if ri.Status.IsClosed() && ri.Status != engine.StatusContinuedAsNew {
		return reportClosed(app, ri, false)
	}
	if err := writeRunJSON(app, ri); err != nil {
		return err
	}
	ios := app.IO
	est := ios.ErrStyles()
	fmt.Fprintf(ios.ErrOut, "%s workflow %s (run %s) is still running after %s", est.warn.Render("Still running:"), ri.WorkflowID, ri.RunID, waited)
	if ri.Blocked != "" {
		fmt.Fprintf(ios.ErrOut, " (blocked: %s)", ri.Blocked)
	}
	fmt.Fprintf(ios.ErrOut, "\n  wait again with: dfctl result %s --run %s --wait --wait-timeout %s\n", shellQuote(ri.WorkflowID), ri.RunID, waited)
	return &ExitError{Code: ExitWaitTimeout, Silent: true, Err: fmt.Errorf("workflow %s is still running after %s", ri.WorkflowID, waited)}
}
