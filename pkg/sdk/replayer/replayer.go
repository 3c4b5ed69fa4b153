// Package replayer checks, in go test, that workflow code still replays
// recorded histories: the CI gate before a deploy. Export a run's history
// with `dfctl show ID -o json > testdata/run.json`, then:
//
//	func TestReplay(t *testing.T) {
//		r := replayer.New()
//		r.RegisterWorkflow(OrderWorkflow)
//		if err := r.ReplayFile("testdata/run.json"); err != nil {
//			t.Fatal(err) // a *failure.NonDeterminismError names the event
//		}
//	}
//
// Activities are not run: their recorded results are used.
//
// The replayer judges with the code a worker runs when it loads a run, over
// the records a version 2 file keeps as stored, so its verdict is the live
// verdict. A version 1 file (a flat event list) is still read, but its
// decision boundaries are guessed and a change at a point where the run
// waited may be missed: when such a file replays, the replayer returns
// ErrVersion1File instead of nil (re-export the history with `dfctl show
// -o json`).
//
// To check many runs, export their histories to a directory with `dfctl
// export --type OrderWorkflow --dir testdata/histories` and replay them all:
//
//	results, err := r.ReplayDir("testdata/histories")
//	if err != nil {
//		t.Fatal(err) // every failure, one per line, each naming its file
//	}
//	t.Logf("%d histories replay", len(results))
package replayer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// ErrVersion1File is returned (wrapped) when a version 1 history file
// replays: its verdict is not sound (history.Version1Warning). A mismatch
// found in a version 1 file is real and returned as such.
var ErrVersion1File = errors.New(history.Version1Warning)

// Replayer replays histories against registered workflow code.
type Replayer struct {
	reg      *engine.Registry
	lenient  []string
	deadlock time.Duration
}

// SetDeadlockTimeout sets how long workflow code may run without yielding
// before the replay calls it a deadlock (DF1006), as
// worker.Options.DeadlockTimeout does on a live worker (default 1s;
// negative: never). A CI machine under load may want more.
func (r *Replayer) SetDeadlockTimeout(d time.Duration) { r.deadlock = d }

// SetLenientInputs names activities and workflows whose changed inputs
// replay as compatible, as worker.Options.LenientInputs does on a live
// worker (workflow.GetVersion is the better way to change an argument).
func (r *Replayer) SetLenientInputs(names ...string) { r.lenient = names }

// New returns a replayer with no workflows.
func New() *Replayer { return &Replayer{reg: engine.NewRegistry()} }

// RegisterWorkflow registers a workflow under its short name.
func (r *Replayer) RegisterWorkflow(fn any) error { return r.reg.RegisterWorkflow(fn, "") }

// RegisterWorkflowWithOptions registers a workflow under o.Name.
func (r *Replayer) RegisterWorkflowWithOptions(fn any, o worker.RegisterOptions) error {
	return r.reg.RegisterWorkflow(fn, o.Name)
}

// ReplayFile replays a history file written by `dfctl show ID -o json`.
// It returns nil when the code replays the history, else an error; a
// *failure.NonDeterminismError names the event seq, what the history
// records and what the code produced instead.
func (r *Replayer) ReplayFile(path string) error {
	return r.replayFile(path).Err
}

// replayFile is ReplayFile, with the file's run named in the result.
func (r *Replayer) replayFile(path string) FileResult {
	res := FileResult{Path: path}
	f, err := os.Open(path)
	if err != nil {
		res.Err = err
		return res
	}
	defer f.Close()
	h, err := history.DecodeFile(f)
	if err != nil {
		res.Err = fmt.Errorf("%s: %w", path, err)
		return res
	}
	res.WorkflowID, res.RunID, res.Type = h.WorkflowID, h.RunID, h.Type
	if err := r.ReplayHistory(h); err != nil {
		res.Err = fmt.Errorf("%s: %w", path, err)
	}
	return res
}

// ReplayHistory replays a decoded history file (see ErrVersion1File for a
// version 1 file).
func (r *Replayer) ReplayHistory(h *history.File) error {
	if err := engine.ReplayRecordsDeadlock(r.reg, engine.FileRecords(h), r.deadlock, r.lenient...); err != nil {
		return err
	}
	if h.Version < 2 {
		return ErrVersion1File
	}
	return nil
}

// FileResult is the verdict on one history file of a directory.
type FileResult struct {
	// Path is the file, as ReplayDir found it under dir.
	Path string
	// WorkflowID, RunID and Type are the file's run ("" when the file
	// could not be read).
	WorkflowID, RunID, Type string
	// Err is nil when the code replays the history, else what ReplayFile
	// returns for the file (ErrVersion1File for a version 1 file that
	// replays).
	Err error
}

// ReplayDir replays every *.json history file directly in dir (as written
// by `dfctl export --dir`), in name order, each as ReplayFile does. It
// returns a result per file and the failures joined (errors.Join), so one
// call checks a whole directory:
//
//	if _, err := r.ReplayDir("testdata/histories"); err != nil {
//		t.Fatal(err)
//	}
//
// A directory without history files is an error: a gate that checks
// nothing must not pass.
func (r *Replayer) ReplayDir(dir string) ([]FileResult, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: no *.json history files (write them with dfctl export --dir)", dir)
	}
	out := make([]FileResult, 0, len(paths))
	var errs []error
	for _, p := range paths {
		res := r.replayFile(p)
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
