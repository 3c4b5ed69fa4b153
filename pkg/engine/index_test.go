package engine_test

// The visibility index (issue 10): one entry per workflow ID whatever the
// transitions, repaired when a write is lost, counted and paged by the
// server, filled from the runs bucket on upgrade; closed runs deleted.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// IdxWait sleeps (its first decision writes a record, which clears a
// blocked mark) and returns the first "go" signal.
func IdxWait(ctx workflow.Context) (string, error) {
	if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
		return "", err
	}
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return v, nil
}

// indexSubjects returns the subjects of every index entry of a workflow ID.
func indexSubjects(t *testing.T, ctx context.Context, s *engine.Store, id string) []string {
	t.Helper()
	key, err := history.EncodeID(id)
	testsrv.Must(t, err)
	it, err := jetstreamext.GetBatch(ctx, s.JS, s.IndexStream(), 100, jetstreamext.GetBatchSubject("df.idx.*.*.*.*."+key))
	testsrv.Must(t, err)
	var subjects []string
	for msg, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		testsrv.Must(t, err)
		subjects = append(subjects, msg.Subject)
	}
	return subjects
}

// waitIndexed waits until the workflow's only index entry has the subject
// of status and flag (ok or blocked).
func waitIndexed(t *testing.T, ctx context.Context, s *engine.Store, id, status, flag string) {
	t.Helper()
	want := fmt.Sprintf("df.idx.%s.%s.", status, flag)
	var got []string
	for ctx.Err() == nil {
		if got = indexSubjects(t, ctx, s, id); len(got) == 1 && strings.HasPrefix(got[0], want) {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling the index: no event says it changed
	}
	t.Fatalf("%s: index entries %v, want one %s*", id, got, want)
}

func countRuns(t *testing.T, ctx context.Context, c *client.Client, f engine.ListFilter) int {
	t.Helper()
	n, err := c.CountWorkflows(ctx, f)
	testsrv.Must(t, err)
	return n
}

// A run that goes running → blocked → running → completed has exactly one
// index entry at every step, on the subject of its state.
func TestIndexTransitions(t *testing.T) {
	ctx := testsrv.Context(t, 60*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	s := c.Store()
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "idx-1", TaskQueue: "idxq"}, "IdxWait", nil)
	testsrv.Must(t, err)
	waitIndexed(t, ctx, s, "idx-1", "running", "ok")

	// A worker that does not know the type blocks the run.
	stop := testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"idxq"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(StartEcho))
	})
	waitIndexed(t, ctx, s, "idx-1", "running", "blocked")
	if n := countRuns(t, ctx, c, engine.ListFilter{Status: engine.StatusBlocked}); n != 1 {
		t.Fatalf("blocked runs: %d", n)
	}
	if n := countRuns(t, ctx, c, engine.ListFilter{Status: engine.StatusRunning}); n != 1 {
		t.Fatalf("running runs (blocked included): %d", n)
	}
	stop()

	testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"idxq"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdxWait))
	})
	waitIndexed(t, ctx, s, "idx-1", "running", "ok")
	testsrv.Must(t, c.SignalWorkflow(ctx, "idx-1", "", "go", "done"))
	var out string
	testsrv.Must(t, run.Get(ctx, &out))
	// The index entry is written before the runs entry: a client that saw
	// the result finds the run closed in the index at once.
	if got := indexSubjects(t, ctx, s, "idx-1"); len(got) != 1 || !strings.HasPrefix(got[0], "df.idx.completed.ok.IdxWait.idxq.") {
		t.Fatalf("index entries after completion: %v", got)
	}
	page, err := c.PageWorkflows(ctx, engine.ListFilter{Status: engine.StatusCompleted})
	testsrv.Must(t, err)
	if len(page.Runs) != 1 || page.Runs[0].RunID != run.RunID() || page.Runs[0].Result != nil || page.Total != 1 {
		t.Fatalf("completed page: %+v", page)
	}
}

