package cli

import (
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/cobra"
)

type countOptions struct {
	app    *App
	filter runFilter
}

// countResult is what count prints with -o json (documented in its help
// and in docs/operations.md).
type countResult struct {
	Total  int               `json:"total"`
	Groups []engine.RunCount `json:"groups"`
}

func newCountCmd(app *App) *cobra.Command {
	o := &countOptions{app: app}
	cmd := &cobra.Command{
		Use:   "count [--status S] [--type T] [--task-queue Q] [...]",
		Short: "Count workflows by status and type",
		Long: `Count the latest run of each workflow ID that matches the filter flags (the
same as list's), grouped by status and workflow type. The server counts:
no run is read, unless --id-prefix or a time bound is given (then dfctl
checks those over the runs the server narrowed).

The groups partition the runs: "running" counts the running runs that are
not blocked, "blocked" those no worker can advance.

-o json prints a stable object:
  {"total": N, "groups": [{"status": "completed", "type": "OrderWorkflow", "count": N}, ...]}
ordered by status (running, blocked, completed, failed, canceled,
terminated, timed_out, continued_as_new), then type; empty groups are left
out. -o jsonl prints one group object per line.`,
		Example: `  dfctl count
  dfctl count --type OrderWorkflow
  dfctl count --status failed --closed-after 24h -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCount(cmd, o)
		},
	}
	o.filter.addFlags(cmd.Flags(), "count")
	cmd.Flags().Lookup("status").Usage = "only runs in this status: " + statusWords + " (default: any)"
	return cmd
}

func runCount(cmd *cobra.Command, o *countOptions) error {
	ios := o.app.IO
	if o.filter.Status == "" {
		o.filter.Status = "any"
	}
	lf, err := o.filter.listFilter(ios.now())
	if err != nil {
		return err
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	groups, total, err := c.CountWorkflowsBy(ctx, lf)
	if err != nil {
		return err
	}
	if groups == nil {
		groups = []engine.RunCount{}
	}
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, countResult{Total: total, Groups: groups})
	case outJSONL:
		for i := range groups {
			if err := writeJSONL(ios.Out, &groups[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !ios.OutTTY {
		for _, g := range groups {
			fmt.Fprintf(ios.Out, "%s\t%s\t%d\n", g.Status, g.Type, g.Count)
		}
		fmt.Fprintf(ios.ErrOut, "%s %s\n", thousands(total), plural(total, "run", "runs"))
		return nil
	}
	if total == 0 {
		fmt.Fprintln(ios.ErrOut, "No workflows found.")
		return nil
	}
	st := ios.OutStyles()
	rows := make([][]string, 0, len(groups)+1)
	for _, g := range groups {
		status := statusText(st, g.Status, true)
		if g.Status == engine.StatusBlocked {
			status = st.warn.Render("⚠ blocked")
		}
		rows = append(rows, []string{status, g.Type, thousands(g.Count)})
	}
	rows = append(rows, []string{"total", "", thousands(total)})
	writeTable(ios.Out, st, []string{"STATUS", "TYPE", "COUNT"}, rows)
	return nil
}
