package cli

import (
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/cobra"
)

type listOptions struct {
	app *App

	Status string
	Type   string
	Limit  int
}

func newListCmd(app *App) *cobra.Command {
	o := &listOptions{app: app}
	cmd := &cobra.Command{
		Use:   "list [--status S] [--type T] [--limit N]",
		Short: "List workflows, newest first",
		Long: `List the latest run of each workflow ID, newest first: workflow ID, type,
status, start time, duration and task queue.

-o json prints an array of run state objects (see describe); -o jsonl one
object per line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, o)
		},
	}
	cmd.Flags().StringVar(&o.Status, "status", "", "only runs in this status: running, completed, failed, canceled, terminated, timed_out")
	cmd.Flags().StringVar(&o.Type, "type", "", "only runs of this workflow type")
	cmd.Flags().IntVarP(&o.Limit, "limit", "n", 100, "at most this many runs (0: all)")
	return cmd
}

func runList(cmd *cobra.Command, o *listOptions) error {
	switch engine.Status(o.Status) {
	case "", engine.StatusRunning, engine.StatusCompleted, engine.StatusFailed, engine.StatusCanceled, engine.StatusTerminated, engine.StatusTimedOut:
	default:
		return usageError("--status %q: use running, completed, failed, canceled, terminated or timed_out", o.Status)
	}
	if o.Limit < 0 {
		return usageError("--limit must be 0 or more")
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	runs, err := c.ListWorkflows(ctx, engine.ListFilter{Status: engine.Status(o.Status), Type: o.Type, Limit: o.Limit})
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		if runs == nil {
			runs = []engine.RunInfo{}
		}
		return writeJSON(ios.Out, runs)
	case outJSONL:
		for i := range runs {
			if err := writeJSONL(ios.Out, &runs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !ios.OutTTY {
		for i := range runs {
			ri := &runs[i]
			fmt.Fprintf(ios.Out, "%s\t%s\t%s\t%s\t%s\t%s\n", ri.WorkflowID, ri.Type, ri.Status, timeText(ios, ri.StartTime), runDuration(ios, ri), ri.TaskQueue)
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintln(ios.ErrOut, "No workflows found.")
		return nil
	}
	st := ios.OutStyles()
	rows := make([][]string, len(runs))
	for i := range runs {
		ri := &runs[i]
		status := statusText(st, ri.Status, true)
		if ri.Blocked != "" {
			status = st.warn.Render("⚠ blocked") // running, but no worker can advance it: see describe
		}
		rows[i] = []string{ri.WorkflowID, ri.Type, status, timeText(ios, ri.StartTime), runDuration(ios, ri), ri.TaskQueue}
	}
	writeTable(ios.Out, st, []string{"WORKFLOW ID", "TYPE", "STATUS", "STARTED", "DURATION", "TASK QUEUE"}, rows)
	return nil
}
