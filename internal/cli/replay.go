package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

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
	Dir       string
	TaskQueue string
	filter    runFilter
	Parallel  int
}

func newReplayCmd(app *App) *cobra.Command {
	o := &replayOptions{app: app}
	cmd := &cobra.Command{
		Use:   "replay (ID [--run R] | --file FILE | --dir DIR | --type T [--status S] [--started-after TIME])",
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
  dfctl replay --dir DIR [-q Q]           every *.json history file in DIR
                                          (as 'dfctl export' writes them),
                                          each sent as --file sends it; a
                                          line per failure and a summary
  dfctl replay --type T [--status S]      every matching run (the latest run
  dfctl replay --status S                 of each workflow ID; --status
  dfctl replay --started-after 24h        defaults to running; start times
                                          are RFC 3339 or a duration ago),
                                          a verdict per run and a summary

The worker is one of the run's task queue (request/reply over NATS): start
one with the new code first. Each check waits up to --timeout; --dir and
the matching runs are checked --parallel at a time, with a progress line on
stderr when it is a terminal. The summary reads "replayed 120 histories:
118 compatible, 2 incompatible (DF1001 x1, DF1004 x1)" (", N not checked"
when some could not be checked).

-o json prints the replay result objects (workflow_id, run_id, deterministic,
mismatch {message, type}, worker; "file" for a file; "error" when a run
could not be checked; "warning" for a version 1 file): one object for a run
or a file, an array for --type/--status, and for --dir {"results": [...],
"summary": {histories, compatible, incompatible, not_checked, codes
{"DF1001": n}, seconds}}; -o jsonl one result object per line.

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
	f.StringVar(&o.Dir, "dir", "", "replay every *.json history file in `DIR` (written by 'dfctl export')")
	f.StringVarP(&o.TaskQueue, "task-queue", "q", "", "with --file or --dir: the task queue whose worker replays them (default: each file's)")
	o.filter.addFlags(f, "replay")
	f.IntVar(&o.Parallel, "parallel", defaultParallel, "with --dir or the matching runs: checks in flight at a time")
	return cmd
}

// replayVerdict is one replay result as printed: the engine's result, or
// the error that kept the run from being checked.
type replayVerdict struct {
	engine.ReplayResult
	Error string `json:"error,omitempty"`
	// Warning is the limit of a version 1 history file.
	Warning string `json:"warning,omitempty"`
	// File is the history file checked (--file, --dir).
	File string `json:"file,omitempty"`

	err error
}

func runReplay(cmd *cobra.Command, o *replayOptions) error {
	many := o.filter.set()
	modes := 0
	for _, given := range []bool{o.ID != "", o.File != "", o.Dir != "", many} {
		if given {
			modes++
		}
	}
	switch {
	case modes == 0:
		return usageError("give a workflow ID, --file FILE, --dir DIR or --type/--status/--started-after")
	case modes > 1:
		return usageError("give one of a workflow ID, --file, --dir or --type/--status/--started-*, not several")
	case o.RunID != "" && o.ID == "":
		return usageError("--run needs a workflow ID")
	case o.TaskQueue != "" && o.File == "" && o.Dir == "":
		return usageError("--task-queue is for --file and --dir: a run is replayed by a worker of its own task queue")
	case o.Parallel < 1:
		return usageError("--parallel must be 1 or more")
	}
	if o.ID != "" {
		if err := validateID(o.ID); err != nil {
			return err
		}
	}
	if o.TaskQueue != "" {
		if err := engine.ValidateTaskQueue(o.TaskQueue); err != nil {
			return usageError("--task-queue: %v", err)
		}
	}
	var lf engine.ListFilter
	if many {
		var err error
		if lf, err = o.filter.listFilter(o.app.IO.now()); err != nil {
			return err
		}
	}
	var paths []string
	if o.Dir != "" {
		var err error
		if paths, err = historyFilesIn(o.Dir); err != nil {
			return err
		}
	}
	var file *history.File
	var queue string
	if o.File != "" {
		var err error
		if file, queue, err = loadReplayFile(o.app.IO, o.File, o.TaskQueue); err != nil {
			return err
		}
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	switch {
	case many:
		return replayMany(cmd, o, c, lf)
	case o.Dir != "":
		return replayDir(cmd, o, c, paths)
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	var v replayVerdict
	if file != nil {
		v, err = replayFileVerdict(ctx, c, queue, file)
		v.File = o.File
	} else {
		var res *engine.ReplayResult
		if res, err = c.Store().ReplayRun(ctx, o.ID, o.RunID); err == nil {
			v = replayVerdict{ReplayResult: *res}
		}
	}
	if err != nil {
		return replayError(err)
	}
	ios := o.app.IO
	if v.Warning != "" {
		fmt.Fprintln(ios.ErrOut, ios.ErrStyles().warn.Render("warning: "+v.Warning))
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, v)
	case outJSONL:
		err = writeJSONL(ios.Out, v)
	default:
		st := ios.OutStyles()
		fmt.Fprintln(ios.Out, verdictText(st, &v))
		if ios.ErrTTY && v.Worker != "" {
			fmt.Fprintln(ios.ErrOut, ios.ErrStyles().faint.Render("replayed by worker "+v.Worker))
		}
	}
	if err != nil {
		return err
	}
	if !v.Deterministic {
		return &ExitError{Code: ExitRunFailed, Silent: true}
	}
	return nil
}

// loadReplayFile reads a history file and names the task queue whose
// worker replays it: queue, or else the file's.
func loadReplayFile(ios *IOStreams, path, queue string) (*history.File, string, error) {
	file, err := readHistoryFile(ios, path)
	if err != nil {
		return nil, "", err
	}
	if queue == "" {
		queue = file.TaskQueue
	}
	if queue == "" {
		return nil, "", usageError("%s names no task queue: pass --task-queue", path)
	}
	if err := engine.ValidateTaskQueue(queue); err != nil {
		return nil, "", usageError("%s: task queue: %v", path, err)
	}
	return file, queue, nil
}

// replayFileVerdict asks a worker of queue to replay a history file: the
// one path of --file and --dir.
func replayFileVerdict(ctx context.Context, c *client.Client, queue string, f *history.File) (replayVerdict, error) {
	res, err := c.Store().ReplayFile(ctx, queue, f)
	if err != nil {
		return replayVerdict{}, replayError(err)
	}
	return replayVerdict{ReplayResult: *res, Warning: f.Warning()}, nil
}

// historyFilesIn lists the *.json files directly in dir, in name order.
func historyFilesIn(dir string) ([]string, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, usageError("--dir: %v", err)
	} else if !st.IsDir() {
		return nil, usageError("--dir: %s is not a directory", dir)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, usageError("--dir: %v", err)
	}
	if len(paths) == 0 {
		// A gate that checks nothing must not pass.
		return nil, usageError("--dir: no *.json history files in %s (write them with dfctl export --dir)", dir)
	}
	return paths, nil
}