// A lost index write (the runs entry changed, the index did not) is
// repaired when the change is retried, though the retry finds the runs
// entry changed already; a writer that stops between the index and the
// runs entry leaves the index converging too.
func TestIndexRepairsLostWrite(t *testing.T) {
	ctx := testsrv.Context(t, 60*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	s := c.Store()
	testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"idxq"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdxWait))
	})
	for _, step := range []string{"lose", "after", "pre"} {
		t.Run(step, func(t *testing.T) {
			id := "idx-" + step
			run, err := c.StartJSON(ctx, client.StartOptions{ID: id, TaskQueue: "idxq"}, "IdxWait", nil)
			testsrv.Must(t, err)
			waitIndexed(t, ctx, s, id, "running", "ok")
			key, _ := history.EncodeID(id)
			// The close of the run is the write that fails once.
			var fired atomic.Bool
			defer engine.SetTestHookIndex(func(k, st string) bool {
				return k == key && st == step && fired.CompareAndSwap(false, true)
			})()
			testsrv.Must(t, c.SignalWorkflow(ctx, id, "", "go", "x"))
			testsrv.Must(t, run.Get(ctx, nil))
			waitIndexed(t, ctx, s, id, "completed", "ok")
			// The "after" hook runs just after the bucket write, which a
			// waiter may see first: wait for it rather than look once.
			testsrv.WaitFor(t, ctx, "the hook to fire (else the test proves nothing)", fired.Load)
		})
	}
}

