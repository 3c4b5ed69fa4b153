package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type replayOptions struct {
	app *App

	ID        string
	RunID     string
	File      string
	TaskQueue string
	Type      string
	Status    string
}

func newReplayCmd(app *App) *cobra.Command {
	o := &replayOptions{app: app}
	cmd := &cobra.Command{
		Use:   "replay (ID [--run R] | --file FILE [--task-queue Q] | --type T [--status S])",
		Short: "Check that the deployed workflow code still replays recorded histories",
		Long: `Ask a live worker to replay a recorded history against the workflow code it
runs now, and print "deterministic" or the mismatch: the event seq, what the
history records and what the code produced instead. Activities are not run:
their recorded results are used. Use it before a deploy (a CI gate) or to
check why a run is blocked.

  dfctl replay ID [--run R]               the latest run of ID (or run R)
  dfctl replay --file run.json [-q Q]     a history file written by
                                          'dfctl show ID -o json' ('-' reads
                                          stdin); the task queue defaults to
                                          the file's. A version 1 file (a flat
                                          event list) is checked with guessed
                                          decision boundaries and a warning:
                                          re-export it
  dfctl replay --type T [--status S]      every matching run (the latest run
  dfctl replay --status S                 of each workflow ID; --status
                                          defaults to running with --type),
                                          a verdict per run and a summary

The worker is one of the run's task queue (request/reply over NATS): start
one with the new code first. Each check waits up to --timeout.

-o json prints the replay result objects (workflow_id, run_id, deterministic,
mismatch {message, type}, worker; "error" when a run could not be checked;
"warning" for a version 1 file):
one object for a run or a file, an array for --type/--status; -o jsonl one
object per line.

Exit codes:
  0  every history replays deterministically
  1  a history does not replay (non-deterministic, or the workflow type is
     not registered by the worker)
  2  usage error: bad flags, unreadable history file
  3  no worker of the task queue answered (start one), or the server failed
  4  no such workflow or run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.ID = args[0]
			}
			return runReplay(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	f.StringVar(&o.File, "file", "", "replay a history `FILE` written by 'dfctl show ID -o json' ('-': stdin)")
	f.StringVarP(&o.TaskQueue, "task-queue", "q", "", "with --file: the task queue whose worker replays it (default: the file's)")
	f.StringVar(&o.Type, "type", "", "replay every run of this workflow type")
	f.StringVar(&o.Status, "status", "", "replay every run in this status (default with --type: running)")
	return cmd
}

// replayVerdict is one replay result as printed: the engine's result, or
// the error that kept the run from being checked.
type replayVerdict struct {
	engine.ReplayResult
	Error string `json:"error,omitempty"`
	// Warning is the limit of a version 1 history file.
	Warning string `json:"warning,omitempty"`

	err error
}

func runReplay(cmd *cobra.Command, o *replayOptions) error {
	many := o.Type != "" || o.Status != ""
	switch {
	case o.ID == "" && o.File == "" && !many:
		return usageError("give a workflow ID, --file FILE or --type/--status")
	case o.ID != "" && (o.File != "" || many):
		return usageError("give either a workflow ID, --file or --type/--status, not several")
	case o.File != "" && many:
		return usageError("--file cannot be combined with --type/--status")
	case o.RunID != "" && o.ID == "":
		return usageError("--run needs a workflow ID")
	case o.TaskQueue != "" && o.File == "":
		return usageError("--task-queue is for --file: a run is replayed by a worker of its own task queue")
	}
	if o.ID != "" {
		if err := validateID(o.ID); err != nil {
			return err
		}
	}
	if many {
		if o.Status == "" {
			o.Status = string(engine.StatusRunning)
		}
		if err := validateStatus(o.Status); err != nil {
			return err
		}
	}
	var file *history.File
	if o.File != "" {
		var err error
		if file, err = readHistoryFile(o.app.IO, o.File); err != nil {
			return err
		}
		if o.TaskQueue == "" {
			o.TaskQueue = file.TaskQueue
		}
		if o.TaskQueue == "" {
			return usageError("%s names no task queue: pass --task-queue", o.File)
		}
		if err := engine.ValidateTaskQueue(o.TaskQueue); err != nil {
			return usageError("--task-queue: %v", err)
		}
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	if many {
		return replayMany(cmd, o, c)
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	var res *engine.ReplayResult
	if file != nil {
		res, err = c.Store().ReplayFile(ctx, o.TaskQueue, file)
	} else {
		res, err = c.Store().ReplayRun(ctx, o.ID, o.RunID)
	}
	if err != nil {
		return replayError(err)
	}
	v := replayVerdict{ReplayResult: *res}
	ios := o.app.IO
	if file != nil {
		if v.Warning = file.Warning(); v.Warning != "" {
			fmt.Fprintln(ios.ErrOut, ios.ErrStyles().warn.Render("warning: "+v.Warning))
		}
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, v)
	case outJSONL:
		err = writeJSONL(ios.Out, v)
	default:
		st := ios.OutStyles()
		fmt.Fprintln(ios.Out, verdictText(st, &v))
		if ios.ErrTTY && res.Worker != "" {
			fmt.Fprintln(ios.ErrOut, ios.ErrStyles().faint.Render("replayed by worker "+res.Worker))
		}
	}
	if err != nil {
		return err
	}
	if !res.Deterministic {
		return &ExitError{Code: ExitRunFailed, Silent: true}
	}
	return nil
}

// replayMany replays every run that matches --type and --status.
func replayMany(cmd *cobra.Command, o *replayOptions, c *client.Client) error {
	ctx, cancel := o.app.requestContext(cmd)
	runs, err := c.ListWorkflows(ctx, engine.ListFilter{Status: engine.Status(o.Status), Type: o.Type})
	cancel()
	if err != nil {
		return err
	}
	ios := o.app.IO
	st := ios.OutStyles()
	verdicts := make([]replayVerdict, 0, len(runs))
	var ok, bad, failed int
	var firstErr error
	for i := range runs {
		ri := &runs[i]
		ctx, cancel := o.app.requestContext(cmd)
		res, err := c.Store().ReplayRun(ctx, ri.WorkflowID, ri.RunID)
		cancel()
		if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
			return err
		}
		v := replayVerdict{ReplayResult: engine.ReplayResult{WorkflowID: ri.WorkflowID, RunID: ri.RunID}}
		switch {
		case err != nil:
			v.err = replayError(err)
			v.Error = v.err.Error()
			failed++
			if firstErr == nil {
				firstErr = v.err
			}
		case res.Deterministic:
			v.ReplayResult = *res
			ok++
		default:
			v.ReplayResult = *res
			bad++
		}
		switch o.app.Output {
		case outJSON:
			verdicts = append(verdicts, v)
		case outJSONL:
			if err := writeJSONL(ios.Out, v); err != nil {
				return err
			}
		default:
			if ios.OutTTY {
				fmt.Fprintf(ios.Out, "%s  %s  %s\n", st.bold.Render(v.WorkflowID), st.faint.Render(v.RunID), verdictText(st, &v))
			} else {
				fmt.Fprintf(ios.Out, "%s\t%s\t%s\n", v.WorkflowID, v.RunID, verdictText(st, &v))
			}
		}
	}
	switch o.app.Output {
	case outJSON:
		if err := writeJSON(ios.Out, verdicts); err != nil {
			return err
		}
	case outText:
		summary := fmt.Sprintf("%d %s: %d deterministic, %d non-deterministic", len(runs), plural(len(runs), "run", "runs"), ok, bad)
		if failed > 0 {
			summary += fmt.Sprintf(", %d not checked", failed)
		}
		switch {
		case bad > 0 || failed > 0:
			summary = st.bad.Render(summary)
		case len(runs) > 0:
			summary = st.ok.Render(summary)
		}
		fmt.Fprintln(ios.Out, summary)
	}
	if len(runs) == 0 && ios.ErrTTY {
		what := "status " + o.Status
		if o.Type != "" {
			what += ", type " + o.Type
		}
		fmt.Fprintf(ios.ErrOut, "No runs match (%s).\n", what)
	}
	switch {
	case bad > 0:
		return &ExitError{Code: ExitRunFailed, Silent: true}
	case failed > 0:
		// The runs that could not be checked: report the first reason.
		return &ExitError{Code: ExitCode(firstErr), Err: fmt.Errorf("%d of %d runs not checked: %w", failed, len(runs), firstErr)}
	}
	return nil
}

// verdictText is "deterministic", or the mismatch, for one result.
func verdictText(st styles, v *replayVerdict) string {
	switch {
	case v.Error != "":
		return st.warn.Render("not checked: " + v.Error)
	case v.Deterministic:
		return st.ok.Render("deterministic")
	case v.Mismatch == nil:
		return st.bad.Render("mismatch")
	case v.Mismatch.Type == "NonDeterminismError":
		return st.bad.Render("mismatch: " + v.Mismatch.Message)
	default:
		return st.bad.Render("mismatch: " + history.FailureText(v.Mismatch))
	}
}

// replayError maps a replay error: no worker answering is exit 3, with
// what to do about it.
func replayError(err error) error {
	if errors.Is(err, engine.ErrNoWorker) {
		return &ExitError{Code: ExitServer, Err: err}
	}
	return err
}

// readHistoryFile reads a history file ("-" is stdin).
func readHistoryFile(ios *IOStreams, path string) (*history.File, error) {
	var r io.Reader
	if path == "-" {
		r = ios.In
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError("--file: %v", err)
		}
		defer f.Close()
		r = f
	}
	h, err := history.DecodeFile(r)
	if err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	return h, nil
}

// validateStatus checks a --status value.
func validateStatus(s string) error {
	switch engine.Status(s) {
	case engine.StatusRunning, engine.StatusCompleted, engine.StatusFailed, engine.StatusCanceled, engine.StatusTerminated, engine.StatusTimedOut:
		return nil
	}
	return usageError("--status %q: use running, completed, failed, canceled, terminated or timed_out", s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