// replayTally counts verdicts for the summary and the exit code.
type replayTally struct {
	Histories    int            `json:"histories"`
	Compatible   int            `json:"compatible"`
	Incompatible int            `json:"incompatible"`
	NotChecked   int            `json:"not_checked"`
	Codes        map[string]int `json:"codes,omitempty"`
	Seconds      float64        `json:"seconds"`

	firstErr error
}

func (t *replayTally) add(v *replayVerdict) {
	t.Histories++
	switch {
	case v.err != nil:
		t.NotChecked++
		if t.firstErr == nil {
			t.firstErr = v.err
		}
	case v.Deterministic:
		t.Compatible++
	default:
		t.Incompatible++
		if t.Codes == nil {
			t.Codes = map[string]int{}
		}
		t.Codes[mismatchCode(v.Mismatch)]++
	}
}

// note is the progress line's addition.
func (t *replayTally) note() string {
	var parts []string
	if t.Incompatible > 0 {
		parts = append(parts, fmt.Sprintf("%d incompatible", t.Incompatible))
	}
	if t.NotChecked > 0 {
		parts = append(parts, fmt.Sprintf("%d not checked", t.NotChecked))
	}
	return strings.Join(parts, ", ")
}

// text is the one-line summary: "replayed 120 histories: 118 compatible,
// 2 incompatible (DF1001 x1, DF1004 x1)".
func (t *replayTally) text(one, many string) string {
	s := fmt.Sprintf("replayed %s: %d compatible, %d incompatible", describeCount(t.Histories, one, many), t.Compatible, t.Incompatible)
	if len(t.Codes) > 0 {
		codes := slices.Sorted(maps.Keys(t.Codes))
		for i, c := range codes {
			codes[i] = fmt.Sprintf("%s x%d", c, t.Codes[c])
		}
		s += " (" + strings.Join(codes, ", ") + ")"
	}
	if t.NotChecked > 0 {
		s += fmt.Sprintf(", %d not checked", t.NotChecked)
	}
	return s
}

// exitError is the verdict of many checks: 1 when one is incompatible, the
// first failure's code when one could not be checked.
func (t *replayTally) exitError(what string) error {
	switch {
	case t.Incompatible > 0:
		return &ExitError{Code: ExitRunFailed, Silent: true}
	case t.NotChecked > 0:
		return &ExitError{Code: ExitCode(t.firstErr), Err: fmt.Errorf("%d of %d %s not checked: %w", t.NotChecked, t.Histories, what, t.firstErr)}
	}
	return nil
}

var codeRE = regexp.MustCompile(`^DF[0-9]{4}\b`)

// mismatchCode is a mismatch's stable code (DF1001...) or, without one,
// its type (UnknownWorkflowType).
func mismatchCode(f *history.Failure) string {
	switch {
	case f == nil:
		return "mismatch"
	case codeRE.MatchString(f.Message):
		return f.Message[:6]
	case f.Type != "":
		return f.Type
	}
	return "mismatch"
}