// A start refused because the ID is taken publishes no index entry: a
// writer that stopped between that entry and its refused bucket write (or
// was slow to clean up after it) left the workflow listed twice. (A worker
// completing a start races its client this way: `dfctl list` right after
// `dfctl start` showed the run twice.)
func TestIndexRefusedCreateLeavesNoEntry(t *testing.T) {
	ctx := testsrv.Context(t, 30*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	s := c.Store()
	first, err := c.StartJSON(ctx, client.StartOptions{ID: "idx-dup", TaskQueue: "idxq"}, "IdxWait", nil)
	testsrv.Must(t, err)
	waitIndexed(t, ctx, s, "idx-dup", "running", "ok")
	key, _ := history.EncodeID("idx-dup")
	// The second start stops right after its index write, if it makes one.
	defer engine.SetTestHookIndex(func(k, st string) bool { return k == key && st == "pre" })()
	if _, err := c.StartJSON(ctx, client.StartOptions{ID: "idx-dup", TaskQueue: "idxq"}, "IdxWait", nil); err == nil {
		t.Fatal("a second start of a running workflow ID was accepted")
	}
	page, err := c.PageWorkflows(ctx, engine.ListFilter{IDPrefix: "idx-dup"})
	testsrv.Must(t, err)
	if len(page.Runs) != 1 || page.Runs[0].RunID != first.RunID() {
		t.Fatalf("list after a refused start: %+v, want the first run alone", page.Runs)
	}
}

// Counts and pages agree with what was indexed: every run on exactly one
// page, newest first, whatever the filter.
func TestIndexCountsAndPages(t *testing.T) {
	ctx := testsrv.Context(t, 120*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	s := c.Store()
	const n = 2000
	fillIndex(t, s, n)
	// Move some entries to another status, as runs do: the old entries
	// are purged, leaving gaps in the stream.
	for i := 0; i < n; i += 97 {
		ri := engine.RunInfo{WorkflowID: fmt.Sprintf("order-%06d", i), RunID: "r", Type: "Workflow9", TaskQueue: "default",
			Status: engine.StatusCanceled, StartTime: time.Now().UTC()}
		testsrv.Must(t, s.ReindexForTest(ctx, ri))
	}
	moved := (n + 96) / 97
	groups, total, err := c.CountWorkflowsBy(ctx, engine.ListFilter{})
	testsrv.Must(t, err)
	if total != n {
		t.Fatalf("count total %d, want %d (%v)", total, n, groups)
	}
	byStatus := map[engine.Status]int{}
	for _, g := range groups {
		byStatus[g.Status] += g.Count
	}
	if byStatus[engine.StatusCanceled] != moved {
		t.Fatalf("canceled %d, want %d: %v", byStatus[engine.StatusCanceled], moved, groups)
	}
	for _, tc := range []struct {
		name  string
		f     engine.ListFilter
		limit int
	}{
		{"all", engine.ListFilter{}, 37},
		{"failed", engine.ListFilter{Status: engine.StatusFailed}, 20},
		{"blocked", engine.ListFilter{Status: engine.StatusBlocked}, 3},
		{"running", engine.ListFilter{Status: engine.StatusRunning, TaskQueue: "billing"}, 50},
		{"canceled", engine.ListFilter{Status: engine.StatusCanceled}, 5},
		{"type", engine.ListFilter{Type: "Workflow3"}, 100},
		{"prefix", engine.ListFilter{IDPrefix: "order-0012"}, 7},
		{"started", engine.ListFilter{StartedBefore: time.Now().Add(-time.Duration(n/2) * time.Second), Status: engine.StatusCompleted}, 25},
		{"started after", engine.ListFilter{StartedAfter: time.Now().Add(-time.Duration(n/4) * time.Second)}, 30},
		{"closed", engine.ListFilter{ClosedBefore: time.Now().Add(-time.Duration(n/2) * time.Second)}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var scanned []string
			testsrv.Must(t, c.ScanWorkflows(ctx, tc.f, func(ri *engine.RunInfo) error {
				scanned = append(scanned, ri.WorkflowID)
				return nil
			}))
			count := countRuns(t, ctx, c, tc.f)
			if count != len(scanned) || count == 0 {
				t.Fatalf("count %d, scan %d", count, len(scanned))
			}
			f := tc.f
			f.Limit = tc.limit
			var paged []string
			for pages := 0; ; pages++ {
				p, err := c.PageWorkflows(ctx, f)
				testsrv.Must(t, err)
				if p.Total != count {
					t.Fatalf("page total %d, count %d", p.Total, count)
				}
				if len(p.Runs) > tc.limit || p.Next != "" && len(p.Runs) != tc.limit {
					t.Fatalf("page of %d runs, next %q", len(p.Runs), p.Next)
				}
				for _, ri := range p.Runs {
					paged = append(paged, ri.WorkflowID)
				}
				if p.Next == "" {
					break
				}
				f.After = p.Next
			}
			// Newest first is the scan (oldest first) reversed.
			slices.Reverse(paged)
			if !slices.Equal(paged, scanned) {
				t.Fatalf("pages (%d runs) differ from the scan (%d)", len(paged), len(scanned))
			}
		})
	}
	if _, err := c.PageWorkflows(ctx, engine.ListFilter{After: "nonsense"}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// An installation made before the index existed gets it on Open, filled
// from the runs bucket once.
func TestIndexBackfill(t *testing.T) {
	ctx := testsrv.Context(t, 60*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	s := c.Store()
	for i := range 25 {
		_, err := c.StartJSON(ctx, client.StartOptions{ID: fmt.Sprintf("old-%d", i), TaskQueue: "nobody"}, "Old", nil)
		testsrv.Must(t, err)
	}
	// As the previous version left it: no index stream.
	testsrv.Must(t, s.JS.DeleteStream(ctx, s.IndexStream()))
	s2, err := engine.Open(ctx, s.NC, engine.Config{})
	testsrv.Must(t, err)
	if n, err := s2.CountRuns(ctx, engine.ListFilter{Status: engine.StatusRunning, Type: "Old"}); err != nil || n != 25 {
		t.Fatalf("after backfill: %d runs, %v", n, err)
	}
	// Opening again does not fill it twice.
	s3, err := engine.Open(ctx, s.NC, engine.Config{})
	testsrv.Must(t, err)
	st, err := s3.JS.Stream(ctx, s3.IndexStream())
	testsrv.Must(t, err)
	if got := st.CachedInfo().State.Msgs; got != 25+1+1 { // entries, one type, the backfill mark
		t.Fatalf("index holds %d messages", got)
	}
	// A read-only store of an old installation says what to do.
	testsrv.Must(t, s.JS.DeleteStream(ctx, s.IndexStream()))
	ro, err := engine.OpenExisting(ctx, s.NC, engine.Config{})
	testsrv.Must(t, err)
	if _, err := ro.CountRuns(ctx, engine.ListFilter{}); err == nil || !strings.Contains(err.Error(), "no runs index stream") {
		t.Fatalf("no index: %v", err)
	}
}

// Delete removes a closed workflow's history, runs entry and index entry,
// refuses a running one, and the ID can be started again.
func TestDeleteRun(t *testing.T) {
	ctx := testsrv.Context(t, 60*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"idxq"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdxWait))
	})
	run, err := c.StartJSON(ctx, client.StartOptions{ID: "del-1", TaskQueue: "idxq"}, "IdxWait", nil)
	testsrv.Must(t, err)
	if _, err := c.DeleteWorkflow(ctx, "del-1"); !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "only closed runs") {
		t.Fatalf("delete of a running run: %v", err)
	}
	testsrv.Must(t, c.SignalWorkflow(ctx, "del-1", "", "go", "x"))
	testsrv.Must(t, run.Get(ctx, nil))
	ri, err := c.DeleteWorkflow(ctx, "del-1")
	testsrv.Must(t, err)
	if ri.RunID != run.RunID() {
		t.Fatalf("deleted %+v", ri)
	}
	if _, err := c.Describe(ctx, "del-1", ""); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Fatalf("describe after delete: %v", err)
	}
	if _, err := c.History(ctx, "del-1", run.RunID()); err == nil {
		t.Fatal("history kept after delete")
	}
	if got := indexSubjects(t, ctx, c.Store(), "del-1"); len(got) != 0 {
		t.Fatalf("index entries after delete: %v", got)
	}
	if _, err := c.DeleteWorkflow(ctx, "del-1"); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	run2, err := c.StartJSON(ctx, client.StartOptions{ID: "del-1", TaskQueue: "idxq"}, "IdxWait", nil)
	testsrv.Must(t, err)
	waitIndexed(t, ctx, c.Store(), "del-1", "running", "ok")
	if run2.RunID() == run.RunID() {
		t.Fatal("same run ID")
	}
}

