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
package replayer

import (
	"fmt"
	"os"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

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

// ReplayHistory replays a decoded history file.
func (r *Replayer) ReplayHistory(h *history.File) error {
	return engine.ReplayEvents(r.reg, h.Events)
}