// checkAll runs check for n histories, --parallel at a time, with the
// progress line, and returns the verdicts in input order. jsonl verdicts
// are written as they come.
func checkAll(cmd *cobra.Command, o *replayOptions, n int, check func(ctx context.Context, i int) replayVerdict) ([]replayVerdict, *replayTally, error) {
	ios := o.app.IO
	start := time.Now()
	verdicts := make([]replayVerdict, n)
	tally := &replayTally{}
	prog := newProgress(ios, "replaying", n)
	var werr error
	forEach(cmd.Context(), n, o.Parallel, func(ctx context.Context, i int) {
		ctx, cancel := context.WithTimeout(ctx, o.app.Timeout)
		defer cancel()
		verdicts[i] = check(ctx, i)
	}, func(i int) {
		tally.add(&verdicts[i])
		if o.app.Output == outJSONL && werr == nil {
			prog.clear()
			werr = writeJSONL(ios.Out, verdicts[i])
		}
		prog.step(tally.note())
	})
	prog.clear()
	tally.Seconds = time.Since(start).Seconds()
	if err := cmd.Context().Err(); err != nil {
		return nil, nil, err
	}
	return verdicts, tally, werr
}

// checked is the verdict of one check, or the error that kept it from
// being made.
func checked(v replayVerdict, err error) replayVerdict {
	if err != nil {
		v.err = err
		v.Error = err.Error()
	}
	return v
}

// replayDir sends every history file of --dir to a worker, as --file does.
func replayDir(cmd *cobra.Command, o *replayOptions, c *client.Client, paths []string) error {
	ios := o.app.IO
	var v1 atomic.Int32
	verdicts, tally, err := checkAll(cmd, o, len(paths), func(ctx context.Context, i int) replayVerdict {
		file, queue, err := loadReplayFile(ios, paths[i], o.TaskQueue)
		if err != nil {
			return checked(replayVerdict{File: paths[i]}, err)
		}
		v, err := replayFileVerdict(ctx, c, queue, file)
		v.File = paths[i]
		if err != nil {
			v.WorkflowID, v.RunID = file.WorkflowID, file.RunID
		}
		if v.Warning != "" {
			v1.Add(1)
		}
		return checked(v, err)
	})
	if err != nil {
		return err
	}
	if n := v1.Load(); n > 0 {
		fmt.Fprintln(ios.ErrOut, ios.ErrStyles().warn.Render(fmt.Sprintf("warning: %d %s: %s", n, plural(int(n), "file is version 1", "files are version 1"), history.Version1Warning)))
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, struct {
			Results []replayVerdict `json:"results"`
			Summary *replayTally    `json:"summary"`
		}{verdicts, tally})
	case outText:
		st := ios.OutStyles()
		for i := range verdicts {
			if v := &verdicts[i]; v.err != nil || !v.Deterministic {
				printVerdictLine(ios, st, v.File, v.RunID, v)
			}
		}
		fmt.Fprintln(ios.Out, summaryText(st, tally, "history", "histories"))
	}
	if err != nil {
		return err
	}
	return tally.exitError("histories")
}

// replayMany replays every matching run.
func replayMany(cmd *cobra.Command, o *replayOptions, c *client.Client, lf engine.ListFilter) error {
	ctx, cancel := o.app.requestContext(cmd)
	runs, err := c.ListWorkflows(ctx, lf)
	cancel()
	if err != nil {
		return err
	}
	ios := o.app.IO
	verdicts, tally, err := checkAll(cmd, o, len(runs), func(ctx context.Context, i int) replayVerdict {
		ri := &runs[i]
		res, err := c.Store().ReplayRun(ctx, ri.WorkflowID, ri.RunID)
		if err != nil {
			return checked(replayVerdict{ReplayResult: engine.ReplayResult{WorkflowID: ri.WorkflowID, RunID: ri.RunID}}, replayError(err))
		}
		return replayVerdict{ReplayResult: *res}
	})
	if err != nil {
		return err
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, verdicts)
	case outText:
		st := ios.OutStyles()
		for i := range verdicts {
			printVerdictLine(ios, st, verdicts[i].WorkflowID, verdicts[i].RunID, &verdicts[i])
		}
		fmt.Fprintln(ios.Out, summaryText(st, tally, "run", "runs"))
	}
	if err != nil {
		return err
	}
	if len(runs) == 0 && ios.ErrTTY {
		fmt.Fprintf(ios.ErrOut, "No runs match (%s).\n", o.filter.describe())
	}
	return tally.exitError("runs")
}

// printVerdictLine prints one history's verdict: what (an ID or a file),
// the run, the verdict.
func printVerdictLine(ios *IOStreams, st styles, what, runID string, v *replayVerdict) {
	if ios.OutTTY {
		fmt.Fprintf(ios.Out, "%s  %s  %s\n", st.bold.Render(what), st.faint.Render(runID), verdictText(st, v))
	} else {
		fmt.Fprintf(ios.Out, "%s\t%s\t%s\n", what, runID, verdictText(st, v))
	}
}

// summaryText is the tally's line, coloured by its verdict.
func summaryText(st styles, t *replayTally, one, many string) string {
	line := t.text(one, many)
	switch {
	case t.Incompatible > 0 || t.NotChecked > 0:
		return st.bad.Render(line)
	case t.Histories > 0:
		return st.ok.Render(line)
	}
	return line
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

// describeCount is "1 run" or "3 runs".
func describeCount(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}
