package tui

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
)

// The benchmarks measure what a user waits for against an embedded server:
//
//	go test ./tui -run '^$' -bench . -benchtime 3x
//
// They report figures; timing is never asserted.

// bigRun writes a run of n events straight to the log, as decisions of two
// events each (an activity's completion and the next one's scheduling).
func bigRun(b *testing.B, c *client.Client, id string, n int) {
	b.Helper()
	ctx := testsrv.Context(b, 10*time.Minute)
	ri, err := c.Store().StartWorkflow(ctx, engine.StartRequest{WorkflowID: id, Type: "BigWorkflow", Input: json.RawMessage(`[1]`)})
	testsrv.Must(b, err)
	log := c.Store().Log
	subj, _ := log.Subject(id, ri.RunID)
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(b, err)
	last := recs[0].StreamSeq
	t := ri.StartTime
	seq := int64(1)
	for seq < int64(n) {
		t = t.Add(time.Millisecond)
		var evs []history.Event
		if seq > 1 {
			seq++
			evs = append(evs, history.Event{Seq: seq, Time: t, Type: history.ActivityCompleted, Name: "Step", Cause: seq - 1, Attempt: 1, Result: json.RawMessage(fmt.Sprintf(`{"step":%d}`, seq))})
		}
		if seq < int64(n) {
			seq++
			evs = append(evs, history.Event{Seq: seq, Time: t, Type: history.ActivityScheduled, Name: "Step", Cause: seq - 1, Input: json.RawMessage(fmt.Sprintf(`[%d]`, seq))})
		}
		last, err = log.Append(ctx, subj, history.Tail{Seq: last}, &history.Record{Kind: history.KindDecision, Events: evs})
		testsrv.Must(b, err)
	}
}

func BenchmarkOpenRun100kEvents(b *testing.B) {
	const n = 100_000
	srv := testsrv.Start(b)
	c := testsrv.Client(b, srv)
	t0 := time.Now()
	bigRun(b, c, "big-1", n)
	b.Logf("wrote %d events in %s", n, time.Since(t0).Round(time.Millisecond))

	var open, full, view time.Duration
	b.ResetTimer()
	for range b.N {
		o := testOptions(StoreSource{Store: c.Store()}, nil)
		o.WorkflowID = "big-1"
		start := time.Now()
		hs := newHarness(b, o, 120, 40)
		hs.until("the first page", func() bool { return hs.m.run.info != nil && len(hs.m.run.log.events) > 0 })
		hs.m.screen()
		open += time.Since(start)
		hs.until("the whole log", func() bool { return !hs.m.run.loading })
		full += time.Since(start)
		if got := len(hs.m.run.log.events); got != n {
			b.Fatalf("loaded %d events, want %d", got, n)
		}
		// Scrolling: a key and a redraw, anywhere in the log.
		keys := []string{"ctrl+d", "j", "G", "k", "ctrl+u", "g"}
		const presses = 600
		vs := time.Now()
		for i := range presses {
			hs.keys(keys[i%len(keys)])
			hs.m.screen()
		}
		view += time.Since(vs) / presses
		hs.m.closeAll()
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "ms/first-screen")
	b.ReportMetric(float64(full.Milliseconds())/float64(b.N), "ms/all-loaded")
	b.ReportMetric(float64(view.Microseconds())/float64(b.N), "µs/key+redraw")
}

func BenchmarkList10kRuns(b *testing.B) {
	const n = 10_000
	srv := testsrv.Start(b)
	c := testsrv.Client(b, srv)
	ctx := testsrv.Context(b, 10*time.Minute)
	t0 := time.Now()
	for i := range n {
		_, err := c.Store().StartWorkflow(ctx, engine.StartRequest{WorkflowID: fmt.Sprintf("run-%05d", i), Type: "ListWorkflow"})
		testsrv.Must(b, err)
	}
	b.Logf("started %d runs in %s", n, time.Since(t0).Round(time.Millisecond))

	var open, filter, view time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		hs := newHarness(b, testOptions(StoreSource{Store: c.Store()}, nil), 120, 40)
		hs.listed()
		hs.m.screen()
		open += time.Since(start)
		if _, total := hs.m.list.Count(); total != n {
			b.Fatalf("listed %d runs, want %d", total, n)
		}
		fs := time.Now()
		hs.keys("/", "9", "9", "enter")
		hs.m.screen()
		filter += time.Since(fs) / 4
		hs.keys("esc")
		const presses = 600
		vs := time.Now()
		for i := range presses {
			hs.keys([]string{"ctrl+d", "j", "G", "k", "g"}[i%5])
			hs.m.screen()
		}
		view += time.Since(vs) / presses
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "ms/first-screen")
	b.ReportMetric(float64(filter.Microseconds())/float64(b.N), "µs/filter-key")
	b.ReportMetric(float64(view.Microseconds())/float64(b.N), "µs/key+redraw")
}
