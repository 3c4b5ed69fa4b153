package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type exportOptions struct {
	app *App

	filter   runFilter
	Dir      string
	Parallel int
}

func newExportCmd(app *App) *cobra.Command {
	o := &exportOptions{app: app}
	cmd := &cobra.Command{
		Use:   "export [--type T] [--status S] [--started-after TIME] [--started-before TIME] --dir DIR",
		Short: "Write the histories of matching runs to a directory, for replay in CI",
		Long: `Write the history of every matching run (the latest run of each workflow
ID with this type, status and start time; --status defaults to running) to
DIR, one file per run named <encoded workflow id>__<run id>.json: the same
version 2 history file 'dfctl show ID -o json' writes. Commit the directory
and check it in go test with replayer.ReplayDir, or against a worker with
'dfctl replay --dir DIR'.

  dfctl export --type OrderWorkflow --started-after 168h --dir testdata/histories

DIR is created if needed; files of earlier exports are overwritten, not
removed. A workflow ID that is not made of letters, digits, '-' and '_' is
base64url-encoded after '=' (as in subjects), so names are safe on any file
system. Histories are read --parallel at a time; on a terminal a progress
line is shown on stderr. A run whose history holds records that do not
decode is not written (a partial history would give a wrong verdict): it is
named on stderr and the exit code is 6.

The summary is one line ("exported 12 runs to DIR in 0.4s"); -o json prints
{"dir", "exported", "failed", "seconds", "files": [{"file", "workflow_id",
"run_id", "error"}]}, -o jsonl one file object per line.

Exit codes: 0 every matching run was written; 2 bad flags or DIR cannot be
written; 3 the server failed; 6 a history holds records that do not decode.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, o)
		},
	}
	f := cmd.Flags()
	o.filter.addFlags(f, "export")
	f.StringVar(&o.Dir, "dir", "", "write the history files to `DIR` (created if needed)")
	f.IntVar(&o.Parallel, "parallel", defaultParallel, "histories read at a time")
	return cmd
}

// exportedFile is one run's export, as -o json prints it.
type exportedFile struct {
	File       string `json:"file,omitempty"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Error      string `json:"error,omitempty"`

	err error
}

type exportSummary struct {
	Dir      string         `json:"dir"`
	Exported int            `json:"exported"`
	Failed   int            `json:"failed"`
	Seconds  float64        `json:"seconds"`
	Files    []exportedFile `json:"files"`
}

func runExport(cmd *cobra.Command, o *exportOptions) error {
	if o.Dir == "" {
		return usageError("--dir is required: the directory to write the history files to")
	}
	if o.Parallel < 1 {
		return usageError("--parallel must be 1 or more")
	}
	ios := o.app.IO
	lf, err := o.filter.listFilter(ios.now())
	if err != nil {
		return err
	}
	if err := checkWritableDir(o.Dir); err != nil {
		return err
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	ctx, cancel := o.app.requestContext(cmd)
	runs, err := c.ListWorkflows(ctx, lf)
	cancel()
	if err != nil {
		return err
	}
	files := make([]exportedFile, len(runs))
	prog := newProgress(ios, "exporting", len(runs))
	var failed int
	forEach(cmd.Context(), len(runs), o.Parallel, func(ctx context.Context, i int) {
		files[i] = exportRun(ctx, o, c, &runs[i])
	}, func(i int) {
		note := ""
		if files[i].err != nil {
			failed++
			note = fmt.Sprintf("%d failed", failed)
		}
		prog.step(note)
	})
	prog.clear()
	if err := cmd.Context().Err(); err != nil {
		return err
	}
	sum := exportSummary{Dir: o.Dir, Exported: len(runs) - failed, Failed: failed, Seconds: time.Since(start).Seconds(), Files: files}
	var firstErr error
	for i := range files {
		if files[i].err != nil && firstErr == nil {
			firstErr = files[i].err
		}
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, sum)
	case outJSONL:
		for i := range files {
			if err = writeJSONL(ios.Out, &files[i]); err != nil {
				break
			}
		}
	default:
		for i := range files {
			if f := &files[i]; f.err != nil {
				fmt.Fprintf(ios.ErrOut, "%s %s\t%s\t%s\n", ios.ErrStyles().bad.Render("not exported:"), f.WorkflowID, f.RunID, f.Error)
			}
		}
		line := fmt.Sprintf("exported %s to %s in %.1fs", describeCount(sum.Exported, "run", "runs"), o.Dir, sum.Seconds)
		if failed > 0 {
			line += fmt.Sprintf(", %d failed", failed)
		}
		fmt.Fprintln(ios.Out, line)
		if len(runs) == 0 && ios.ErrTTY {
			fmt.Fprintf(ios.ErrOut, "No runs match (%s).\n", o.filter.describe())
		}
	}
	if err != nil {
		return err
	}
	if firstErr != nil {
		return &ExitError{Code: ExitCode(firstErr), Err: fmt.Errorf("%d of %d runs not exported: %w", failed, len(runs), firstErr)}
	}
	return nil
}

// exportRun writes one run's history file: to a temporary name first, so a
// failed or interrupted export never leaves a truncated history behind.
func exportRun(ctx context.Context, o *exportOptions, c *client.Client, ri *engine.RunInfo) exportedFile {
	out := exportedFile{WorkflowID: ri.WorkflowID, RunID: ri.RunID}
	fail := func(err error) exportedFile {
		out.err, out.Error = err, err.Error()
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, o.app.Timeout)
	defer cancel()
	f, bad, err := runHistoryFile(ctx, c, ri.WorkflowID, ri.RunID)
	if err != nil {
		return fail(err)
	}
	if err := badRecordsError(ri.WorkflowID, ri.RunID, bad); err != nil {
		return fail(err)
	}
	name, err := exportFileName(ri.WorkflowID, ri.RunID)
	if err != nil {
		return fail(err)
	}
	path := filepath.Join(o.Dir, name)
	if err := writeFileAtomic(path, f); err != nil {
		return fail(&ExitError{Code: ExitUsage, Err: err})
	}
	out.File = path
	return out
}

// maxFileName is the longest file name most file systems take (bytes).
const maxFileName = 255

// exportFileName is <encoded workflow id>__<run id>.json. The ID is encoded
// as in subjects (history.EncodeID: letters, digits, '-', '_', '='), which
// every file system takes; the run ID keeps names apart where case is
// ignored. An ID too long for a file name is cut and given a hash of the
// whole (the file itself holds the ID).
func exportFileName(workflowID, runID string) (string, error) {
	tok, err := history.EncodeID(workflowID)
	if err != nil {
		return "", err
	}
	const suffix = ".json"
	if room := maxFileName - len("__"+runID+suffix); len(tok) > room {
		sum := sha256.Sum256([]byte(workflowID))
		h := "~" + hex.EncodeToString(sum[:8])
		tok = tok[:room-len(h)] + h
	}
	return tok + "__" + runID + suffix, nil
}

func writeFileAtomic(path string, f *history.File) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dfctl-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: a no-op
	w := bufio.NewWriter(tmp)
	err = f.Encode(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}

// checkWritableDir creates dir if needed and proves a file can be written
// there, before any history is read.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageError("--dir: cannot create %s: %v", dir, unwrapPathError(err))
	}
	probe, err := os.CreateTemp(dir, ".dfctl-export-*")
	if err != nil {
		return usageError("--dir: cannot write to %s: %v", dir, unwrapPathError(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
