package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

// Shortcuts of reset --to.
const (
	resetToFirst       = "first"
	resetToLastFailure = "last-failure"
)

type resetOptions struct {
	app *App

	ID             string
	RunID          string
	ToEvent        int64
	To             string
	Reason         string
	ReapplySignals bool
	batch          batchOptions
}

func newResetCmd(app *App) *cobra.Command {
	o := &resetOptions{app: app}
	cmd := &cobra.Command{
		Use:   "reset (ID [--run RUN] | --type T --status S ... [--yes] [--dry-run]) (--to-event N | --to first|last-failure) [--reason R] [--reapply-signals]",
		Short: "Re-run a workflow from a point of its history with the code deployed now",
		Long: `Start a new run of workflow ID whose history is the latest run's (or run
RUN's) up to event N, then continues with the workflow code the workers run
now: fix a bug, deploy, and reset the failed run to before its failure.
Activities completed up to N are not run again: their recorded results are
kept. N is rounded down to the end of the decision that contains it (the
start event at least), and the output says so. An open old run is
terminated with a link to the new one.

  --to-event N       keep events 1..N
  --to first         keep only the start event (run the workflow again from
                     its start, with the same input)
  --to last-failure  keep the events before the run's last failure
                     (ActivityFailed, ActivityAttemptFailed, WorkflowFailed
                     or WorkflowTaskFailed)

--reapply-signals sends the signals received after the kept events to the
new run again, in their order.

Prints the new run ID; -o json prints the reset result (workflow_id,
old_run_id, run_id, requested_event, kept_through_event, reapplied_signals,
old_run_terminated).

Exit codes: 0 done, 2 bad flags or the run has no failure (last-failure),
3 server error, 4 no such workflow or run.

` + batchHelp("reset", "reset") + `
Every matching run is reset with the same --to-event or --to, --reason and
--reapply-signals; a run that --to last-failure finds no failure in is
skipped. Reset usually targets closed runs: pass --status failed (or any).`,
		Example: `  dfctl reset order-42 --to last-failure --reason "fixed the tax bug"

  # after a fix: re-run every failed order from before its failure
  dfctl reset --type OrderWorkflow --status failed --to last-failure --dry-run
  dfctl reset --type OrderWorkflow --status failed --to last-failure --yes -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batch, err := o.batch.selected(cmd, len(args) == 1, "reset ID")
			if err != nil {
				return err
			}
			if batch {
				return runResetBatch(cmd, o)
			}
			o.ID = args[0]
			return runReset(cmd, o)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.ToEvent, "to-event", 0, "keep the events up to `N` (rounded down to a decision boundary)")
	f.StringVar(&o.To, "to", "", "where to reset to: first or last-failure")
	f.StringVar(&o.Reason, "reason", "", "why, recorded in the new run's history and on the old run")
	f.BoolVar(&o.ReapplySignals, "reapply-signals", false, "send the signals received after the kept events to the new run again")
	f.StringVarP(&o.RunID, "run", "r", "", "run ID to reset (default: the latest run)")
	o.batch.addFlags(cmd, "reset")
	return cmd
}

// checkResetPoint checks that exactly one reset point was given.
func checkResetPoint(cmd *cobra.Command, o *resetOptions) error {
	byEvent := cmd.Flags().Changed("to-event")
	switch {
	case byEvent == (o.To != ""):
		return usageError("give exactly one of --to-event N and --to first|last-failure")
	case !byEvent && o.To != resetToFirst && o.To != resetToLastFailure:
		return usageError("--to %q: use first or last-failure (or --to-event N)", o.To)
	}
	return nil
}

// resetOne resets the run o names to o's reset point; o.RunID and
// o.ToEvent are pinned on the way.
func resetOne(ctx context.Context, c *client.Client, o *resetOptions) (*engine.ResetResult, error) {
	var err error
	switch o.To {
	case "":
		if err := checkResetEvent(ctx, c, o); err != nil {
			return nil, err
		}
	case resetToFirst:
		o.ToEvent = 1
	case resetToLastFailure:
		if o.ToEvent, err = lastFailureBoundary(ctx, c, o); err != nil {
			return nil, err
		}
	}
	res, err := c.Store().ResetWorkflow(ctx, engine.ResetRequest{
		WorkflowID: o.ID, RunID: o.RunID, ToEvent: o.ToEvent, Reason: o.Reason, ReapplySignals: o.ReapplySignals,
	})
	if err != nil {
		if res != nil {
			// The new run exists; only re-applying a signal failed.
			return nil, fmt.Errorf("new run %s started, but: %w", res.RunID, err)
		}
		return nil, err
	}
	return res, nil
}

// errNoFailure: --to last-failure found no failure in the run.
var errNoFailure = errors.New("the run has no failure")

func runResetBatch(cmd *cobra.Command, o *resetOptions) error {
	if err := checkResetPoint(cmd, o); err != nil {
		return err
	}
	return runBatch(cmd, o.app, &o.batch, batchAction{verb: "reset", past: "reset",
		do: func(ctx context.Context, c *client.Client, ri *engine.RunInfo) error {
			one := *o
			one.ID, one.RunID = ri.WorkflowID, ri.RunID
			_, err := resetOne(ctx, c, &one)
			return err
		},
		skip: func(err error) (string, bool) {
			if errors.Is(err, errNoFailure) {
				return err.Error(), true
			}
			return "", false
		}})
}

func runReset(cmd *cobra.Command, o *resetOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	if err := checkResetPoint(cmd, o); err != nil {
		return err
	}
	c, err := o.app.Client(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	res, err := resetOne(ctx, c, o)
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, res)
	case outJSONL:
		return writeJSONL(ios.Out, res)
	}
	st := ios.OutStyles()
	if ios.OutTTY {
		fmt.Fprintf(ios.Out, "%s %s\n%s %s\n", st.faint.Render("Workflow ID:"), st.bold.Render(res.WorkflowID), st.faint.Render("New run ID: "), res.RunID)
	} else {
		fmt.Fprintf(ios.Out, "%s\t%s\n", res.WorkflowID, res.RunID)
	}
	est := ios.ErrStyles()
	if res.KeptThrough < res.Requested {
		fmt.Fprintln(ios.ErrOut, est.warn.Render(fmt.Sprintf("event %d is inside a decision: kept events 1..%d", res.Requested, res.KeptThrough)))
	}
	if ios.ErrTTY {
		fmt.Fprintf(ios.ErrOut, "Reset %s run %s to event %d", res.WorkflowID, res.OldRunID, res.KeptThrough)
		if res.OldTerminate {
			fmt.Fprint(ios.ErrOut, " (old run terminated)")
		}
		fmt.Fprintln(ios.ErrOut)
		if o.ReapplySignals {
			fmt.Fprintf(ios.ErrOut, "Re-applied %d %s\n", res.Reapplied, plural(res.Reapplied, "signal", "signals"))
		}
		fmt.Fprintf(ios.ErrOut, "Follow it with: dfctl show %s --follow\n", shellQuote(res.WorkflowID))
	}
	return nil
}

// checkResetEvent checks that --to-event names an event of the run's
// history, which it pins in o.RunID.
func checkResetEvent(ctx context.Context, c *client.Client, o *resetOptions) error {
	ri, err := c.Describe(ctx, o.ID, o.RunID)
	if err != nil {
		return err
	}
	o.RunID = ri.RunID
	evs, err := c.History(ctx, ri.WorkflowID, ri.RunID)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return usageError("--to-event %d: run %s of workflow %s has no events yet", o.ToEvent, ri.RunID, ri.WorkflowID)
	}
	if last := evs[len(evs)-1].Seq; o.ToEvent < 1 || o.ToEvent > last {
		return usageError("--to-event %d: run %s of workflow %s has events 1..%d", o.ToEvent, ri.RunID, ri.WorkflowID, last)
	}
	return nil
}

// isFailureEvent says whether ev is one of the failures --to last-failure
// resets to before.
func isFailureEvent(t history.EventType) bool {
	switch t {
	case history.ActivityFailed, history.ActivityAttemptFailed, history.WorkflowFailed, history.WorkflowTaskFailed:
		return true
	}
	return false
}

// lastFailureBoundary is the event before the run's last failure, which
// it pins in o.RunID. A WorkflowFailed that the code decided on failure
// inputs (an activity that failed) is part of their failure: the reset goes
// to before the first of those inputs, so that a fixed activity runs again.
func lastFailureBoundary(ctx context.Context, c *client.Client, o *resetOptions) (int64, error) {
	ri, err := c.Describe(ctx, o.ID, o.RunID)
	if err != nil {
		return 0, err
	}
	o.RunID = ri.RunID
	evs, err := c.History(ctx, ri.WorkflowID, ri.RunID)
	if err != nil {
		return 0, err
	}
	if n, ok := lastFailure(evs); ok {
		return n, nil
	}
	return 0, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--to last-failure: run %s of workflow %s: %w (no ActivityFailed, ActivityAttemptFailed, WorkflowFailed or WorkflowTaskFailed event): use --to-event N", ri.RunID, ri.WorkflowID, errNoFailure)}
}

// lastFailure returns the event before the last failure of evs.
func lastFailure(evs []history.Event) (int64, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if !isFailureEvent(evs[i].Type) {
			continue
		}
		first := i
		if evs[i].Type == history.WorkflowFailed {
			// The inputs the failing decision was made on.
			for j := i - 1; j >= 0 && !evs[j].Type.IsCommand() && evs[j].Type != history.WorkflowStarted; j-- {
				if isFailureEvent(evs[j].Type) {
					first = j
				}
			}
		}
		return max(evs[first].Seq-1, 1), true
	}
	return 0, false
}
