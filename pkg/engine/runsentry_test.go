package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go"
)

// A client's start record names the runs entry it wrote (revision and
// start task), and what a worker builds from that name is byte for byte
// the stored entry. The worker closes the run from it without reading the
// entry; when the entry changed meanwhile (here a blocked mark), the
// close's compare-and-set fails, the entry is read, and the close is right
// either way.
func TestStartRecordNamesRunsEntry(t *testing.T) {
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv) // starts the runs; the worker's too
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := c.Store()
	kv, err := s.JS.KeyValue(ctx, "df_runs")
	testsrv.Must(t, err)

	ids := map[bool]string{false: "entry-named", true: "entry-named-then-blocked"}
	for _, blocked := range []bool{false, true} {
		id := ids[blocked]
		// Started before any worker runs: the worker builds the run from
		// the client's start record (a worker that overtakes its client
		// writes the start itself, and reads the entry at the close).
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, id)
		testsrv.Must(t, err)
		subj, err := s.Log.Subject(id, run.RunID())
		testsrv.Must(t, err)
		rec, hdr, err := s.Log.LastWithHeader(ctx, subj)
		testsrv.Must(t, err)
		if len(rec.Events) != 1 || rec.Events[0].Type != history.WorkflowStarted {
			t.Fatalf("start record: %+v", rec)
		}
		key, _ := history.EncodeID(id)
		e, err := kv.Get(ctx, key)
		testsrv.Must(t, err)
		value, rev := s.RunsEntryHint(hdr, &rec.Events[0])
		if rev != e.Revision() || string(value) != string(e.Value()) {
			t.Fatalf("the start record names %s at %d (header %q); the entry is %s at %d", value, rev, hdr.Get("Df-Runs-Entry"), e.Value(), e.Revision())
		}
		if blocked {
			testsrv.Must(t, s.SetBlockedForTest(ctx, id, run.RunID(), "test: blocked for a moment"))
		}
	}

	// The reads of runs entries made on the connection the worker uses
	// (a direct get answered on its reply subjects), by key. The tap's
	// own read of the key "tap-marker", made once both runs are closed,
	// comes after every read made before their closes.
	inbox := s.NC.NewRespInbox()
	prefix := inbox[:strings.LastIndexByte(inbox, '.')+1]
	const marker = "tap-marker"
	var mu sync.Mutex
	reads := map[string]int{}
	marked := make(chan struct{})
	tap, err := srv.Connect()
	testsrv.Must(t, err)
	t.Cleanup(tap.Close)
	_, err = tap.Subscribe("$JS.API.DIRECT.GET.KV_df_runs.>", func(m *nats.Msg) {
		key := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		switch {
		case key == marker:
			close(marked)
		case strings.HasPrefix(m.Reply, prefix):
			mu.Lock()
			reads[key]++
			mu.Unlock()
		}
	})
	testsrv.Must(t, err)
	testsrv.Must(t, tap.Flush())

	startWorker(t, c)
	for _, blocked := range []bool{false, true} {
		id := ids[blocked]
		ri := closedEntry(t, ctx, c, id)
		if ri.Status != engine.StatusCompleted || string(ri.Result) != `"echo `+id+`"` || ri.Blocked != "" || ri.StartTask == 0 {
			t.Fatalf("%s: closed entry %+v", id, ri)
		}
	}
	_, _ = tap.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_df_runs.$KV.df_runs."+marker, nil)
	select {
	case <-marked:
	case <-ctx.Done():
		t.Fatal("the tap never saw its own read")
	}
	for _, blocked := range []bool{false, true} {
		id := ids[blocked]
		key, _ := history.EncodeID(id)
		mu.Lock()
		n := reads[key]
		mu.Unlock()
		if !blocked && n != 0 {
			t.Errorf("%s: the worker read the runs entry %d times; the start record named it", id, n)
		}
		if blocked && n == 0 {
			t.Errorf("%s: the entry changed after the start, and the close never read it", id)
		}
	}
}
