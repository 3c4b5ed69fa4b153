package cli

import (
	"fmt"
	"strconv"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/cobra"
)

type listOptions struct {
	app *App

	filter runFilter
	Limit  int
	After  string
}

// Default page sizes: a screenful on a terminal, more for a pipe.
const (
	listLimitTTY  = 20
	listLimitPipe = 100
)

func newListCmd(app *App) *cobra.Command {
	o := &listOptions{app: app}
	cmd := &cobra.Command{
		Use:   "list [--status S] [--type T] [--task-queue Q] [--id-prefix P] [--limit N] [--after CURSOR]",
		Short: "List workflows, most recently changed first",
		Long: `List the latest run of each workflow ID that matches the filter flags, most
recently changed (started, blocked, closed) first: workflow ID, type, status,
start time, duration and task queue. A footer on stderr says how many match
and how to get the next page ("20 of 100,000 runs (next page: --after
CURSOR)"). The server filters by status, type and task queue; --id-prefix
and the time bounds are checked by dfctl over what the server narrowed.

--status blocked lists running runs that no worker can advance (unknown
workflow type, non-deterministic code, storage full); --status running
includes them.

-o json prints one page as a JSON array of run state objects (as describe
prints them, without "result": use dfctl result), a stable contract; the
footer on stderr still gives the total and the next page's cursor. -o jsonl
streams every matching run, one object per line, least recently changed
first (no --limit or --after): what scripts that need every run use.`,
		Example: `  dfctl list
  dfctl list --status blocked
  dfctl list --type OrderWorkflow --status failed --closed-after 24h
  dfctl list --limit 50 --after c2n9        # the next page
  dfctl list -o jsonl --status completed | jq -r .workflow_id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, o)
		},
	}
	f := cmd.Flags()
	o.filter.addFlags(f, "list")
	f.Lookup("status").Usage = "only runs in this status: " + statusWords + " (blocked: running runs no worker can advance; running includes them) (default: any)"
	f.IntVarP(&o.Limit, "limit", "n", -1, "at most this many runs (0: all) (default 20 on a terminal, else 100)")
	f.Lookup("limit").DefValue = "0" // -1 is "not given": the help says the defaults
	f.Lookup("type").Usage = "only runs of this workflow type"
	f.StringVar(&o.After, "after", "", "the page after the one that printed this `CURSOR`")
	return cmd
}

func runList(cmd *cobra.Command, o *listOptions) error {
	ios := o.app.IO
	if o.filter.Status == "" {
		o.filter.Status = "any"
	}
	lf, err := o.filter.listFilter(ios.now())
	if err != nil {
		return err
	}
	if o.app.Output == outJSONL && (cmd.Flags().Changed("limit") || o.After != "") {
		return usageError("-o jsonl streams every matching run: drop --limit and --after, or use -o json for pages")
	}
	switch {
	case o.Limit < -1 || o.Limit == -1 && cmd.Flags().Changed("limit"):
		return usageError("--limit %d: use 0 (all) or more", o.Limit)
	case o.Limit == -1 && ios.OutTTY:
		o.Limit = listLimitTTY
	case o.Limit == -1:
		o.Limit = listLimitPipe
	}
	lf.Limit, lf.After = o.Limit, o.After
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	if o.app.Output == outJSONL {
		// Streamed: the whole scan is not bounded by one request timeout.
		return c.ScanWorkflows(cmd.Context(), lf, func(ri *engine.RunInfo) error {
			return writeJSONL(ios.Out, ri)
		})
	}
	page, err := c.PageWorkflows(ctx, lf)
	if err != nil {
		return err
	}
	if o.app.Output == outJSON {
		runs := page.Runs
		if runs == nil {
			runs = []engine.RunInfo{}
		}
		if err := writeJSON(ios.Out, runs); err != nil {
			return err
		}
		fmt.Fprintln(ios.ErrOut, listFooter(len(runs), page.Total, page.Next))
		return nil
	}
	runs := page.Runs
	if !ios.OutTTY {
		for i := range runs {
			ri := &runs[i]
			fmt.Fprintf(ios.Out, "%s\t%s\t%s\t%s\t%s\t%s\n", ri.WorkflowID, ri.Type, listStatus(ri), timeText(ios, ri.StartTime), runDuration(ios, ri), ri.TaskQueue)
		}
	} else if len(runs) > 0 {
		st := ios.OutStyles()
		rows := make([][]string, len(runs))
		for i := range runs {
			ri := &runs[i]
			status := statusText(st, ri.Status, true)
			if ri.Blocked != "" && !ri.Status.IsClosed() {
				status = st.warn.Render("⚠ blocked") // running, but no worker can advance it: see describe
			}
			rows[i] = []string{ri.WorkflowID, ri.Type, status, timeText(ios, ri.StartTime), runDuration(ios, ri), ri.TaskQueue}
		}
		writeTable(ios.Out, st, []string{"WORKFLOW ID", "TYPE", "STATUS", "STARTED", "DURATION", "TASK QUEUE"}, rows)
	}
	fmt.Fprintln(ios.ErrOut, listFooter(len(runs), page.Total, page.Next))
	return nil
}

// listStatus is the status column of plain output: blocked for a running
// run that cannot progress.
func listStatus(ri *engine.RunInfo) string {
	if ri.Blocked != "" && !ri.Status.IsClosed() {
		return string(engine.StatusBlocked)
	}
	return string(ri.Status)
}

// listFooter is "20 of 100,000 runs (next page: --after CURSOR)".
func listFooter(shown, total int, next string) string {
	if total == 0 {
		return "No workflows found."
	}
	s := fmt.Sprintf("%s of %s %s", thousands(shown), thousands(total), plural(total, "run", "runs"))
	if next != "" {
		s += " (next page: --after " + next + ")"
	}
	return s
}

// thousands writes n with comma separators: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
