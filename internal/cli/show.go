package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
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
-o json writes a self-contained history file ({"version":2, "workflow_id",
"run_id", "type", "task_queue", "records":[{"kind":"input"|"decision",
"events":[...]}, ...]}: the run's records as stored, so 'dfctl replay --file'
and the replayer meet the decision boundaries a worker meets); -o jsonl one
event per line. --follow keeps printing new events until the run closes.

A message on the run's subject that is not a record dfctl can read (anyone
allowed to publish there can write one) does not hide the rest: show prints
every event it can read, names each bad record on stderr with its stream
sequence and the reason, and exits 6, so a script never takes a partial
history for the whole one. A worker blocks such a run (describe says why).`,
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
	c, err := o.app.ReadClient(cmd)
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

	subj, err := c.Store().Log.Subject(o.ID, o.RunID)
	if err != nil {
		return usageError("%v", err)
	}
	if !o.Follow || o.app.Output == outJSON {
		ctx, cancel := o.app.requestContext(cmd)
		defer cancel()
		if o.Follow {
			// A history file is whole: wait for the run to close first.
			if _, err := c.WaitClosed(cmd.Context(), o.ID, o.RunID); err != nil {
				return err
			}
		}
		f, bad, err := runHistoryFile(ctx, c, o.ID, o.RunID)
		if err != nil {
			return err
		}
		if o.app.Output == outJSON {
			if err := f.Encode(ios.Out); err != nil {
				return err
			}
		} else {
			for _, ev := range f.Events {
				if err := print(ev); err != nil {
					return err
				}
			}
		}
		return badRecordsError(o.ID, o.RunID, bad)
	}

	var bad []*history.BadRecordError
	for rec, err := range c.Store().Log.Follow(cmd.Context(), subj, 0) {
		var be *history.BadRecordError
		if errors.As(err, &be) {
			// Named where it is, and the run goes on being followed.
			fmt.Fprintf(ios.ErrOut, "warning: %v\n", be)
			bad = append(bad, be)
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range rec.Events {
			if err := print(ev); err != nil {
				return err
			}
			if ev.Type.IsClosing() {
				return badRecordsError(o.ID, o.RunID, bad)
			}
		}
	}
	return nil
}

// runHistoryFile reads a run's history as the file `show -o json` and
// export write. Tolerant: a record that does not decode is returned in bad,
// not fatal.
func runHistoryFile(ctx context.Context, c *client.Client, id, runID string) (*history.File, []*history.BadRecordError, error) {
	recs, bad, err := c.Store().HistoryTolerant(ctx, id, runID)
	if err != nil {
		return nil, nil, err
	}
	return history.NewFile(recs), bad, nil
}

// badRecordsError is show's verdict on a history with records that do not
// decode (nil without any): exit 6, naming each by its stream sequence.
func badRecordsError(id, runID string, bad []*history.BadRecordError) error {
	if len(bad) == 0 {
		return nil
	}
	parts := make([]string, len(bad))
	for i, b := range bad {
		parts[i] = fmt.Sprintf("stream seq %d: %v", b.Seq, b.Err)
	}
	return &ExitError{Code: ExitBadData, Err: fmt.Errorf("the history of workflow %q run %s holds %d record(s) that do not decode, not shown (the other events are): %s",
		id, runID, len(bad), strings.Join(parts, "; "))}
}
