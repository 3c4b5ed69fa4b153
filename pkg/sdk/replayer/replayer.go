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
package replayer

import (
	"errors"
	"fmt"
	"os"

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
	reg *engine.Registry
}

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
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := history.DecodeFile(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := r.ReplayHistory(h); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReplayHistory replays a decoded history file (see ErrVersion1File for a
// version 1 file).
func (r *Replayer) ReplayHistory(h *history.File) error {
	if err := engine.ReplayRecords(r.reg, engine.FileRecords(h)); err != nil {
		return err
	}
	if h.Version < 2 {
		return ErrVersion1File
	}
	return nil
}
