package cli

import (
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/spf13/cobra"
)

type showOptions struct {
	app *App

	ID     string
	RunID  string
	Follow bool
}

func newShowCmd(app *App) *cobra.Command {
	o := &showOptions{app: app}
	cmd := &cobra.Command{
		Use:   "show ID [--run R] [--follow]",
		Short: "Show a workflow run's event history",
		Long: `Show the events recorded for the latest run of workflow ID (or run R): the
sequence number, time, type and a one-line summary of each (activity name,
attempt, result or failure).

On a terminal the table is aligned and times are offsets from the start;
otherwise each event is one tab-separated line: seq, ISO time, type, summary.
-o json writes a self-contained history file ({"version":1, "workflow_id",
"run_id", "type", "task_queue", "events":[...]}); -o jsonl one event per
line. --follow keeps printing new events until the run closes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runShow(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "print new events as they are recorded, until the run closes")
	return cmd
}

func runShow(cmd *cobra.Command, o *showOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	c, err := o.app.Client(cmd)
	if err != nil {
		return err
	}
	ios := o.app.IO
	// Resolve the latest run, and fail fast on an unknown ID or run.
	ctx, cancel := o.app.requestContext(cmd)
	ri, err := c.Describe(ctx, o.ID, o.RunID)
	cancel()
	if err != nil {
		return err
	}
	o.RunID = ri.RunID
	table := &eventTable{w: ios.Out, st: ios.OutStyles(), aligned: ios.OutTTY}
	print := func(ev history.Event) error {
		switch o.app.Output {
		case outJSONL:
			return writeJSONL(ios.Out, ev)
		case outText:
			table.row(ev)
		}
		return nil
	}

	if !o.Follow || o.app.Output == outJSON {
		ctx, cancel := o.app.requestContext(cmd)
		defer cancel()
		var evs []history.Event
		if o.Follow {
			// A history file is whole: wait for the run to close first.
			if _, err := c.WaitClosed(cmd.Context(), o.ID, o.RunID); err != nil {
				return err
			}
		}
		evs, err = c.History(ctx, o.ID, o.RunID)
		if err != nil {
			return err
		}
		if o.app.Output == outJSON {
			return history.NewFile(evs).Encode(ios.Out)
		}
		for _, ev := range evs {
			if err := print(ev); err != nil {
				return err
			}
		}
		return nil
	}

	subj, err := c.Store().Log.Subject(o.ID, o.RunID)
	if err != nil {
		return usageError("%v", err)
	}
	for rec, err := range c.Store().Log.Follow(cmd.Context(), subj, 0) {
		if err != nil {
			return err
		}
		for _, ev := range rec.Events {
			if err := print(ev); err != nil {
				return err
			}
			if ev.Type.IsClosing() {
				return nil
			}
		}
	}
	return nil
}