// The retention sweep deletes closed runs once they are older than the
// retention, and keeps running ones.
func TestRetention(t *testing.T) {
	ctx := testsrv.Context(t, 60*time.Second)
	c := testsrv.Client(t, testsrv.Start(t))
	testsrv.RunWorker(t, c, worker.Options{TaskQueues: []string{"idxq"}}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(IdxWait))
	})
	for i := range 3 {
		id := fmt.Sprintf("ret-%d", i)
		run, err := c.StartJSON(ctx, client.StartOptions{ID: id, TaskQueue: "idxq"}, "IdxWait", nil)
		testsrv.Must(t, err)
		testsrv.Must(t, c.SignalWorkflow(ctx, id, "", "go", "x"))
		testsrv.Must(t, run.Get(ctx, nil))
	}
	_, err := c.StartJSON(ctx, client.StartOptions{ID: "ret-open", TaskQueue: "idxq"}, "IdxWait", nil)
	testsrv.Must(t, err)
	// Nothing is old enough for an hour's retention.
	if n, err := c.Store().SweepClosedRuns(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep with 1h retention: %d, %v", n, err)
	}
	sweepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Store().RunRetention(sweepCtx, 200*time.Millisecond, 50*time.Millisecond, testsrv.Logger(t))
	}()
	t.Cleanup(func() { stop(); <-done })
	testsrv.WaitFor(t, ctx, "the closed runs to be swept", func() bool {
		return countRuns(t, ctx, c, engine.ListFilter{}) == 1
	})
	if n := countRuns(t, ctx, c, engine.ListFilter{Status: engine.StatusRunning}); n != 1 {
		t.Fatalf("running runs after the sweep: %d", n)
	}
	if _, err := c.Describe(ctx, "ret-0", ""); !errors.Is(err, engine.ErrWorkflowNotFound) {
		t.Fatalf("describe of a swept run: %v", err)
	}
}
