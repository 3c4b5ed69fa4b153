package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/cobra"
)

type deleteOptions struct {
	app    *App
	filter runFilter
	Before string
	Yes    bool
	DryRun bool
}

// deleteSummary is what delete prints with -o json (documented in its help
// and in docs/operations.md).
type deleteSummary struct {
	DryRun  bool   `json:"dry_run"`
	Filter  string `json:"filter,omitempty"`
	Matched int    `json:"matched"`
	Deleted int    `json:"deleted"`
	// KeptRunning counts the running runs the filter matched: delete
	// removes closed runs only.
	KeptRunning int `json:"kept_running"`
	// Runs are the runs deleted (with --dry-run: that would be).
	Runs   []deleteRun `json:"runs"`
	Failed []deleteRun `json:"failed"`
}

type deleteRun struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Type       string     `json:"type,omitempty"`
	Status     string     `json:"status,omitempty"`
	CloseTime  *time.Time `json:"close_time,omitempty"`
	Error      string     `json:"error,omitempty"`
}

func newDeleteCmd(app *App) *cobra.Command {
	o := &deleteOptions{app: app}
	cmd := &cobra.Command{
		Use:   "delete ID... | delete [--status S] [--before AGE] [filter flags]",
		Short: "Delete closed workflows: their history, state and index entries",
		Long: `Delete workflow IDs whose latest run is closed: the history of every run of the
ID (with its signals and out-of-line payloads), its runs entry and its index
entries. Running runs are never deleted: terminate or cancel them first.

Give workflow IDs, or filter flags (those of list; --before AGE is
--closed-before: closed longer ago than AGE) to delete every matching
closed run. dfctl says how many match and asks before deleting; pass --yes
when stdin is not a terminal. --dry-run lists what would be deleted.

-o json prints a summary object, a stable contract:
  {"dry_run": false, "filter": "...", "matched": N, "deleted": N,
   "kept_running": N, "runs": [{"workflow_id", "run_id", "type", "status",
   "close_time"}, ...], "failed": [{"workflow_id", "run_id", "error"}, ...]}
Exit code 8 when some runs could not be deleted.`,
		Example: `  dfctl delete order-17
  dfctl delete --status completed --before 7d --dry-run
  dfctl delete --status completed --before 7d --yes
  dfctl delete --type Nightly --closed-before 2026-01-01T00:00:00Z -o json --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd, o, args)
		},
	}
	f := cmd.Flags()
	o.filter.addFlags(f, "delete")
	f.Lookup("status").Usage = "delete every closed run in this status: completed, failed, canceled, terminated, timed_out, continued_as_new or any (default: any closed)"
	f.StringVar(&o.Before, "before", "", "delete runs closed before `AGE` ago (7d, 24h) or an RFC 3339 time: --closed-before")
	f.BoolVarP(&o.Yes, "yes", "y", false, "delete without asking (required when stdin is not a terminal)")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be deleted and delete nothing")
	return cmd
}

func runDelete(cmd *cobra.Command, o *deleteOptions, ids []string) error {
	ios := o.app.IO
	if o.Before != "" {
		if o.filter.ClosedBefore != "" {
			return usageError("--before is --closed-before: give one of them")
		}
		o.filter.ClosedBefore = o.Before
	}
	byFilter := o.filter.set()
	switch {
	case len(ids) > 0 && byFilter:
		return usageError("give workflow IDs or filter flags (--status, --before, ...), not both")
	case len(ids) == 0 && !byFilter:
		return usageError("give workflow IDs (`dfctl delete ID`), or filter flags such as --status completed --before 7d to delete every matching closed run")
	}
	switch engine.Status(o.filter.Status) {
	case engine.StatusRunning, engine.StatusBlocked:
		return usageError("--status %s: delete removes closed runs only; terminate or cancel running runs first", o.filter.Status)
	case "":
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
	sum := deleteSummary{DryRun: o.DryRun, Runs: []deleteRun{}, Failed: []deleteRun{}}
	var runs []engine.RunInfo
	if byFilter {
		sum.Filter = o.filter.describe()
		err := c.ScanWorkflows(cmd.Context(), lf, func(ri *engine.RunInfo) error {
			if ri.Status.IsClosed() {
				runs = append(runs, *ri)
			} else {
				sum.KeptRunning++
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		for _, id := range ids {
			ctx, cancel := o.app.requestContext(cmd)
			ri, err := c.Describe(ctx, id, "")
			cancel()
			if err != nil {
				return err
			}
			if !ri.Status.IsClosed() {
				return usageError("workflow %q is running (run %s): delete removes closed runs only; terminate or cancel it first", id, ri.RunID)
			}
			runs = append(runs, *ri)
		}
	}
	sum.Matched = len(runs)
	if sum.KeptRunning > 0 {
		fmt.Fprintf(ios.ErrOut, "%s running %s also %s and %s kept: delete removes closed runs only.\n",
			thousands(sum.KeptRunning), plural(sum.KeptRunning, "run", "runs"), plural(sum.KeptRunning, "matches", "match"), plural(sum.KeptRunning, "is", "are"))
	}
	if len(runs) == 0 {
		fmt.Fprintf(ios.ErrOut, "No closed runs match (%s): nothing to delete.\n", sum.Filter)
		return writeDeleteSummary(o.app, &sum)
	}
	fmt.Fprintf(ios.ErrOut, "%s closed %s: %s\n", thousands(len(runs)), plural(len(runs), "run matches", "runs match"), previewIDs(runs))
	if o.DryRun {
		for i := range runs {
			sum.Runs = append(sum.Runs, deleteRunOf(&runs[i]))
		}
		return writeDeleteSummary(o.app, &sum)
	}
	if !o.Yes {
		if !stdinTTY(ios) || !ios.ErrTTY {
			return usageError("delete %s %s without asking: pass --yes (stdin is not a terminal, so dfctl cannot ask); --dry-run lists them",
				thousands(len(runs)), plural(len(runs), "run", "runs"))
		}
		ok, err := confirm(ios.In, ios.ErrOut, fmt.Sprintf("Delete %s %s, with their history? This cannot be undone.", thousands(len(runs)), plural(len(runs), "run", "runs")))
		if err != nil {
			return err
		}
		if !ok {
			return &ExitError{Code: ExitUsage, Err: errors.New("not confirmed: nothing deleted")}
		}
	}
	for i := range runs {
		if cmd.Context().Err() != nil {
			break
		}
		ctx, cancel := o.app.requestContext(cmd)
		_, err := c.DeleteWorkflow(ctx, runs[i].WorkflowID)
		cancel()
		d := deleteRunOf(&runs[i])
		switch {
		case err == nil || errors.Is(err, engine.ErrWorkflowNotFound): // gone already
			sum.Deleted++
			sum.Runs = append(sum.Runs, d)
		default:
			d.Error = err.Error()
			sum.Failed = append(sum.Failed, d)
		}
	}
	if err := writeDeleteSummary(o.app, &sum); err != nil {
		return err
	}
	if len(sum.Failed) > 0 {
		return &ExitError{Code: ExitBatchFailed, Silent: true, Err: fmt.Errorf("%d of %d runs not deleted", len(sum.Failed), len(runs))}
	}
	return cmd.Context().Err()
}

func deleteRunOf(ri *engine.RunInfo) deleteRun {
	return deleteRun{WorkflowID: ri.WorkflowID, RunID: ri.RunID, Type: ri.Type, Status: string(ri.Status), CloseTime: ri.CloseTime}
}

func writeDeleteSummary(app *App, s *deleteSummary) error {
	ios := app.IO
	switch app.Output {
	case outJSON:
		return writeJSON(ios.Out, s)
	case outJSONL:
		return writeJSONL(ios.Out, s)
	}
	if s.DryRun {
		for _, r := range s.Runs {
			fmt.Fprintf(ios.Out, "%s\t%s\t%s\t%s\n", r.WorkflowID, r.RunID, r.Type, r.Status)
		}
		fmt.Fprintf(ios.ErrOut, "Dry run: %s %s would be deleted.\n", thousands(len(s.Runs)), plural(len(s.Runs), "run", "runs"))
		return nil
	}
	for _, r := range s.Failed {
		fmt.Fprintf(ios.ErrOut, "not deleted: %s: %s\n", r.WorkflowID, r.Error)
	}
	if s.Matched > 0 {
		fmt.Fprintf(ios.ErrOut, "Deleted %s of %s %s.\n", thousands(s.Deleted), thousands(s.Matched), plural(s.Matched, "run", "runs"))
	}
	return nil
}
