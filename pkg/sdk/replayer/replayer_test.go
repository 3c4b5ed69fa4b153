package replayer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func Hello(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil }
func Bye(ctx context.Context, name string) (string, error)   { return "Bye, " + name, nil }

func greet(act any) func(workflow.Context, string) (string, error) {
	return func(ctx workflow.Context, name string) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Second})
		var out string
		err := workflow.ExecuteActivity(ctx, act, name).Get(ctx, &out)
		return out, err
	}
}

// Stable and Changed (v1 says Hello; v2 of Changed says Bye: incompatible).
var (
	stable    = greet(Hello)
	changedV1 = greet(Hello)
	changedV2 = greet(Bye)
)

// writeHistory runs a workflow to completion and writes its history file
// (as dfctl show -o json and dfctl export do) into dir.
func writeHistory(t *testing.T, c *client.Client, dir, typ, id string) string {
	t.Helper()
	ctx := testsrv.Context(t, 20*time.Second)
	run, err := c.StartJSON(ctx, client.StartOptions{ID: id}, typ, json.RawMessage(`["Ann"]`))
	testsrv.Must(t, err)
	testsrv.Must(t, run.Get(ctx, nil))
	recs, bad, err := c.Store().HistoryTolerant(ctx, id, run.RunID())
	testsrv.Must(t, err)
	if len(bad) > 0 {
		t.Fatalf("bad records: %v", bad)
	}
	path := filepath.Join(dir, id+".json")
	f, err := os.Create(path)
	testsrv.Must(t, err)
	defer f.Close()
	testsrv.Must(t, history.NewFile(recs).Encode(f))
	return path
}

func TestReplayDir(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflowWithOptions(stable, worker.RegisterOptions{Name: "Stable"}))
		testsrv.Must(t, w.RegisterWorkflowWithOptions(changedV1, worker.RegisterOptions{Name: "Changed"}))
		testsrv.Must(t, w.RegisterActivity(Hello))
	})
	dir := t.TempDir()
	writeHistory(t, c, dir, "Stable", "a-stable")
	changed := writeHistory(t, c, dir, "Changed", "b-changed")
	testsrv.Must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a history"), 0o644))

	// The code of the next deploy.
	r := replayer.New()
	testsrv.Must(t, r.RegisterWorkflowWithOptions(stable, worker.RegisterOptions{Name: "Stable"}))
	testsrv.Must(t, r.RegisterWorkflowWithOptions(changedV2, worker.RegisterOptions{Name: "Changed"}))
	res, err := r.ReplayDir(dir)
	if len(res) != 2 {
		t.Fatalf("ReplayDir: %d results, want 2 (the *.json files)", len(res))
	}
	if res[0].Err != nil || res[0].WorkflowID != "a-stable" || res[0].Type != "Stable" || res[0].RunID == "" {
		t.Fatalf("compatible history: %+v", res[0])
	}
	var nde *failure.NonDeterminismError
	if res[1].Path != changed || !errors.As(res[1].Err, &nde) || nde.Code != failure.CodeCommandMismatch {
		t.Fatalf("incompatible history: %+v", res[1])
	}
	if err == nil || !errors.As(err, &nde) || !strings.Contains(err.Error(), changed) || strings.Contains(err.Error(), "a-stable") {
		t.Fatalf("ReplayDir error: %v", err)
	}
	// The same verdict as ReplayFile.
	if ferr := r.ReplayFile(changed); ferr == nil || ferr.Error() != res[1].Err.Error() {
		t.Fatalf("ReplayFile: %v; ReplayDir: %v", ferr, res[1].Err)
	}

	// Compatible code: nil. A version 1 file: ErrVersion1File, as ReplayFile.
	ok := replayer.New()
	testsrv.Must(t, ok.RegisterWorkflowWithOptions(stable, worker.RegisterOptions{Name: "Stable"}))
	testsrv.Must(t, ok.RegisterWorkflowWithOptions(changedV1, worker.RegisterOptions{Name: "Changed"}))
	if res, err := ok.ReplayDir(dir); err != nil || len(res) != 2 {
		t.Fatalf("compatible code: %d results, %v", len(res), err)
	}
	data, err := os.ReadFile(changed)
	testsrv.Must(t, err)
	h, err := history.DecodeFile(strings.NewReader(string(data)))
	testsrv.Must(t, err)
	v1, err := os.Create(filepath.Join(dir, "c-v1.json"))
	testsrv.Must(t, err)
	testsrv.Must(t, (&history.File{Version: 1, WorkflowID: h.WorkflowID, RunID: h.RunID, Type: h.Type, TaskQueue: h.TaskQueue, Events: h.Events}).Encode(v1))
	testsrv.Must(t, v1.Close())
	res, err = ok.ReplayDir(dir)
	if len(res) != 3 || !errors.Is(err, replayer.ErrVersion1File) || !errors.Is(res[2].Err, replayer.ErrVersion1File) || res[0].Err != nil {
		t.Fatalf("version 1 file: %+v, %v", res, err)
	}

	// A directory with no history files checks nothing: an error.
	if _, err := ok.ReplayDir(t.TempDir()); err == nil {
		t.Fatal("ReplayDir of an empty directory: nil")
	}
	if _, err := ok.ReplayDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("ReplayDir of a missing directory: nil")
	}
}
