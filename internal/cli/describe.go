package cli

import (
	"fmt"
	"strings"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/spf13/cobra"
)

type describeOptions struct {
	app *App

	ID    string
	RunID string
}

func newDescribeCmd(app *App) *cobra.Command {
	o := &describeOptions{app: app}
	cmd := &cobra.Command{
		Use:   "describe ID [--run R]",
		Short: "Show a workflow run's state",
		Long: `Show the state of the latest run of workflow ID (or of run R): type, task
queue, status, times, result or failure, and why it is blocked if it is.

With -o json, prints the run state object: workflow_id, run_id, type,
task_queue, status (running, completed, failed, canceled, terminated,
timed_out), start_time, close_time, result when completed, failure when
failed, blocked when no worker can run it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runDescribe(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	return cmd
}

// validateID checks a workflow ID given as an argument.
func validateID(id string) error {
	if err := history.ValidateWorkflowID(id); err != nil {
		return usageError("%v", err)
	}
	return nil
}

func runDescribe(cmd *cobra.Command, o *describeOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	ri, err := c.Describe(ctx, o.ID, o.RunID)
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, ri)
	case outJSONL:
		return writeJSONL(ios.Out, ri)
	}
	st := ios.OutStyles()
	line := func(k, v string) {
		if ios.OutTTY {
			fmt.Fprintf(ios.Out, "%s %s\n", st.faint.Render(fmt.Sprintf("%-12s", k+":")), v)
		} else {
			fmt.Fprintf(ios.Out, "%s\t%s\n", strings.ToLower(strings.ReplaceAll(k, " ", "_")), v)
		}
	}
	line("Workflow ID", ri.WorkflowID)
	line("Run ID", ri.RunID)
	line("Type", ri.Type)
	line("Task queue", ri.TaskQueue)
	line("Status", statusText(st, ri.Status, ios.OutTTY))
	line("Started", timeText(ios, ri.StartTime))
	if ri.CloseTime != nil {
		line("Closed", timeText(ios, *ri.CloseTime))
	}
	line("Duration", runDuration(ios, ri))
	if ri.Blocked != "" {
		line("Blocked", st.warn.Render(ri.Blocked))
	}
	switch {
	case ri.Status == engine.StatusCompleted && ios.OutTTY:
		line("Result", indentRest(prettyJSON(ri.Result), 13))
	case ri.Status == engine.StatusCompleted:
		line("Result", history.CompactJSON(ri.Result))
	case ri.Failure != nil:
		line("Failure", st.bad.Render(history.FailureText(ri.Failure)))
	}
	return nil
}

// indentRest indents every line of s but the first by n spaces.
func indentRest(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
