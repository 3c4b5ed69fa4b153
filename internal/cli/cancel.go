package cli

import (
	"context"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

// closeOptions are the flags of cancel and terminate.
type closeOptions struct {
	app *App

	ID     string
	RunID  string
	Reason string
	batch  batchOptions
}

// closeFunc cancels or terminates one run.
type closeFunc func(ctx context.Context, c *client.Client, id, runID, reason string) error

func newCancelCmd(app *App) *cobra.Command {
	return newCloseCmd(app, "cancel", "canceled", "Ask running workflows to stop", `Ask the latest run of workflow ID (or run R) to stop: the workflow's context
is cancelled, so its code can clean up (compensate with a disconnected
context) and return. The run ends as canceled unless the code completes
otherwise. A workflow that is already closed exits 2; an unknown one, 4.`,
		`  dfctl cancel order-42 --reason "customer asked"

  # every running OrderWorkflow started in the last hour, without a prompt
  dfctl cancel --type OrderWorkflow --started-after 1h --yes -o json`,
		func(ctx context.Context, c *client.Client, id, runID, reason string) error {
			return c.CancelWorkflow(ctx, id, runID, reason)
		})
}

func newTerminateCmd(app *App) *cobra.Command {
	return newCloseCmd(app, "terminate", "terminated", "End running workflows at once", `End the latest run of workflow ID (or run R) at once: no workflow code runs,
the reason is recorded in its history and the run ends as terminated. A
workflow that is already closed exits 2; an unknown one, 4.`,
		`  dfctl terminate order-42 --reason "bad input"

  # see what would be terminated, then do it
  dfctl terminate --type OrderWorkflow --dry-run
  dfctl terminate --type OrderWorkflow --reason "bad deploy" --yes`,
		func(ctx context.Context, c *client.Client, id, runID, reason string) error {
			return c.TerminateWorkflow(ctx, id, runID, reason)
		})
}

func newCloseCmd(app *App, verb, past, short, long, example string, do closeFunc) *cobra.Command {
	o := &closeOptions{app: app}
	cmd := &cobra.Command{
		Use:   verb + " (ID [--run RUN] | --type T --status S ... [--yes] [--dry-run]) [--reason R]",
		Short: short,
		Long: long + `

With -o json, prints the acknowledgement {"workflow_id", "run_id", "action":
"` + verb + `", "reason", "accepted": true}.

` + batchHelp(verb, past),
		Example: example,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batch, err := o.batch.selected(cmd, len(args) == 1, verb+" ID")
			if err != nil {
				return err
			}
			if batch {
				return runBatch(cmd, o.app, &o.batch, batchAction{verb: verb, past: past,
					do: func(ctx context.Context, c *client.Client, ri *engine.RunInfo) error {
						return do(ctx, c, ri.WorkflowID, ri.RunID, o.Reason)
					}})
			}
			o.ID = args[0]
			return runClose(cmd, o, verb, do)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, recorded in the history")
	o.batch.addFlags(cmd, verb)
	return cmd
}

func runClose(cmd *cobra.Command, o *closeOptions, verb string, do closeFunc) error {
	if err := validateID(o.ID); err != nil {
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
	if err := do(ctx, c, o.ID, runID, o.Reason); err != nil {
		return err
	}
	if o.app.IO.ErrTTY {
		fmt.Fprintf(o.app.IO.ErrOut, "%s requested for %s (run %s)\n", capitalize(verb), o.ID, runID)
	}
	return writeAck(o.app, actionAck{WorkflowID: o.ID, RunID: runID, Action: verb, Reason: o.Reason, Accepted: true})
}

// batchHelp is the help of an action's filter form.
func batchHelp(verb, past string) string {
	return `With filter flags instead of an ID (the flags of list: --type, --status,
--task-queue, --id-prefix, --started-after, --started-before, --closed-after,
--closed-before; --status defaults to running), ` + verb + ` acts on the
latest run of every matching workflow: it prints how many match and the first
IDs, asks for confirmation on a terminal (--yes skips the question and is
required when stdin is not a terminal), then sends at most --rps requests a
second, --concurrency at once, with a progress line on a terminal. --dry-run
lists the runs that would be ` + past + ` and changes nothing. The summary
counts the runs done, failed (with each error) and skipped (runs that closed
meanwhile); -o json prints it as {"action", "dry_run", "filter", "matched",
"succeeded", "failed": [{"workflow_id", "run_id", "error"}], "skipped":
[{"workflow_id", "run_id", "reason"}], "not_run", "runs"}. Exits 8 when the
action failed for any run. See docs/scripting.md.`
}
