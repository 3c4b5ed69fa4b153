package replay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// TestUpdateHistories runs every example scenario on an embedded server and
// writes its history to testdata/<scenario>.json, as `dfctl show ID -o
// json` would. It runs only with DF_UPDATE_HISTORIES=1.
func TestUpdateHistories(t *testing.T) {
	if os.Getenv("DF_UPDATE_HISTORIES") != "1" {
		t.Skip("set DF_UPDATE_HISTORIES=1 to regenerate testdata")
	}
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{ActivityTaskTimeout: 3 * time.Second}, func(w *worker.Worker) {
		for _, sc := range scenarios.All() {
			testsrv.Must(t, sc.RegisterWorkflows(w))
			testsrv.Must(t, sc.RegisterActivities(w))
		}
	})
	ctx := testsrv.Context(t, 2*time.Minute)
	for _, sc := range scenarios.All() {
		id := "replay-" + sc.Name
		run, err := sc.Start(ctx, c, client.StartOptions{ID: id})
		if err != nil {
			t.Fatalf("start %s: %v", sc.Name, err)
		}
		_ = run.Get(ctx, nil) // the saga ends canceled on purpose
		ri, err := c.Describe(ctx, id, run.RunID())
		testsrv.Must(t, err)
		if !sc.Expected(string(ri.Status)) {
			t.Fatalf("%s ended %s", sc.Name, ri.Status)
		}
		recs, _, err := c.Store().HistoryTolerant(ctx, id, run.RunID())
		testsrv.Must(t, err)
		evs := history.Flatten(recs)
		var b bytes.Buffer
		testsrv.Must(t, history.NewFile(recs).Encode(&b))
		path := filepath.Join("testdata", sc.Name+".json")
		testsrv.Must(t, os.WriteFile(path, b.Bytes(), 0o644))
		t.Logf("%s: %d events", path, len(evs))
	}
}
